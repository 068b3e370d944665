import { proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { activityOptions } from './activity-options';
import type { SweepReport } from '../datasets/retention';
import { type RetentionSweepRequest, retentionSweepRequestSchema } from '../datasets/request';
import { retentionSearchAttributes } from '../api/datasets';
import { parseInput } from '../validation';

const { sweepExpiredRaw } = proxyActivities<Activities>(activityOptions.unattendedSweep);

/** Deletes expired raw copies, prediction logs and online log parts; the result (kept in history) and a report file say what went. */
export async function retentionSweep(raw: RetentionSweepRequest = {}): Promise<SweepReport> {
  const request = parseInput(retentionSweepRequestSchema, raw, 'retention sweep request');
  upsertSearchAttributes(retentionSearchAttributes());
  // Workflow time is deterministic (it is the time of the workflow task), so replays agree.
  const asOf = request.asOf ?? new Date().toISOString();
  return sweepExpiredRaw({ sweepId: workflowInfo().workflowId, asOf, onlineLogRetentionDays: request.onlineLogRetentionDays });
}
