/**
 * What the peer benchmarks (bench:peers:*) share: running a Python peer script from bench/peers/
 * in the peers' venv (scripts/python-env.ts builds it on first use), and the run's header line.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensurePeersPython } from '../scripts/python-env';

/** Runs bench/peers/<script> with `args`; its last stdout line is its JSON report. */
export function runPeer<T>(script: string, args: string[]): T {
  const python = ensurePeersPython();
  const run = spawnSync(python, [path.join(__dirname, 'peers', script), ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`python peer ${script} ${args.join(' ')} failed (exit ${run.status}):\n${run.stderr}`);
  const last = run.stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as T;
}

/** Date, cores and load average: the figures of a shared machine only compare within one run. */
export function runHeader(name: string): string {
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');
  return `${name} — ${new Date().toISOString()}, ${os.cpus().length} cores, load average ${load} (1/5/15 min)`;
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export function ensureDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** One line of the README's headline table: our figure beside the peer's (or the raw engine's). */
export interface HeadlineLine {
  bench: string;
  what: string;
  ours: string;
  /** The peer or reference, with its figure. */
  peer: string;
  /** The comparison as the target states it (e.g. "peer ÷ ours 1.8", "0.54 of bare"). */
  vs: string;
  target: string;
  met: boolean;
}

/**
 * `BENCH_HEADLINE=<file>` (set by `npm run bench:headline`): each bench appends its headline lines
 * there as JSON lines, so one run of every bench makes one table.
 */
export function recordHeadline(lines: HeadlineLine[]): void {
  const file = process.env.BENCH_HEADLINE;
  if (file) fs.appendFileSync(file, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
}

export const seconds = (s: number) => `${s.toFixed(2)} s`;
