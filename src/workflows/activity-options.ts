import type { ActivityOptions } from '@temporalio/workflow';

/**
 * The timeouts and retries each kind of activity runs with, named for the work. A workflow picks
 * a profile per group of activities (`proxyActivities<Activities>(activityOptions.quick)`), so the
 * same kind of work is retried the same way in every workflow, and changing it is one edit.
 * Options are not recorded as commands: changing them here needs no `patched()`.
 */

/**
 * Work that lasts as long as its data is big and heartbeats its progress (activities/progress.ts):
 * a worker that dies is noticed when its heartbeats stop, long before the start-to-close timeout,
 * which only bounds a run that is alive but stuck. Five attempts, since each may be hours.
 */
function heartbeating(startToCloseTimeout: Duration, heartbeatTimeout: Duration = '30 seconds'): ActivityOptions {
  return { startToCloseTimeout, heartbeatTimeout, retry: { maximumAttempts: 5 } };
}
type Duration = NonNullable<ActivityOptions['startToCloseTimeout']>;

export const activityOptions = {
  /** Registry and catalog reads, signals and small store writes: seconds of work; retried often, so a store blip does not fail a long loop. */
  quick: { startToCloseTimeout: '2 minutes', retry: { maximumAttempts: 10 } },
  /** Checks a workflow runs as local activities (no task queue round trip, no activity slot). */
  localCheck: { startToCloseTimeout: '1 minute', retry: { maximumAttempts: 5 } },
  /** Copying a source into the raw area before validation. */
  staging: heartbeating('30 minutes', '20 seconds'),
  /** Validating, snapshotting and profiling a dataset version (or repairing its snapshot). */
  snapshot: heartbeating('2 hours', '20 seconds'),
  /** Training, reproducing production, preparing retraining data, shadow evaluation. */
  modelWork: heartbeating('4 hours'),
  /** Batch scoring a dataset version into a prediction log. */
  scoring: heartbeating('6 hours'),
  /** Publishing a run scored in parts as one prediction log (links, run.json): retried often, it is idempotent. */
  scoringFinish: { startToCloseTimeout: '1 hour', heartbeatTimeout: '30 seconds', retry: { maximumAttempts: 10 } },
  /** Drift and live metrics over a dataset version and the prediction logs. */
  monitoring: heartbeating('2 hours'),
  /** Sending a flag to webhooks/Slack: a receiver that blinks (a restart) still gets it; past ~15 s the failure is recorded instead. */
  flagDelivery: { startToCloseTimeout: '1 minute', retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 5 } },
  /** Deletions the retention sweep makes; no heartbeat: it runs unattended on a schedule, and a rerun finds what is left. */
  unattendedSweep: { startToCloseTimeout: '30 minutes', retry: { maximumAttempts: 5 } },
} satisfies Record<string, ActivityOptions>;
