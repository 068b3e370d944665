/**
 * `npm run bench:peers:drift [-- --rows 500000]`
 *
 * Our drift monitoring against Evidently's data-drift preset (bench/peers/drift_peer.py) on the
 * same reference and current Parquet files (generated here: 10 numeric and 3 categorical features;
 * the current data shifts x0, widens x1 and changes the mix of c0, the rest is drawn the same way).
 * Ours, two lines:
 *   - featureDrift alone: what a monitoring pass runs (src/monitoring/drift.ts) — the reference's
 *     profile is already in the model card, written at training;
 *   - profileTable(reference) + featureDrift: from the same two files Evidently gets, the
 *     comparable job.
 * Prints times (median of BENCH_REPEATS, default 3), peer ÷ ours (> 1: we are ahead) and which
 * features each side calls drifted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatTable } from '../src/cli/output';
import { profileTable } from '../src/datasets/profile';
import { featureDrift } from '../src/monitoring/drift';
import { openDuckDb } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { ensureDir, median, recordHeadline, runHeader, runPeer, seconds } from './peers-common';

const OUT = path.join(__dirname, 'out', 'peers-drift');
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const NUMERIC = Array.from({ length: 10 }, (_, j) => `x${j}`);
const CATEGORICAL = ['c0', 'c1', 'c2'];

function argRows(): number {
  const i = process.argv.indexOf('--rows');
  return i >= 0 ? Number(process.argv[i + 1]) : 500_000;
}

/** Uniform-ish numerics from hashes (seeded), 1% missing; `current` moves x0, x1 and c0. */
function dataSql(rows: number, seed: number, current: boolean): string {
  const u = (i: number) => `((hash(i, ${i}, ${seed}) % 1000003) / 1000003.0)`;
  const numerics = NUMERIC.map((name, j) => {
    // A sum of three uniforms: bell-shaped, so a shift shows in the middle of the histogram too.
    let value = `(${u(j * 3)} + ${u(j * 3 + 1)} + ${u(j * 3 + 2)}) * 10`;
    if (current && name === 'x0') value = `(${value} + 1.5)`;
    if (current && name === 'x1') value = `((${value} - 15) * 1.6 + 15)`;
    return `CASE WHEN hash(i, ${100 + j}, ${seed}) % 100 = 0 THEN NULL ELSE ${value} END AS ${name}`;
  });
  const categoricals = CATEGORICAL.map((name, j) => {
    const shares = current && name === 'c0' ? [0.3, 0.3, 0.4] : [0.5, 0.3, 0.2];
    const draw = u(200 + j);
    return `CASE WHEN ${draw} < ${shares[0]} THEN 'a' WHEN ${draw} < ${shares[0]! + shares[1]!} THEN 'b' ELSE 'c' END AS ${name}`;
  });
  return `SELECT i AS id, ${[...numerics, ...categoricals].join(', ')} FROM range(${rows}) t(i)`;
}

async function main(): Promise<void> {
  const rows = argRows();
  ensureDir(OUT);
  const duckdb = await openDuckDb();
  const conn = await duckdb.connect();
  const reference = path.join(OUT, `reference-${rows}.parquet`);
  const current = path.join(OUT, `current-${rows}.parquet`);
  if (!fs.existsSync(reference)) await conn.run(`COPY (${dataSql(rows, 1, false)}) TO ${quoteString(reference)} (FORMAT parquet)`);
  if (!fs.existsSync(current)) await conn.run(`COPY (${dataSql(rows, 2, true)}) TO ${quoteString(current)} (FORMAT parquet)`);
  const columns = [...NUMERIC.map((name) => ({ name, type: 'double' as const })), ...CATEGORICAL.map((name) => ({ name, type: 'string' as const }))];
  const features = columns.map((c) => c.name);

  const driftMs: number[] = [];
  const bothMs: number[] = [];
  const peerS: number[] = [];
  const peerReadS: number[] = [];
  let ours: Awaited<ReturnType<typeof featureDrift>> = [];
  let peer: { seconds: number; read_seconds: number; methods: Record<string, string>; drifted: string[] } | undefined;
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    const profile = await profileTable(conn, { relation: `read_parquet(${quoteString(reference)})` }, columns, rows);
    const t1 = performance.now();
    ours = await featureDrift(conn, `read_parquet(${quoteString(current)})`, profile, features);
    const t2 = performance.now();
    driftMs.push(t2 - t1);
    bothMs.push(t2 - t0);
    const report = runPeer<NonNullable<typeof peer>>('drift_peer.py', [reference, current, NUMERIC.join(','), CATEGORICAL.join(',')]);
    peer = report;
    peerS.push(report.seconds);
    peerReadS.push(report.read_seconds);
    process.stderr.write(`ours ${((t2 - t0) / 1000).toFixed(2)} s (drift ${((t2 - t1) / 1000).toFixed(2)} s), evidently ${report.seconds.toFixed(2)} s\n`);
  }
  const drift = median(driftMs) / 1000;
  const both = median(bothMs) / 1000;
  const evidently = median(peerS);
  recordHeadline([
    {
      bench: `drift monitoring, ${rows.toLocaleString('en')} + ${rows.toLocaleString('en')} rows`,
      what: 'reference profiled + drift, same inputs',
      ours: seconds(both),
      peer: `Evidently DataDriftPreset ${seconds(evidently)}`,
      vs: `peer ÷ ours ${(evidently / both).toFixed(1)}`,
      target: 'ahead (> 1)',
      met: evidently / both > 1,
    },
  ]);
  console.log(
    `\n${runHeader('bench:peers:drift')}; ${rows.toLocaleString('en')} reference + ${rows.toLocaleString('en')} current rows, ${features.length} features, median of ${REPEATS}`,
  );
  console.log(
    formatTable([
      { side: 'ours: featureDrift (the monitoring pass; reference profile from the card)', s: drift.toFixed(3), 'evidently ÷ ours (>1: ahead)': (evidently / drift).toFixed(1) },
      { side: 'ours: profileTable(reference) + featureDrift (same inputs as the peer)', s: both.toFixed(3), 'evidently ÷ ours (>1: ahead)': (evidently / both).toFixed(1) },
      { side: `evidently 0.7 DataDriftPreset (pandas read ${median(peerReadS).toFixed(2)} s included)`, s: evidently.toFixed(3), 'evidently ÷ ours (>1: ahead)': '' },
    ]),
  );
  console.log(
    `\n${formatTable(
      features.map((f) => {
        const o = ours.find((d) => d.feature === f);
        return {
          feature: f,
          'ours: PSI': o ? o.psi.toFixed(3) : '',
          'ours: test, p': o ? `${o.test} ${o.pValue.toExponential(1)}` : '',
          'ours drifted': o?.drifted ? 'yes' : 'no',
          'evidently test': peer?.methods[f] ?? '',
          'evidently drifted': peer?.drifted.includes(f) ? 'yes' : 'no',
        };
      }),
    )}`,
  );
  const oursDrifted = ours.filter((d) => d.drifted).map((d) => d.feature);
  const agree = JSON.stringify([...oursDrifted].sort()) === JSON.stringify([...(peer?.drifted ?? [])].sort());
  console.log(`\nDrifted — ours: ${oursDrifted.join(', ') || 'none'}; evidently: ${peer?.drifted.join(', ') || 'none'}; ${agree ? 'the same features' : 'DIFFERENT features'}`);
  duckdb.closeSync();
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
