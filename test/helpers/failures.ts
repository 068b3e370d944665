import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';

/** The ApplicationFailure at the root of a failed workflow (through ActivityFailure/ChildWorkflowFailure). */
export async function rootFailure(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    let cause: unknown = err.cause;
    while (cause && !(cause instanceof ApplicationFailure) && (cause as Error).cause) cause = (cause as Error).cause;
    if (cause instanceof ApplicationFailure) return cause;
    throw err;
  }
  throw new Error('expected the workflow to fail, but it completed');
}
