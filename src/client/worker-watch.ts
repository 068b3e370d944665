import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { MlopsConfig } from '../config';
import { userError } from '../errors';

/**
 * Temporal queues work for a worker that may never come: a workflow started on a task queue
 * nobody polls, or a query or update to one, waits in silence. This watches the task queue while
 * a client waits and turns "nobody is there" into an error that says what to start.
 */

/**
 * The server lists a worker's pollers for minutes after it stopped; a live worker polls again at
 * least every ~70 s (the long-poll timeout), so one not seen for longer is gone.
 */
const LIVE_POLLER_MS = 2 * 60_000;
const { TaskQueueType } = temporal.api.enums.v1;

/** Identities of the workers that polled the workflow task queue recently. */
export async function livePollers(client: Client, namespace: string, taskQueue: string, now = Date.now()): Promise<string[]> {
  const { pollers } = await client.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return (pollers ?? [])
    .filter((p) => {
      const seconds = Number(p.lastAccessTime?.seconds ?? 0);
      return now - seconds * 1000 < LIVE_POLLER_MS;
    })
    .map((p) => p.identity ?? 'unknown');
}

export function noWorkerMessage(config: Pick<MlopsConfig, 'taskQueue' | 'temporalAddress' | 'namespace'>, keepWaiting = false): string {
  const where = `task queue "${config.taskQueue}" on ${config.temporalAddress}${config.namespace === 'default' ? '' : ` (namespace ${config.namespace})`}`;
  const start = 'start one with `npx mlops worker` (with the same TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and MLOPS_TASK_QUEUE)';
  return keepWaiting
    ? `no worker is polling ${where} — ${start}; waiting for one (--wait-for-worker)`
    : `no worker is polling ${where} — ${start}. Anything this command started stays queued and runs once a worker polls; add --wait-for-worker to wait here instead`;
}

export interface WorkerWatchOptions {
  /** When no worker polls: keep waiting (after one notice) instead of failing. */
  keepWaiting: boolean;
  onNotice?: (message: string) => void;
  /** How long the work may take before the task queue is looked at (most commands answer sooner). */
  graceMs?: number;
  checkEveryMs?: number;
}

/**
 * `work` — a workflow's result, an update, a query — or, when no worker polls the task queue, a
 * non-retryable `NoWorker` error naming the queue, the server and the command that starts one.
 */
export async function unlessNoWorker<T>(client: Client, config: MlopsConfig, work: Promise<T>, options: WorkerWatchOptions): Promise<T> {
  const { graceMs = 2000, checkEveryMs = 5000 } = options;
  let settled = false;
  let noticed = false;
  let timer: NodeJS.Timeout | undefined;
  // Once the watch has answered, `work` may still fail later (e.g. when the connection closes).
  work.catch(() => undefined);
  const watch = new Promise<never>((_, reject) => {
    const check = async () => {
      let pollers: string[] | undefined;
      try {
        pollers = await livePollers(client, config.namespace, config.taskQueue);
      } catch {
        // The server cannot say: leave the answer to `work` itself.
      }
      if (settled) return;
      if (pollers?.length === 0) {
        if (!options.keepWaiting) return reject(userError('NoWorker', noWorkerMessage(config)));
        if (!noticed) options.onNotice?.(noWorkerMessage(config, true));
        noticed = true;
      }
      timer = setTimeout(check, checkEveryMs).unref();
    };
    timer = setTimeout(check, graceMs).unref();
  });
  try {
    return await Promise.race([work, watch]);
  } finally {
    settled = true;
    clearTimeout(timer);
  }
}
