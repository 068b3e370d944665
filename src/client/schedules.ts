import { type Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { z } from 'zod';
import type { MlopsConfig } from '../config';
import { MlopsStage } from '../temporal/search-attributes';
import { parseInput } from '../validation';
import type { retentionSweep } from '../workflows';

/** `30m`, `12h`, `1d`, `7d`: what people write; Temporal takes the same strings. */
export const everySchema = z
  .string()
  .regex(/^[1-9]\d*(s|m|h|d)$/, 'interval must look like 30m, 12h, 1d or 7d')
  .refine((s) => !/^\d+s$/.test(s) || Number.parseInt(s, 10) >= 60, 'interval must be at least 60s');

export const RETENTION_SCHEDULE_ID = 'mlops-retention-sweep';

/** Creates the retention schedule, or updates its interval when it exists (idempotent). */
export async function scheduleRetentionSweep(client: Client, config: MlopsConfig, every: string): Promise<string> {
  const interval = parseInput(everySchema, every, '--every') as Duration;
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'retentionSweep' as const,
    args: [{}] as Parameters<typeof retentionSweep>,
    taskQueue: config.taskQueue,
    workflowId: 'retention-sweep',
    typedSearchAttributes: [{ key: MlopsStage, value: 'retention' }],
  };
  try {
    await client.schedule.create({
      scheduleId: RETENTION_SCHEDULE_ID,
      spec: { intervals: [{ every: interval }] },
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      memo: { description: 'Deletes raw copies whose retention has expired' },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(RETENTION_SCHEDULE_ID).update((previous) => ({
      ...previous,
      spec: { intervals: [{ every: interval }] },
      action,
    }));
  }
  return RETENTION_SCHEDULE_ID;
}
