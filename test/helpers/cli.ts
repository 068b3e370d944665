import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MlopsConfig } from '../../src/config';
import { stopProcess } from '../../src/temporal/dev-server';
import { until } from './wait';

/**
 * The real `mlops` command as a user runs it: `node bin/mlops.cjs …` in a child process, against
 * the test's Temporal server, task queue and artifact store. Nothing of the CLI is imported, so
 * what the entry point resolves (and fails to) is what the test sees.
 */
export const BIN = path.resolve(__dirname, '..', '..', 'bin', 'mlops.cjs');
const README = path.resolve(__dirname, '..', '..', 'README.md');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Extra or overriding environment variables. */
  env?: Record<string, string>;
  /** Working directory (default: this process's). */
  cwd?: string;
}

export function cliEnvironment(config: MlopsConfig, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TEMPORAL_ADDRESS: config.temporalAddress,
    TEMPORAL_NAMESPACE: config.namespace,
    MLOPS_DATA_DIR: config.dataDir,
    MLOPS_TASK_QUEUE: config.taskQueue,
    ...extra,
  };
}

export interface Cli {
  /** Runs `mlops <args>` to completion. */
  run(args: string[], options?: CliOptions): Promise<CliRun>;
  /** Shorthand for run(args). */
  (...args: string[]): Promise<CliRun>;
  /** Starts a long-running `mlops <args>` (worker, codec-server). */
  spawn(args: string[], options?: CliOptions): LongRunning;
  /** Command paths that ran and exited with one of the documented outcome codes (0, 3). */
  readonly covered: Set<string>;
}

export interface LongRunning {
  child: ChildProcess;
  output(): string;
  /** Resolves once the output matches `pattern`; fails with the output when the process ends first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM (then SIGKILL after a grace period); resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Outcome codes a command that did its job may end with: 0, or 3 for a "no" (see the README). */
const DONE_CODES = new Set([0, 3]);

export function cliFor(config: MlopsConfig, defaults: CliOptions = {}): Cli {
  const covered = new Set<string>();
  const environment = (options: CliOptions) => cliEnvironment(config, { ...defaults.env, ...options.env });
  const record = (args: string[], code: number | null) => {
    if (code !== null && DONE_CODES.has(code)) covered.add(commandPathOf(args));
  };

  const run = (args: string[], options: CliOptions = {}) =>
    new Promise<CliRun>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], { env: environment(options), cwd: options.cwd ?? defaults.cwd });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        record(args, code);
        resolve({ code: code ?? -1, stdout, stderr });
      });
    });

  const spawnLong = (args: string[], options: CliOptions = {}): LongRunning => {
    const child = spawn(process.execPath, [BIN, ...args], { env: environment(options), cwd: options.cwd ?? defaults.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    void exited.then((code) => record(args, code));
    return {
      child,
      output: () => output,
      async waitFor(pattern, timeoutMs = 60_000) {
        await until(
          `mlops ${args.join(' ')} to print ${pattern}`,
          async () => {
            if (pattern.test(output)) return true;
            if (child.exitCode !== null) throw new Error(`mlops ${args.join(' ')} exited with ${child.exitCode} before printing ${pattern}:\n${output}`);
            return undefined;
          },
          { timeoutMs, intervalMs: 100 },
        );
      },
      async stop() {
        if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) await stopProcess(child.pid);
        return exited;
      },
    };
  };

  const cli = ((...args: string[]) => run(args)) as Cli;
  Object.assign(cli, { run, spawn: spawnLong, covered });
  return cli;
}

/** The subcommand words of an argument list: `["datasets", "show", "x@1", "--json"]` → "datasets show". */
export function commandPathOf(args: readonly string[]): string {
  const words: string[] = [];
  for (const a of args) {
    if (a.startsWith('-')) break;
    words.push(a);
  }
  // Every command has at most two words (`datasets show`, `schedule monitor`); the rest are arguments.
  const groups = new Set(['contract', 'datasets', 'models', 'schedule', 'retention', 'canary', 'landed', 'deploy']);
  return words.slice(0, words[0] !== undefined && groups.has(words[0]) ? 2 : 1).join(' ');
}

/**
 * The commands README's "CLI reference" table documents, as command paths: `datasets list` ·
 * `datasets show <…>` gives both, `schedule retention|monitor|retrain …` gives three.
 */
export function documentedCommands(readme = fs.readFileSync(README, 'utf8')): string[] {
  const section = readme.split(/^## CLI reference$/m)[1]?.split(/^## /m)[0];
  if (!section) throw new Error('README has no "## CLI reference" section');
  const commands = new Set<string>();
  for (const line of section.split('\n')) {
    const first = /^\| (.+?) \|/.exec(line)?.[1];
    if (!first || first === 'command' || /^-+$/.test(first)) continue;
    for (const span of first.matchAll(/`([^`]+)`/g)) {
      const words: string[] = [];
      for (const w of span[1]!.split(/\s+/)) {
        if (/^[<"…[]/.test(w)) break;
        words.push(w);
      }
      const [head, ...rest] = words;
      if (!head) continue;
      const alternatives = rest.length ? rest[0]!.split('|').map((r) => `${head} ${r}`) : [head];
      for (const c of alternatives) commands.add(c);
    }
  }
  return [...commands];
}
