import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeLog } from './temporal/dev-server';

/**
 * A server process of ours whose output goes to a log file (appended: a restart keeps the
 * earlier lines), so a start that fails is explained by the lines this start wrote.
 */
export interface LoggedProcess {
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** Size of the log when this process started. */
  logStart: number;
  /** Why it ended, once it has. */
  exited(): string | undefined;
  /** What this start wrote, for an error message. */
  describeLog(): string;
  /** The text this start wrote. */
  output(): string;
}

export function spawnLogged(command: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): LoggedProcess {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const logStart = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
  const logFd = fs.openSync(logFile, 'a');
  const child = spawn(command, args, { stdio: ['ignore', logFd, logFd], env: env ?? process.env });
  fs.closeSync(logFd);
  if (child.pid === undefined) throw new Error(`Could not start ${command}`);
  let exited: string | undefined;
  child.on('exit', (code, signal) => (exited = `exit code ${code ?? signal}`));
  return {
    child,
    pid: child.pid,
    logFile,
    logStart,
    exited: () => exited,
    describeLog: () => describeLog(logFile, logStart, false),
    output: () => fs.readFileSync(logFile).subarray(logStart).toString(),
  };
}

/** Runs a short-lived tool to its end, stdout and stderr together (kept for an error message). */
export function runCaptured(
  command: string,
  args: string[],
  options: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}
