import type { Command } from 'commander';
import { answerLandedChain, type LandedChain, listLandedChains } from '../../client/landed';
import type { CliContext } from '../context';
import { whoAmI } from '../options';
import { printJson, printTable } from '../output';

function describe(chain: LandedChain): string {
  const l = chain.landed;
  if (!l) return chain.status.toLowerCase();
  if (l.phase === 'waiting-for-a-person' && l.failure) return `waiting for a person: the ${l.failure.step} step failed: ${l.failure.message}`;
  return l.phase;
}

/** `landed list|retry|dismiss`: the chains new files of a landing folder start, and the answers to a failed one. */
export function registerLandedCommands(program: Command, ctx: () => CliContext): void {
  const landed = program.command('landed').description('Files taken from landing folders (mlops apply) and their chains: list, retry or dismiss a failed one');
  landed
    .command('list')
    .description('the chains of new files, newest first, with where each got to')
    .argument('[model]', 'only this model')
    .option('--json', 'print as JSON')
    .action(async (model: string | undefined, opts) => {
      const c = ctx();
      const chains = await c.answer(listLandedChains(await c.temporal(), model ? { model } : {}));
      if (opts.json) return printJson(chains);
      if (!chains.length) return console.log('no landed files yet');
      printTable(chains.map((ch) => ({ workflow: ch.workflowId, file: ch.landed?.file ?? '', version: ch.landed?.version ?? '', state: describe(ch) })));
    });
  const answers = {
    retry: 'run the failed step of a chain again (after fixing the data, the contract or the system)',
    dismiss: 'give up on the file: the chain ends dismissed, its failure on record',
  } as const;
  for (const [answer, description] of Object.entries(answers) as Array<[keyof typeof answers, string]>) {
    landed
      .command(answer)
      .description(description)
      .argument('<workflow-id>', 'the chain (landed:<model>:<dataset>:<hash>, see `mlops landed list` or `mlops pending`)')
      .requiredOption('--reason <text>', 'why (recorded in the chain)')
      .option('--by <name>', 'who (default: $USER)')
      .option('--json', 'print the chain status as JSON')
      .action(async (workflowId: string, opts) => {
        const c = ctx();
        const status = await c.answer(answerLandedChain(await c.temporal(), workflowId, answer, { by: opts.by ?? whoAmI(), reason: opts.reason }));
        if (opts.json) return printJson(status);
        console.log(`${answer} sent to ${workflowId}: ${status.phase}`);
      });
  }
}
