import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { userError } from '../errors';
import { childEnvironment, redactSecrets } from '../secrets';

/**
 * Runs an external trainer command (Python, R, anything) in a private folder that holds
 * train.parquet, validation.parquet and spec.json; the command must write model.onnx there.
 * It runs in its own process group, so a timeout or a cancelled activity ends it with all its
 * children. The full log is kept next to the model; the last lines go into error messages.
 */
export interface ExternalRun {
  dir: string;
  command: string[];
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called every few seconds while the command runs (heartbeats). */
  onTick?: (elapsedSeconds: number) => void;
}

const TAIL_LINES = 30;

export async function runExternalTrainer(run: ExternalRun): Promise<{ logFile: string; tail: string[] }> {
  const logFile = path.join(run.dir, 'trainer.log');
  const log = fs.createWriteStream(logFile);
  const tail: string[] = [];
  const started = Date.now();
  const [executable, ...args] = run.command;
  const child = spawn(executable!, args, {
    cwd: run.dir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...childEnvironment(), MLOPS_TRAINER_DIR: run.dir },
  });
  // Whole lines only, so a secret is never split across two chunks before it is masked: the
  // tail goes into error messages, and from there into workflow histories.
  const keep = (line: string) => {
    if (!line) return;
    tail.push(redactSecrets(line));
    if (tail.length > TAIL_LINES) tail.shift();
  };
  const partial = { stdout: '', stderr: '' };
  const collect = (stream: keyof typeof partial) => (chunk: Buffer) => {
    log.write(chunk);
    const lines = (partial[stream] + chunk.toString()).split('\n');
    partial[stream] = lines.pop()!;
    lines.forEach(keep);
  };
  child.stdout!.on('data', collect('stdout'));
  child.stderr!.on('data', collect('stderr'));
  const killGroup = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, run.timeoutMs);
  const ticker = setInterval(() => run.onTick?.(Math.round((Date.now() - started) / 1000)), 5000);
  run.signal?.addEventListener('abort', killGroup);
  const exit = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, error }));
    child.on('close', (code) => resolve({ code }));
  });
  clearTimeout(timer);
  clearInterval(ticker);
  run.signal?.removeEventListener('abort', killGroup);
  await new Promise<void>((resolve) => log.end(resolve));
  keep(partial.stdout);
  keep(partial.stderr);

  const tailText = tail.length ? `\n  last output:\n    ${tail.join('\n    ')}` : '';
  if (exit.error) {
    throw userError('TrainerFailed', `Cannot run trainer command ${JSON.stringify(run.command)}: ${exit.error.message}`);
  }
  if (run.signal?.aborted) throw new Error('external trainer cancelled');
  if (timedOut) {
    throw userError('TrainerTimeout', `Trainer command exceeded its timeout of ${Math.round(run.timeoutMs / 1000)} s and was stopped.${tailText}`);
  }
  if (exit.code !== 0) throw userError('TrainerFailed', `Trainer command exited with code ${exit.code}.${tailText}`);
  if (!fs.existsSync(path.join(run.dir, 'model.onnx'))) {
    throw userError('TrainerFailed', `Trainer command finished but wrote no model.onnx in its working folder.${tailText}`);
  }
  return { logFile, tail };
}
