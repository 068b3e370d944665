import { WorkflowUpdateFailedError } from '@temporalio/client';
import { type UserErrorType, userError } from '../errors';

/**
 * An update that a workflow's validator refuses is an answer, not a transient error: it becomes a
 * non-retryable user error carrying the validator's message (prefixed, e.g. "approve refused: ").
 */
export async function refusalAsUserError<T>(update: Promise<T>, type: UserErrorType, prefix = ''): Promise<T> {
  try {
    return await update;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw userError(type, `${prefix}${(err.cause as Error | undefined)?.message ?? err.message}`);
    throw err;
  }
}
