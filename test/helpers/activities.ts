import type { WorkflowHandle } from '@temporalio/client';
import { until } from './wait';

/** What the server says of an activity that has not completed (temporal.api.workflow.v1.PendingActivityInfo). */
export interface PendingActivity {
  activityType?: { name?: string | null } | null;
  /** 1 SCHEDULED, 2 STARTED, 3 CANCEL_REQUESTED (temporal.api.enums.v1.PendingActivityState). */
  state?: number | null;
  attempt?: number | null;
  lastFailure?: { message?: string | null } | null;
  /** The worker that last took it: `pid@host` by default. */
  lastWorkerIdentity?: string | null;
}
export const ACTIVITY_STARTED = 2;

/** The workflow's pending activity of `type` once `ready` holds for it (e.g. started, or failed and waiting for its retry). */
export async function pendingActivity(handle: WorkflowHandle, type: string, ready: (a: PendingActivity) => boolean, what: string, timeoutMs = 120_000): Promise<PendingActivity> {
  return until(
    what,
    async () => {
      const pending = ((await handle.describe()).raw.pendingActivities ?? []) as PendingActivity[];
      return pending.find((a) => a.activityType?.name === type && ready(a));
    },
    { timeoutMs, intervalMs: 50 },
  );
}
