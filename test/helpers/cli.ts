import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { TestEnv } from './env';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'mlops.cjs');

/** Runs the real `mlops` command as a user would, against the test's server, queue and store. */
export function runMlops(env: TestEnv, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: env.config.temporalAddress,
        MLOPS_DATA_DIR: env.config.dataDir,
        MLOPS_TASK_QUEUE: env.config.taskQueue,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
