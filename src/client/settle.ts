import type { WorkflowHandle } from '@temporalio/client';
import type { QueryDefinition } from '@temporalio/common';

export type Settled<R, S> = { done: true; result: R } | { done: false; state: S };

/**
 * A workflow's result, or — as soon as its state says the command has been answered (a run that
 * now waits for a person, a loop that asks again) — that state, while the workflow goes on.
 * The state is the workflow's own (its query), never what the client expects it to be.
 */
export async function resultOrState<R, S>(handle: WorkflowHandle, query: QueryDefinition<S>, settled: (state: S) => boolean, intervalMs = 500): Promise<Settled<R, S>> {
  const result = (handle.result() as Promise<R>).then((r): Settled<R, S> => ({ done: true, result: r }));
  // Returning on the state leaves the result pending; its later end is nobody's concern.
  result.catch(() => undefined);
  for (;;) {
    const tick = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), intervalMs).unref());
    const first = await Promise.race([result, tick]);
    if (first) return first;
    const state = await handle.query(query).catch(() => undefined);
    if (state !== undefined && settled(state)) return { done: false, state };
  }
}
