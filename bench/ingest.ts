/**
 * `npm run bench:ingest [-- --rows 1000000,10000000] [--steps]`
 *
 * Ingestion activity (validate + quarantine + snapshot + profile, i.e. buildDatasetVersion) vs
 * DuckDB's bare `COPY (SELECT * FROM read_csv(...)) TO parquet` on the same CSV, in the same
 * process and run, alternating. Prints rows/s and the ratio ours/raw (target ≥ 0.5). The raw copy
 * and hashing step (stageRawSource) is timed separately: it is I/O, not validation.
 * `--steps` adds one instrumented run per size: the time of each ingest phase (from the
 * activity's progress callbacks) and of every DuckDB statement over 50 ms, beside the bare COPY.
 * `--store s3://bucket/prefix` runs the same ingest (and the same bare COPY, reading the raw copy
 * from the bucket and writing Parquet to it) against an artifact store in a bucket too, alternating
 * with the local runs, and prints time on S3 ÷ time on the local disk (see bench/s3-store.ts for
 * which S3 service: a throwaway versitygw when no endpoint is set).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { formatTable } from '../src/cli/output';
import { parseContract } from '../src/contract/schema';
import { buildDatasetVersion } from '../src/datasets/ingest';
import { stageRawSource, type StagedSource } from '../src/datasets/raw';
import { openDuckDb } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { ArtifactStore } from '../src/store/artifact-store';
import { contract, generateCsv } from './ingest-data';
import { type BenchS3Store, openBenchS3Store, storeOption } from './s3-store';

const OUT = path.join(__dirname, 'out', 'ingest');
const REPEATS = Number(process.env.BENCH_REPEATS ?? 2);

function argRows(): number[] {
  const i = process.argv.indexOf('--rows');
  const spec = i >= 0 ? process.argv[i + 1]! : '1000000,10000000';
  return spec.split(',').map(Number);
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Where one ingest's time goes: per progress phase, and per DuckDB statement (the connection's calls timed). */
async function printSteps(conn: DuckDBConnection, ingest: (progress: (phase: string) => void) => Promise<unknown>, copyMs: number): Promise<void> {
  const statements: Array<{ ms: number; sql: string }> = [];
  // runAndReadAll goes through run, so timing run times every statement once.
  const original = conn.run.bind(conn);
  const time = async <T>(sql: string, call: () => Promise<T>): Promise<T> => {
    const start = process.hrtime.bigint();
    try {
      return await call();
    } finally {
      statements.push({ ms: Number(process.hrtime.bigint() - start) / 1e6, sql: sql.replace(/\s+/g, ' ').slice(0, 90) });
    }
  };
  conn.run = ((sql: string, ...rest: unknown[]) => time(sql, () => (original as (...a: unknown[]) => Promise<unknown>)(sql, ...rest))) as typeof conn.run;
  const phases: Array<{ phase: string; at: bigint }> = [];
  const start = process.hrtime.bigint();
  try {
    await ingest((phase) => phases.push({ phase, at: process.hrtime.bigint() }));
  } finally {
    conn.run = original;
  }
  const end = process.hrtime.bigint();
  const rows = phases.map((p, i) => {
    const ms = Number((phases[i + 1]?.at ?? end) - p.at) / 1e6;
    return { phase: p.phase, s: (ms / 1000).toFixed(2), 'vs duckdb COPY': (ms / copyMs).toFixed(2) };
  });
  console.log(`\nOne ingest, phase by phase (total ${(Number(end - start) / 1e9).toFixed(2)} s; duckdb COPY ${(copyMs / 1000).toFixed(2)} s)\n${formatTable(rows)}`);
  const slow = statements.filter((st) => st.ms > 50).map((st) => ({ s: (st.ms / 1000).toFixed(2), statement: st.sql }));
  console.log(`\nStatements over 50 ms\n${formatTable(slow)}`);
}

/** The same ingest against the bucket: its own raw copy there (timed), then per repeat the bare COPY and the activity, both on S3. */
interface S3Runs {
  stageMs: number;
  copyMs: number[];
  oursMs: number[];
}

async function main(): Promise<void> {
  fs.mkdirSync(OUT, { recursive: true });
  const duckdb = await openDuckDb({ spillDir: path.join(OUT, 'spill') });
  const conn = await duckdb.connect();
  const parsed = parseContract(contract);
  const results: Array<Record<string, unknown>> = [];
  const s3Url = storeOption();
  const s3: BenchS3Store | undefined = s3Url ? await openBenchS3Store(s3Url, path.join(OUT, 's3')) : undefined;
  // httpfs and the bucket's secret on the instance: the local runs never touch it.
  if (s3) await s3.store.backend.setupDuckDb(conn);

  try {
    for (const rows of argRows()) {
      const csv = path.join(OUT, `bench-${rows}.csv`);
      if (!fs.existsSync(csv)) {
        process.stderr.write(`generating ${rows} rows × 20 columns … `);
        const g = await timed(() => generateCsv(conn, rows, csv));
        process.stderr.write(`${(g.ms / 1000).toFixed(1)} s, ${(fs.statSync(csv).size / 1e6).toFixed(0)} MB\n`);
      }
      const storeRoot = path.join(OUT, `store-${rows}`);
      fs.rmSync(storeRoot, { recursive: true, force: true });
      const store = new ArtifactStore(storeRoot);
      const stageInto = (into: ArtifactStore) =>
        timed(() => stageRawSource({ conn, store: into, dataset: 'bench', source: csv, retentionDays: 1, allowedRoots: [], now: new Date() }));
      const stage = await stageInto(store);
      const s3Stage = s3 ? await stageInto(s3.store) : undefined;
      const s3Runs: S3Runs | undefined = s3Stage && { stageMs: s3Stage.ms, copyMs: [], oursMs: [] };
      // A fresh version id per run (the store would otherwise return the published one).
      const fresh = (staged: StagedSource, run: string): StagedSource => ({ ...staged, fingerprint: { ...staged.fingerprint, hash: `${staged.fingerprint.hash}-${run}` } });
      const ingestInto = (into: ArtifactStore, staged: StagedSource) =>
        timed(() => buildDatasetVersion({ conn, store: into, dataset: 'bench', staged, contract: parsed, maxRejectedFraction: 0.05, now: new Date() }));

      const rawMs: number[] = [];
      const oursMs: number[] = [];
      let accepted = 0;
      for (let r = 0; r < REPEATS; r++) {
        const target = path.join(OUT, 'raw.parquet');
        rawMs.push((await timed(() => conn.run(`COPY (SELECT * FROM read_csv(${quoteString(csv)})) TO ${quoteString(target)} (FORMAT parquet)`))).ms);
        fs.rmSync(target);
        const ours = await ingestInto(store, fresh(stage.value, String(r)));
        oursMs.push(ours.ms);
        accepted = ours.value.rows.accepted;
        if (s3 && s3Stage && s3Runs) {
          // Alternating with the local runs: on a shared machine only neighbouring runs compare.
          const key = s3.store.key('bench-raw.parquet');
          const copy = `COPY (SELECT * FROM read_csv(${quoteString(s3Stage.value.files[0]!)})) TO ${quoteString(s3.store.backend.url(key))} (FORMAT parquet)`;
          s3Runs.copyMs.push((await timed(() => conn.run(copy))).ms);
          await s3.store.backend.delete(key);
          const onS3 = await ingestInto(s3.store, fresh(s3Stage.value, String(r)));
          if (onS3.value.rows.accepted !== accepted) throw new Error(`S3 ingest accepted ${onS3.value.rows.accepted} rows, the local one ${accepted}`);
          s3Runs.oursMs.push(onS3.ms);
        }
      }
      if (process.argv.includes('--steps')) {
        // The bare COPY again right before: on a shared machine only neighbouring runs compare.
        const target = path.join(OUT, 'raw.parquet');
        const copy = await timed(() => conn.run(`COPY (SELECT * FROM read_csv(${quoteString(csv)})) TO ${quoteString(target)} (FORMAT parquet)`));
        fs.rmSync(target);
        await printSteps(
          conn,
          (progress) =>
            buildDatasetVersion({ conn, store, dataset: 'bench', staged: fresh(stage.value, 'steps'), contract: parsed, maxRejectedFraction: 0.05, now: new Date(), progress }),
          copy.ms,
        );
      }
      const raw = median(rawMs);
      const ours = median(oursMs);
      results.push({
        rows,
        accepted,
        'raw copy+sha256 s': (stage.ms / 1000).toFixed(1),
        'duckdb COPY s': (raw / 1000).toFixed(2),
        'ingest activity s': (ours / 1000).toFixed(2),
        'duckdb rows/s': Math.round(rows / (raw / 1000)),
        'ingest rows/s': Math.round(rows / (ours / 1000)),
        'ratio (≥0.5)': (raw / ours).toFixed(2),
        ...(s3Runs ? s3Columns(s3Runs, stage.ms, raw, ours) : {}),
      });
      console.log(formatTable(results.slice(-1)));
      fs.rmSync(storeRoot, { recursive: true, force: true });
      if (s3) await s3.clear();
    }
  } finally {
    await s3?.close();
  }
  console.log(`\nIngestion benchmark (median of ${REPEATS}; ratio = duckdb COPY time / ingest activity time)\n${formatTable(results)}`);
  if (s3) console.log(`S3 columns: the same runs against ${s3.label}; ÷ local = time on S3 / time on the local disk (1.00: no cost)`);
  duckdb.closeSync();
}

/** The S3 runs beside the local ones (medians), and what the bucket costs each step. */
function s3Columns(runs: S3Runs, localStageMs: number, localCopyMs: number, localOursMs: number): Record<string, string> {
  const copy = median(runs.copyMs);
  const ours = median(runs.oursMs);
  return {
    'S3 raw copy s': (runs.stageMs / 1000).toFixed(1),
    'S3 duckdb COPY s': (copy / 1000).toFixed(2),
    'S3 ingest s': (ours / 1000).toFixed(2),
    'S3 ratio (COPY/ingest)': (copy / ours).toFixed(2),
    'raw copy S3÷local': (runs.stageMs / localStageMs).toFixed(2),
    'COPY S3÷local': (copy / localCopyMs).toFixed(2),
    'ingest S3÷local': (ours / localOursMs).toFixed(2),
  };
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
