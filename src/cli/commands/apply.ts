import * as path from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { type ApplyResult, applySpec, deleteAppliedSpec, listAppliedSpecs, readAppliedSpec } from '../../client/apply';
import { userError } from '../../errors';
import { readSpecFile } from '../../spec/load';
import type { CliContext } from '../context';
import { printJson, printRows } from '../output';

const SYMBOL = { create: '+', update: '~', delete: '-', unchanged: '=' } as const;

/** Like terraform's plan: one line per resource, then the counts. */
export function printChanges(result: ApplyResult): void {
  for (const c of result.changes) console.log(`${SYMBOL[c.action]} ${c.resource}: ${c.what}${c.action === 'unchanged' ? ' (unchanged)' : ''}`);
  const count = (a: string) => result.changes.filter((c) => c.action === a).length;
  const summary = `${count('create')} to create, ${count('update')} to update, ${count('delete')} to delete`;
  const note = result.dryRun ? 'dry run: nothing changed' : result.specChanged ? 'applied' : 'already applied: nothing changed';
  console.log(`spec ${result.model}: ${summary} (${note})`);
}

export function registerApplyCommands(program: Command, ctx: () => CliContext): void {
  program
    .command('apply')
    .description("Reconcile the server with a model's spec file (schedules; idempotent): prints what it changed")
    .requiredOption('-f, --file <spec>', 'the spec file (YAML or JSON; schema: docs/model-spec.schema.json)')
    .option('--dry-run', 'show what would change, change nothing')
    .option('--json', 'print the result as JSON')
    .action(async (opts) => {
      const c = ctx();
      const file = path.resolve(opts.file);
      const { spec, text } = readSpecFile(file);
      const result = await applySpec(await c.temporal(), c.config, c.store, { spec, source: file, text, baseDir: path.dirname(file) }, { dryRun: Boolean(opts.dryRun) });
      if (opts.json) printJson(result);
      else printChanges(result);
    });
  program
    .command('get')
    .description('The applied spec of a model (or, without one, the models that have one)')
    .argument('[model]', 'model name')
    .option('-o, --output <format>', 'yaml or json', 'yaml')
    .action(async (model: string | undefined, opts) => {
      const c = ctx();
      if (opts.output !== 'yaml' && opts.output !== 'json') throw userError('InvalidInput', `--output must be yaml or json, not "${opts.output}"`);
      if (!model) {
        const rows = [];
        for (const name of await listAppliedSpecs(c.store)) {
          const applied = await readAppliedSpec(c.store, name);
          rows.push({ model: name, appliedAt: applied?.appliedAt ?? '', source: applied?.source ?? '', schedules: applied?.schedules.join(', ') ?? '' });
        }
        printRows(rows, opts.output === 'json');
        return;
      }
      const applied = await readAppliedSpec(c.store, model);
      if (!applied) {
        throw userError('InvalidInput', `No spec is applied for model "${model}"${await knownSpecs(c)}; apply one with \`mlops apply -f <file>\``);
      }
      if (opts.output === 'json') return printJson(applied.spec);
      process.stdout.write(`# applied ${applied.appliedAt} from ${applied.source} (sha256 ${applied.sha256.slice(0, 12)}…)\n${stringify(applied.spec)}`);
    });
  program
    .command('delete')
    .description("Remove what a model's applied spec created (its schedules), then the spec; models, data and runs stay")
    .argument('<model>', 'model name')
    .option('--dry-run', 'show what would be removed, remove nothing')
    .action(async (model: string, opts) => {
      const c = ctx();
      const result = await deleteAppliedSpec(await c.temporal(), c.store, model, { dryRun: Boolean(opts.dryRun) });
      if (!result) throw userError('InvalidInput', `No spec is applied for model "${model}"${await knownSpecs(c)}`);
      printChanges(result);
    });
}

async function knownSpecs(c: CliContext): Promise<string> {
  const names = await listAppliedSpecs(c.store);
  return names.length ? ` (applied: ${names.join(', ')})` : ' (none is applied)';
}
