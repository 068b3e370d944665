import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptorsFactory, Next } from '@temporalio/worker';
import { type ResourceContext, resourceFailure } from '../resources';

/**
 * Every activity's failure passes through here on its way to Temporal: a full disk or exhausted
 * memory becomes a non-retryable failure saying which (src/resources.ts), wherever it was thrown.
 */
class ActivityFailureInterceptor implements ActivityInboundCallsInterceptor {
  constructor(private readonly context: ResourceContext) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    try {
      return await next(input);
    } catch (err) {
      throw (await resourceFailure(err, this.context)) ?? err;
    }
  }
}

export function activityFailureInterceptors(context: ResourceContext): ActivityInterceptorsFactory {
  const inbound = new ActivityFailureInterceptor(context);
  return () => ({ inbound });
}
