/**
 * `npm run bench:headline`: every benchmark that compares us with what users would pick instead,
 * one after another in one run, and the README's headline table from their figures
 * (bench/out/headline.md): ours beside the peer's or the raw engine's, the target, met or not.
 * About 15–20 minutes on 2 cores. Each bench records its lines through BENCH_HEADLINE
 * (peers-common.ts); a bench that fails leaves its lines out and the run exits non-zero.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureDir, type HeadlineLine } from './peers-common';

const OUT = ensureDir(path.join(__dirname, 'out'));
const RUNS: Array<[string, string[]]> = [
  ['peers-ingest.ts', []],
  ['train.ts', []],
  ['score.ts', ['--rows', '1000000', '--peers']],
  ['serve.ts', []],
  ['peers-drift.ts', []],
  ['peers-loop.ts', []],
];

function main(): void {
  const linesFile = path.join(OUT, 'headline.jsonl');
  fs.rmSync(linesFile, { force: true });
  const started = new Date();
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ');
  const loadBefore = load();
  const failed: string[] = [];
  for (const [script, args] of RUNS) {
    process.stderr.write(`\n== bench/${script} ${args.join(' ')}\n`);
    const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, script), ...args], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, BENCH_HEADLINE: linesFile },
    });
    if (run.status !== 0) failed.push(`${script} (exit ${run.status ?? run.signal})`);
  }
  const lines = fs.existsSync(linesFile)
    ? fs
        .readFileSync(linesFile, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as HeadlineLine)
    : [];
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const table = [
    `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${os.cpus().length} shared cores (load average ${loadBefore} before, ${load()} after), \`npm run bench:headline\`, one run:`,
    '',
    '| bench | what | ours | peer or raw engine | comparison | target | met |',
    '|---|---|---|---|---|---|---|',
    ...lines.map((l) => `| ${[l.bench, l.what, l.ours, l.peer, l.vs, l.target, l.met ? 'yes' : '**no**'].map(cell).join(' | ')} |`),
    ...(failed.length ? ['', `Did not complete: ${failed.join(', ')}.`] : []),
  ].join('\n');
  fs.writeFileSync(path.join(OUT, 'headline.md'), `${table}\n`);
  console.log(`\n${table}`);
  if (failed.length) process.exitCode = 1;
}

main();
