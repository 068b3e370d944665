import type { Command } from 'commander';
import { type ModelScheduleKind, scheduleModelWorkflow, scheduleRetentionSweep } from '../../client/schedules';
import type { CliContext } from '../context';
import { printRows } from '../output';

export function registerScheduleCommands(program: Command, ctx: () => CliContext): void {
  const schedule = program.command('schedule').description('Temporal Schedules for recurring work (visible in the Web UI under Schedules)');
  schedule
    .command('retention')
    .description('Run the retention sweep on an interval')
    .requiredOption('--every <interval>', 'e.g. 12h, 1d, 7d')
    .action(async (opts) => {
      const c = ctx();
      const id = await scheduleRetentionSweep(await c.temporal(), c.config, opts.every);
      console.log(`schedule ${id}: retention sweep every ${opts.every}`);
    });
  schedule
    .command('list')
    .description('The schedules on the server: what they start, how often, when next')
    .option('--json', 'print as JSON')
    .action(async (opts) => {
      const client = await ctx().temporal();
      const rows: Array<Record<string, unknown>> = [];
      for await (const s of client.schedule.list()) {
        const action = s.action as { workflowType?: string } | undefined;
        rows.push({
          schedule: s.scheduleId,
          starts: action?.workflowType ?? '',
          every: (s.spec?.intervals ?? []).map((i) => `${Number(i.every) / 3_600_000}h`).join(', '),
          next: s.info.nextActionTimes[0]?.toISOString() ?? '',
          paused: s.state.paused,
        });
      }
      printRows(rows, opts.json);
    });
  const describe: Record<ModelScheduleKind, string> = {
    monitor: 'Monitor the production model on an interval (drift, live metrics; a crossing starts retraining)',
    retrain: 'Ask for retraining on an interval (joins a running loop instead of starting a second one)',
  };
  for (const kind of ['monitor', 'retrain'] as const) {
    schedule
      .command(kind)
      .description(describe[kind])
      .argument('<model>', 'model name')
      .requiredOption('--every <interval>', 'e.g. 1d, 7d')
      .option('--dataset <name>', kind === 'monitor' ? "dataset to check (default: production's training dataset)" : "dataset to train on (default: production's)")
      .action(async (model: string, opts) => {
        const c = ctx();
        const id = await scheduleModelWorkflow(await c.temporal(), c.config, {
          kind,
          model,
          every: opts.every,
          ...(opts.dataset ? (kind === 'monitor' ? { monitor: { dataset: opts.dataset } } : { retrain: { dataset: opts.dataset } }) : {}),
        });
        console.log(`schedule ${id}: ${kind} ${model} every ${opts.every}`);
      });
  }
}
