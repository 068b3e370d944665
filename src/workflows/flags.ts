import { CancellationScope, log, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { FlagInput } from '../notifications/flags';
import { activityOptions } from './activity-options';

const { deliverFlag } = proxyActivities<Activities>(activityOptions.flagDelivery);
const { recordFailedFlagDelivery } = proxyActivities<Activities>(activityOptions.quick);

/** Per workflow (module state is per execution): how often each kind was raised, the episode of the dedupe key. */
const episodes = new Map<string, number>();

/** The deliveries not settled yet: a workflow ends only after them (see endAfterFlags). */
const inFlight = new Set<Promise<void>>();

/**
 * Tells people a workflow waits for them: called wherever MlopsNeedsAttention is raised. The
 * delivery is an activity the workflow does not wait for — the flag's own wait (a review, an
 * acknowledgement) goes on at once — started outside the caller's cancellation scope so a step
 * that is cancelled (a canary's) does not take the message with it. A plain activity rather than a
 * child workflow: no new workflow type to keep replayable, and the activity's retries are the
 * delivery's. A delivery that still fails is recorded and logged, never failing the workflow.
 * Behind patched('notify-flags'): histories recorded before it replay without these commands.
 *
 * Returns when the delivery is settled (sent, or recorded as failed; it never rejects). A workflow
 * that raises flags runs inside endAfterFlags, so it never ends with a delivery in flight.
 */
export function raiseFlag(flag: Omit<FlagInput, 'workflowId' | 'episode' | 'raisedAt'>): Promise<void> {
  if (!patched('notify-flags')) return Promise.resolve();
  const episode = (episodes.get(flag.kind) ?? 0) + 1;
  episodes.set(flag.kind, episode);
  const input: FlagInput = { ...flag, workflowId: workflowInfo().workflowId, episode, raisedAt: new Date().toISOString() };
  const delivery = CancellationScope.nonCancellable(async () => {
    try {
      await deliverFlag(input);
    } catch (err) {
      const error = errorMessage(err);
      log.warn('flag not delivered', { kind: flag.kind, episode, error });
      await recordFailedFlagDelivery({ flag: input, error }).catch((e: unknown) => log.warn('failed delivery not recorded', { error: errorMessage(e) }));
    }
  });
  inFlight.add(delivery);
  void delivery.finally(() => inFlight.delete(delivery));
  return delivery;
}

/**
 * Runs a workflow's body, then waits for the flags it raised and did not wait for, however the
 * body ends (a result, an error, continue-as-new). Without it the workflow could end while a
 * delivery activity is in flight: the message would be dropped, and when the activity's completion
 * arrives while the task that completes the workflow is being answered (e.g. the `abort` update
 * that ends a retraining loop), the server fails that task and aborts the update with "unexpected
 * workflow task failure". Behind its own patch: histories that ended without waiting still replay.
 */
export async function endAfterFlags<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } finally {
    if (inFlight.size > 0 && patched('flags-before-end')) await Promise.all(inFlight);
  }
}

/** The root cause's message: an ActivityFailure wraps the activity's own error. */
function errorMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
