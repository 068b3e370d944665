import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { type UserErrorType, USER_ERROR_TYPES, userError } from '../errors';

/**
 * An update that a workflow's validator refuses is an answer, not a transient error: it becomes a
 * non-retryable user error carrying the validator's message (prefixed, e.g. "approve refused: ").
 */
export async function refusalAsUserError<T>(update: Promise<T>, type: UserErrorType, prefix = ''): Promise<T> {
  try {
    return await update;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      // A refusal that carries its own catalogued type (e.g. AliasChanged) keeps it, so callers can branch on it.
      const cause = err.cause;
      const own = cause instanceof ApplicationFailure && (USER_ERROR_TYPES as readonly string[]).includes(cause.type ?? '') ? (cause.type as UserErrorType) : type;
      throw userError(own, `${prefix}${(cause as Error | undefined)?.message ?? err.message}`);
    }
    throw err;
  }
}
