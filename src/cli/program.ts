import { Command } from 'commander';
import { registerApplyCommands } from './commands/apply';
import { registerCanaryCommands } from './commands/canary';
import { registerCodecCommand } from './commands/codec';
import { registerContractCommands } from './commands/contract';
import { registerDatasetCommands } from './commands/datasets';
import { registerDeployCommands } from './commands/deploy';
import { registerLandedCommands } from './commands/landed';
import { registerNotificationCommands } from './commands/notifications';
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
import type { CliContext } from './context';

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
  registerCanaryCommands(program, ctx);
  registerContractCommands(program, ctx);
  registerScoringCommands(program, ctx);
  registerMonitoringCommands(program, ctx);
  registerRetrainingCommands(program, ctx);
  registerReportCommand(program, ctx);
  registerRetentionCommands(program, ctx);
  registerScheduleCommands(program, ctx);
  registerApplyCommands(program, ctx);
  registerLandedCommands(program, ctx);
  registerNotificationCommands(program, ctx);
  registerServeCommand(program, ctx);
  registerSqlCommand(program, ctx);
  registerCodecCommand(program, ctx);
  registerDeployCommands(program, ctx);
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
