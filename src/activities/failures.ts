import { ApplicationFailure } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptorsFactory, Next } from '@temporalio/worker';
import { type ResourceContext, resourceFailure } from '../resources';
import { redactSecrets } from '../secrets';

/**
 * Every activity's failure passes through here on its way to Temporal (its history, the server's
 * database, the worker's log): a full disk or exhausted memory becomes a non-retryable failure
 * saying which (src/resources.ts), and every secret the text holds is masked (src/secrets.ts),
 * wherever the error was made: a trainer's output, a driver's message quoting a connection string.
 */
class ActivityFailureInterceptor implements ActivityInboundCallsInterceptor {
  constructor(private readonly context: ResourceContext) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    try {
      return await next(input);
    } catch (err) {
      throw maskSecrets((await resourceFailure(err, this.context)) ?? err);
    }
  }
}

export function activityFailureInterceptors(context: ResourceContext): ActivityInterceptorsFactory {
  const inbound = new ActivityFailureInterceptor(context);
  return () => ({ inbound });
}

/** The error and its causes with secrets masked in messages, stacks and failure details (in place). */
export function maskSecrets(err: unknown): unknown {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    e.message = redactSecrets(e.message);
    if (e.stack) e.stack = redactSecrets(e.stack);
    if (e instanceof ApplicationFailure && e.details) {
      const details = e.details as unknown[];
      for (let i = 0; i < details.length; i++) details[i] = maskValue(details[i]);
    }
  }
  return err;
}

function maskValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => maskValue(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskValue(v, depth + 1)]));
}
