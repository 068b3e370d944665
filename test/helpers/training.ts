import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll } from 'vitest';
import { parseContract } from '../../src/contract/schema';
import type { FeatureSpec, SplitData } from '../../src/training/data';
import { feedsFromSplit, loadSession } from '../../src/onnx/runtime';
import { quoteString } from '../../src/sql/quote';
import { openDuckDb } from '../../src/sql/duckdb';
import { ingest } from '../../src/client/ingest';
import type { DatasetVersionRef } from '../../src/datasets/manifest';
import type { TestEnv } from './env';

/**
 * Synthetic problems with known structure, as Parquet snapshots: two numeric features (one with
 * missing values), one categorical with an effect per level, and labels drawn from the true model.
 */
export function syntheticDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-train-'));
}

/**
 * Writes the synthetic problems before the file's tests and removes them after; `conn()` is a
 * DuckDB connection for the tests, `file(name)` a problem's Parquet path.
 */
export function useSyntheticProblems(): { conn: () => DuckDBConnection; file: (name: string) => string; dir: string } {
  const dir = syntheticDir();
  let db: DuckDBInstance | undefined;
  let conn: DuckDBConnection | undefined;
  beforeAll(async () => {
    db = await openDuckDb();
    conn = await db.connect();
    await writeSyntheticProblems(conn, dir);
  });
  afterAll(() => {
    db?.closeSync();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { conn: () => conn!, file: (name) => path.join(dir, `${name}.parquet`), dir };
}

export async function writeSyntheticProblems(conn: DuckDBConnection, dir: string, rows = 6000): Promise<void> {
  const base = `SELECT i AS id,
      ((hash(i, 1) % 10000) / 10000.0) * 4 - 2 AS x1,
      CASE WHEN hash(i, 2) % 10 = 0 THEN NULL ELSE ((hash(i, 3) % 10000) / 10000.0) * 4 - 2 END AS x2,
      ['red', 'green', 'blue'][(1 + hash(i, 4) % 3)::INTEGER] AS color,
      (hash(i, 5) % 1000000) / 1000000.0 AS u
    FROM range(${rows}) t(i)`;
  // Binary: logit = 2·x1 − 1.5·x2 + color effect; multiclass: bands of x1; regression: linear + noise.
  await conn.run(`COPY (SELECT id, x1, x2, color,
      u < 1 / (1 + exp(-(2 * x1 - 1.5 * coalesce(x2, 0) + CASE color WHEN 'red' THEN 1 WHEN 'blue' THEN -1 ELSE 0 END))) AS y
    FROM (${base})) TO ${quoteString(path.join(dir, 'binary.parquet'))} (FORMAT parquet)`);
  await conn.run(`COPY (SELECT id, x1, x2, color,
      CASE WHEN x1 > 0.7 THEN 'high' WHEN x1 < -0.7 THEN 'low' ELSE 'mid' END AS y
    FROM (${base})) TO ${quoteString(path.join(dir, 'multi.parquet'))} (FORMAT parquet)`);
  await conn.run(`COPY (SELECT id, x1, x2, color,
      3 * x1 - 2 * coalesce(x2, 0) + CASE color WHEN 'red' THEN 5 ELSE 0 END + (u - 0.5) * 0.2 AS y
    FROM (${base})) TO ${quoteString(path.join(dir, 'reg.parquet'))} (FORMAT parquet)`);
}

export function contractFor(labelType: 'boolean' | 'string' | 'double') {
  return parseContract({
    columns: [
      { name: 'id', type: 'integer' },
      { name: 'x1', type: 'double' },
      { name: 'x2', type: 'double' },
      { name: 'color', type: 'string' },
      { name: 'y', type: labelType },
    ],
    key: ['id'],
    label: 'y',
  });
}

export async function onnxOutputs(bytes: Uint8Array, split: SplitData, features: readonly FeatureSpec[]) {
  const session = await loadSession(bytes);
  return session.run(feedsFromSplit(split, features));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Ingests a binary "churn" dataset (4000 rows: x1, x2 with gaps, color; label churned) through the real workflow. */
export async function ingestChurn(env: TestEnv, rows = 4000): Promise<DatasetVersionRef> {
  const db = await openDuckDb();
  const conn = await db.connect();
  const file = churnCsv(env, rows);
  await conn.run(
    `COPY (SELECT i AS id, ((hash(i, 1) % 10000) / 10000.0) * 4 - 2 AS x1,
             CASE WHEN hash(i, 2) % 10 = 0 THEN NULL ELSE ((hash(i, 3) % 10000) / 10000.0) * 4 - 2 END AS x2,
             ['red', 'green', 'blue'][(1 + hash(i, 4) % 3)::INTEGER] AS color,
             (hash(i, 5) % 1000000) / 1000000.0 < 1 / (1 + exp(-(2 * x1 - 1.5 * coalesce(x2, 0)))) AS churned
           FROM range(${rows}) t(i))
     TO ${quoteString(file)} (HEADER)`,
  );
  db.closeSync();
  return ingest(env.client, env.config, {
    dataset: 'churn',
    source: file,
    contract: CHURN_CONTRACT,
  });
}

export const CHURN_CONTRACT = {
  columns: [
    { name: 'id', type: 'integer' as const, nullable: false },
    { name: 'x1', type: 'double' as const },
    { name: 'x2', type: 'double' as const },
    { name: 'color', type: 'string' as const },
    { name: 'churned', type: 'boolean' as const, nullable: false },
  ],
  key: ['id'],
  label: 'churned',
};

/** The CSV ingestChurn wrote for `rows` rows. */
export function churnCsv(env: TestEnv, rows = 4000): string {
  return path.join(env.inputDir, `churn-${rows}.csv`);
}
