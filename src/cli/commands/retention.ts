import type { Command } from 'commander';
import { retentionSweepRequestSchema } from '../../datasets/request';
import { manualRetentionSweepWorkflowId, retentionSearchAttributes } from '../../api/datasets';
import { parseInput } from '../../validation';
import type { retentionSweep } from '../../workflows';
import type { CliContext } from '../context';
import { printJson, printTable } from '../output';

export function registerRetentionCommands(program: Command, ctx: () => CliContext): void {
  program
    .command('retention')
    .description('Retention of raw data and prediction logs')
    .command('sweep')
    .description('Delete raw copies and prediction logs whose retention has expired, now')
    .option('--as-of <iso-time>', 'treat this instant as now (e.g. to preview a future sweep on a copy of the store)')
    .option('--json', 'print as JSON')
    .action(async (opts) => {
      const request = parseInput(retentionSweepRequestSchema, opts.asOf ? { asOf: opts.asOf } : {}, 'sweep request');
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
      console.log(
        `deleted ${report.deleted.length} expired raw copies (kept ${report.kept}) and ${report.predictionLogs.length} expired prediction logs; report: ${report.reportUri}`,
      );
      if (report.deleted.length) printTable(report.deleted, ['dataset', 'sourceHash', 'expiresAt', 'bytes']);
      if (report.predictionLogs.length) printTable(report.predictionLogs, ['model', 'runId', 'expiresAt']);
    });
}
