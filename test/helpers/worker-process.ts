import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import type { MlopsConfig } from '../../src/config';
import { stopProcess } from '../../src/temporal/dev-server';

const ROOT = path.resolve(__dirname, '..', '..');

/** A real worker in its own OS process (so a test can kill -9 it), sharing the test's artifact store. */
export function spawnWorker(config: MlopsConfig, taskQueue: string): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', path.join(ROOT, 'src', 'worker.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: config.temporalAddress,
      TEMPORAL_NAMESPACE: config.namespace,
      MLOPS_DATA_DIR: config.dataDir,
      MLOPS_TASK_QUEUE: taskQueue,
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
