import { Command, CommanderError } from 'commander';
import { registerCodecCommand } from './commands/codec';
import { registerContractCommands } from './commands/contract';
import { registerDatasetCommands } from './commands/datasets';
import { registerModelCommands } from './commands/models';
import { registerMonitoringCommands } from './commands/monitoring';
import { registerPromotionCommands } from './commands/promotion';
import { registerReportCommand } from './commands/report';
import { registerRetentionCommands } from './commands/retention';
import { registerRetrainingCommands } from './commands/retraining';
import { registerScheduleCommands } from './commands/schedules';
import { registerScoringCommands } from './commands/scoring';
import { registerServeCommand } from './commands/serve';
import { registerSqlCommand } from './commands/sql';
import { CliContext } from './context';
import { describeError } from './errors';
import { EXIT } from './exit-codes';

/**
 * `mlops`: the client-script entry point. Commands start and steer workflows on the Temporal
 * server named by TEMPORAL_ADDRESS; read commands look at the artifact store (MLOPS_DATA_DIR).
 */
export function buildProgram(ctx: () => CliContext): Command {
  const program = new Command('mlops')
    .description('temporal-mlops: the MLOps loop as durable Temporal workflows')
    .option('--wait-for-worker', 'when no worker polls the task queue, wait for one instead of failing')
    .showHelpAfterError()
    .exitOverride()
    .hook('preAction', (_program, action) => {
      ctx().waitForWorker = Boolean(action.optsWithGlobals().waitForWorker);
    });
  registerDatasetCommands(program, ctx);
  registerModelCommands(program, ctx);
  registerPromotionCommands(program, ctx);
  registerContractCommands(program, ctx);
  registerScoringCommands(program, ctx);
  registerMonitoringCommands(program, ctx);
  registerRetrainingCommands(program, ctx);
  registerReportCommand(program, ctx);
  registerRetentionCommands(program, ctx);
  registerScheduleCommands(program, ctx);
  registerServeCommand(program, ctx);
  registerSqlCommand(program, ctx);
  registerCodecCommand(program, ctx);
  program
    .command('worker')
    .description('Run a worker: polls MLOPS_TASK_QUEUE and executes workflows and activities')
    .action(async () => {
      // Loaded on demand: the worker SDK's native bridge costs every other command ~0.3 s. As
      // require(), not import(): bin/mlops.cjs registers tsx for CommonJS only, and a dynamic
      // import() of a .ts file goes through Node's ESM loader, which cannot resolve it.
      const { runWorker } = require('../worker') as typeof import('../worker');
      await runWorker(ctx().config);
    });
  return program;
}

async function main(argv: string[]): Promise<number> {
  let context: CliContext | undefined;
  const ctx = () => (context ??= new CliContext());
  try {
    await buildProgram(ctx).parseAsync(argv);
    return context?.exitCode ?? EXIT.ok;
  } catch (err) {
    // Commander has printed the usage problem (or the help that was asked for).
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    process.stderr.write(`mlops: ${describeError(err)}\n`);
    return EXIT.error;
  } finally {
    await context?.close();
  }
}

/** A reader that went away (`mlops sql … | head`) is not a failure: stop quietly, as other CLIs do. */
function stopQuietlyWhenTheReaderLeaves(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

stopQuietlyWhenTheReaderLeaves(process.stdout);
stopQuietlyWhenTheReaderLeaves(process.stderr);
// Exit as soon as the command is done: a call still in flight (the long poll for a workflow result
// that a missing worker will never produce) would otherwise hold the process for its full timeout.
// Writes to pipes, files and terminals are synchronous here, so nothing printed is lost.
void main(process.argv).then((code) => process.exit(code));
