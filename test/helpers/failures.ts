import type { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { rootApplicationFailure } from '../../src/errors';

/** The ApplicationFailure at the root of a failed workflow (through ActivityFailure/ChildWorkflowFailure). */
export async function rootFailure(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (err) {
    const root = err instanceof WorkflowFailedError ? rootApplicationFailure(err) : undefined;
    if (root) return root;
    throw err;
  }
  throw new Error('expected the workflow to fail, but it completed');
}

/** The message of the failure at the root of a rejected promise (e.g. an update refused by its validator). */
export async function rejectionMessage(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (rootApplicationFailure(err) ?? (err as Error)).message;
  }
  throw new Error('expected a rejection, but the call succeeded');
}
