import type { Command } from 'commander';
import { listModels, registryState, startTraining } from '../../client/train';
import { parseDatasetRef } from '../../datasets/ref';
import { userError } from '../../errors';
import { commandTrainerSchema, TRAINER_KINDS, type TrainRequestInput, trainRequestSchema } from '../../training/request';
import type { CliContext } from '../context';
import { schemaOption } from '../schema-defaults';
import { commaList } from '../options';
import { formatNumber, printJson, printRows, printTable } from '../output';

function parseParams(text: string | undefined): Record<string, number> {
  if (!text) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw userError('InvalidInput', `--params must be a JSON object such as '{"C": 0.5}': ${(err as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw userError('InvalidInput', '--params must be a JSON object');
  return parsed as Record<string, number>;
}

const QUERY_TIMEOUT_MS = 5000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function parseCommand(text: string | undefined): string[] {
  if (!text) throw userError('InvalidInput', '--trainer command needs --command \'["executable", "arg", …]\'');
  try {
    const argv = JSON.parse(text) as unknown;
    if (Array.isArray(argv) && argv.every((a) => typeof a === 'string')) return argv;
  } catch {
    // not JSON: fall through to whitespace splitting
  }
  return text.split(/\s+/).filter(Boolean);
}

/** The headline metric of a version, for tables. */
function headline(metrics: Record<string, number>): string {
  const key = ['rocAuc', 'accuracy', 'r2'].find((k) => k in metrics);
  return key ? `${key} ${formatNumber(metrics[key]!)}` : '';
}

export function registerModelCommands(program: Command, ctx: () => CliContext): void {
  program
    .command('train')
    .description('Train a model version on a dataset version and register it as candidate')
    .argument('<model>', 'model name')
    .requiredOption('--dataset <ref>', 'dataset or dataset@version (default version: latest)')
    .addOption(schemaOption('--trainer <kind>', `trainer (${TRAINER_KINDS.join('|')}); command runs an external trainer`, trainRequestSchema, 'trainer.kind'))
    .option('--params <json>', 'trainer parameters as JSON, e.g. \'{"nEstimators": 200}\'')
    .option('--command <argv>', 'with --trainer command: the command as a JSON array, e.g. \'["python3", "train.py"]\'')
    .addOption(schemaOption('--timeout-seconds <n>', 'with --trainer command: stop the command after this long', commandTrainerSchema, 'timeoutSeconds'))
    .addOption(schemaOption('--seed <n>', 'split and training seed', trainRequestSchema, 'seed'))
    .option('--label <column>', "label column (default: the contract's)")
    .option('--features <columns>', "comma-separated feature columns (default: the contract's)")
    .option('--run <id>', 'run id for the workflow id train:<model>:<run> (default: a hash of the request)')
    .option('--no-wait', 'start the workflow and return its id without waiting')
    .option('--json', 'print the result as JSON')
    .action(async (model: string, opts) => {
      const { dataset, version } = parseDatasetRef(opts.dataset);
      if (!TRAINER_KINDS.includes(opts.trainer)) {
        throw userError('InvalidInput', `--trainer must be one of ${TRAINER_KINDS.join(', ')}`);
      }
      const request: TrainRequestInput = {
        model,
        dataset,
        datasetVersion: version,
        trainer:
          opts.trainer === 'command'
            ? { kind: 'command', command: parseCommand(opts.command), timeoutSeconds: Number(opts.timeoutSeconds), params: parseParams(opts.params) }
            : { kind: opts.trainer, params: parseParams(opts.params) },
        seed: Number(opts.seed),
        ...(opts.label ? { label: opts.label } : {}),
        ...(opts.features ? { features: commaList(opts.features) } : {}),
      };
      const c = ctx();
      const handle = await startTraining(await c.temporal(), c.config, request, opts.run);
      if (!opts.wait) return opts.json ? printJson({ workflowId: handle.workflowId }) : console.log(`started ${handle.workflowId}`);
      if (!opts.json) console.error(`training (workflow ${handle.workflowId}) …`);
      const { summary, reused, rows } = await c.answer(handle.result());
      if (opts.json) return printJson({ ...summary, reused, ...(rows ? { rows } : {}) });
      console.log(`${reused ? 'already trained' : 'trained'} ${summary.model}@${summary.version} (${summary.trainer.kind}) — registered as candidate`);
      if (rows) console.log(`  rows:       ${rows.used} of ${rows.dataset} used${rows.dropped.map((d) => `; ${d.rows} left out: ${d.reason}`).join('')}`);
      console.log(
        `  test:       ${Object.entries(summary.metrics.test)
          .map(([k, v]) => `${k} ${formatNumber(v)}`)
          .join(', ')}`,
      );
      console.log(`  model card: ${summary.cardUri}`);
    });

  const models = program.command('models').description('Registered models and their versions');
  models
    .command('list')
    .description('Every model with a registry, its production and candidate versions')
    .option('--json', 'print as JSON')
    .action(async (opts) => {
      const client = await ctx().temporal();
      // One registry that does not answer (no worker polling its queue) must not hide the others.
      const rows = await Promise.all(
        (await listModels(client)).map(async (name) => {
          const state = await withTimeout(registryState(client, name), QUERY_TIMEOUT_MS).catch(() => undefined);
          return state
            ? { model: name, versions: state.versions.length, production: state.aliases.production ?? '-', candidate: state.aliases.candidate ?? '-' }
            : { model: name, versions: '?', production: '?', candidate: '(registry did not answer; is a worker running?)' };
        }),
      );
      printRows(rows, opts.json);
    });

  models
    .command('show')
    .description("A model's versions with their metrics, aliases and recent decisions")
    .argument('<model>', 'model name')
    .option('--json', 'print as JSON')
    .action(async (model: string, opts) => {
      const c = ctx();
      const state = await c.answer(registryState(await c.temporal(), model));
      if (opts.json) return printJson(state);
      const aliasOf = (v: string) =>
        Object.entries(state.aliases)
          .filter(([, id]) => id === v)
          .map(([a]) => a)
          .join(',');
      printTable(
        state.versions.map((v) => ({
          version: v.version,
          alias: aliasOf(v.version),
          trainer: v.trainer.kind,
          dataset: `${v.dataset.name}@${v.dataset.version.slice(0, 8)}`,
          test: headline(v.metrics.test),
          status: v.status,
          registered: v.registeredAt,
        })),
      );
      if (state.decisions.length) {
        console.log('\nrecent decisions');
        printTable(state.decisions.slice(-10).map((d) => ({ at: d.at, action: d.action, alias: d.alias ?? '', version: d.version, by: d.by, reason: d.reason })));
      }
    });
}
