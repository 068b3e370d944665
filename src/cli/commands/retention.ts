import type { Command } from 'commander';
import { retentionSweepRequestSchema } from '../../datasets/request';
import { manualRetentionSweepWorkflowId, retentionSearchAttributes } from '../../api/datasets';
import { parseInput } from '../../validation';
import type { retentionSweep } from '../../workflows';
import type { CliContext } from '../context';
import { numberOption } from '../options';
import { schemaOption } from '../schema-defaults';
import { printJson, printTable } from '../output';

export function registerRetentionCommands(program: Command, ctx: () => CliContext): void {
  program
    .command('retention')
    .description('Retention of raw data and prediction logs')
    .command('sweep')
    .description('Delete raw copies, prediction logs and online log parts whose retention has expired, now')
    .option('--as-of <iso-time>', 'treat this instant as now (e.g. to preview a future sweep on a copy of the store)')
    .addOption(
      schemaOption('--online-log-days <n>', 'keep the parts of online prediction logs (mlops serve) this many days', retentionSweepRequestSchema, 'onlineLogRetentionDays'),
    )
    .option('--json', 'print as JSON')
    .action(async (opts) => {
      const request = parseInput(
        retentionSweepRequestSchema,
        {
          ...(opts.asOf ? { asOf: opts.asOf } : {}),
          ...(opts.onlineLogDays !== undefined ? { onlineLogRetentionDays: numberOption('--online-log-days', opts.onlineLogDays as string) } : {}),
        },
        'sweep request',
      );
      const c = ctx();
      const client = await c.temporal();
      const handle = await client.workflow.start<typeof retentionSweep>('retentionSweep', {
        taskQueue: c.config.taskQueue,
        workflowId: manualRetentionSweepWorkflowId(new Date()),
        args: [request],
        typedSearchAttributes: retentionSearchAttributes(),
      });
      const report = await c.answer(handle.result());
      if (opts.json) return printJson(report);
      const online = report.onlineLogParts ?? []; // reports of sweeps from before online logs were swept have none
      console.log(
        `deleted ${report.deleted.length} expired raw copies (kept ${report.kept}), ${report.predictionLogs.length} expired prediction logs and ${online.length} online log parts; report: ${report.reportUri}`,
      );
      if (report.deleted.length) printTable(report.deleted, ['dataset', 'sourceHash', 'expiresAt', 'bytes']);
      if (report.predictionLogs.length) printTable(report.predictionLogs, ['model', 'runId', 'expiresAt']);
      if (online.length) printTable(online, ['model', 'runId', 'key', 'writtenAt', 'bytes']);
    });
}
