import { CancellationScope, log, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { FlagInput } from '../notifications/flags';
import { activityOptions } from './activity-options';

const { deliverFlag } = proxyActivities<Activities>(activityOptions.flagDelivery);
const { recordFailedFlagDelivery } = proxyActivities<Activities>(activityOptions.quick);

/** Per workflow (module state is per execution): how often each kind was raised, the episode of the dedupe key. */
const episodes = new Map<string, number>();

/**
 * Tells people a workflow waits for them: called wherever MlopsNeedsAttention is raised. The
 * delivery is an activity the workflow does not wait for — the flag's own wait (a review, an
 * acknowledgement) goes on at once — started outside the caller's cancellation scope so a step
 * that is cancelled (a canary's) does not take the message with it. A plain activity rather than a
 * child workflow: no new workflow type to keep replayable, and the activity's retries are the
 * delivery's. A delivery that still fails is recorded and logged, never failing the workflow.
 * Behind patched('notify-flags'): histories recorded before it replay without these commands.
 *
 * Returns when the delivery is settled (sent, or recorded as failed; it never rejects): a flag that
 * does not keep its workflow waiting (a monitoring crossing, a canary rolled back) is awaited, or
 * the workflow could complete before its message went out.
 */
export function raiseFlag(flag: Omit<FlagInput, 'workflowId' | 'episode' | 'raisedAt'>): Promise<void> {
  if (!patched('notify-flags')) return Promise.resolve();
  const episode = (episodes.get(flag.kind) ?? 0) + 1;
  episodes.set(flag.kind, episode);
  const input: FlagInput = { ...flag, workflowId: workflowInfo().workflowId, episode, raisedAt: new Date().toISOString() };
  return CancellationScope.nonCancellable(async () => {
    try {
      await deliverFlag(input);
    } catch (err) {
      const error = errorMessage(err);
      log.warn('flag not delivered', { kind: flag.kind, episode, error });
      await recordFailedFlagDelivery({ flag: input, error }).catch((e: unknown) => log.warn('failed delivery not recorded', { error: errorMessage(e) }));
    }
  });
}

/** The root cause's message: an ActivityFailure wraps the activity's own error. */
function errorMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
