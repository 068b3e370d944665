import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { MlopsConfig } from '../../src/config';
import { stopProcess } from '../../src/temporal/dev-server';
import { until } from './wait';

const ROOT = path.resolve(__dirname, '..', '..');

/** A real worker in its own OS process (so a test can kill -9 it), sharing the test's artifact store. */
export function spawnWorker(config: MlopsConfig, taskQueue: string, extraEnv: Record<string, string> = {}): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', path.join(ROOT, 'src', 'worker.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: config.temporalAddress,
      TEMPORAL_NAMESPACE: config.namespace,
      MLOPS_DATA_DIR: config.dataDir,
      MLOPS_TASK_QUEUE: taskQueue,
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return { child, output: () => output };
}

export async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.pid !== undefined && child.exitCode === null) await stopProcess(child.pid);
}

/** SIGKILL, as a crashed machine or an OOM kill would end it, and wait until it is gone. */
export async function killWorker(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
}

/**
 * The attempt that finished an activity: Temporal records one started event per activity,
 * carrying the attempt of the run that completed it (≥ 2 means a retry did the work).
 */
export async function finishingAttempt(handle: WorkflowHandle, activityType: string): Promise<number | undefined> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType);
  const started = events.find((e) => e.activityTaskStartedEventAttributes && String(e.activityTaskStartedEventAttributes.scheduledEventId) === String(scheduled?.eventId));
  return started?.activityTaskStartedEventAttributes?.attempt ?? undefined;
}

/** Polls every 10 ms until `ready`; the timeout error carries the worker's output. */
export async function waitForWork(ready: () => boolean | Promise<boolean>, worker: { output: () => string }, what: string, timeoutMs = 90_000): Promise<void> {
  await until(what, async () => ((await ready()) ? true : undefined), { timeoutMs, intervalMs: 10 }).catch((err: Error) => {
    throw new Error(`${err.message}; worker output:\n${worker.output()}`);
  });
}
