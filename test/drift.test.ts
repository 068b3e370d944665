import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { type DatasetProfile, profileTable } from '../src/datasets/profile';
import { featureDrift } from '../src/monitoring/drift';
import { openDuckDb } from '../src/sql/duckdb';

let db: DuckDBInstance;
let conn: DuckDBConnection;
let training: DatasetProfile;
const FEATURES = ['x1', 'x2', 'color', 'visits'];

/** Rows from offset on; `change` swaps in one altered column expression. */
function rows(offset: number, change: Partial<Record<(typeof FEATURES)[number], string>> = {}): string {
  const columns = {
    x1: '((hash(i, 1) % 10000) / 10000.0) * 4 - 2',
    x2: 'CASE WHEN hash(i, 2) % 10 = 0 THEN NULL ELSE ((hash(i, 3) % 10000) / 10000.0) * 4 - 2 END',
    color: "['red', 'green', 'blue'][(1 + hash(i, 4) % 3)::INTEGER]",
    visits: '(hash(i, 5) % 20)::INTEGER',
    ...change,
  };
  return `(SELECT ${Object.entries(columns)
    .map(([k, v]) => `${v} AS ${k}`)
    .join(', ')} FROM range(${offset}, ${offset + 20000}) t(i))`;
}

beforeAll(async () => {
  db = await openDuckDb();
  conn = await db.connect();
  training = await profileTable(
    conn,
    { relation: rows(0) },
    [
      { name: 'x1', type: 'double' },
      { name: 'x2', type: 'double' },
      { name: 'color', type: 'string' },
      { name: 'visits', type: 'integer' },
    ],
    20000,
  );
});
afterAll(() => db?.closeSync());

const drifted = async (relation: string) => (await featureDrift(conn, relation, training, FEATURES)).filter((d) => d.drifted).map((d) => d.feature);

describe('feature drift against the training profile', () => {
  it('finds none in fresh rows from the same distribution', async () => {
    const report = await featureDrift(conn, rows(100000), training, FEATURES);
    expect(report.map((d) => d.feature)).toEqual(FEATURES);
    expect(report.every((d) => !d.drifted && d.psi < 0.02)).toBe(true);
    expect(report.find((d) => d.feature === 'color')!.test).toBe('chi-square');
    expect(report.find((d) => d.feature === 'x1')!.test).toBe('ks');
  });

  it('flags exactly the feature that moved', async () => {
    expect(await drifted(rows(100000, { x1: '((hash(i, 1) % 10000) / 10000.0) * 4 - 0.5' }))).toEqual(['x1']);
    expect(await drifted(rows(100000, { color: "CASE WHEN hash(i, 4) % 10 < 7 THEN 'red' ELSE 'blue' END" }))).toEqual(['color']);
    expect(await drifted(rows(100000, { x2: 'CASE WHEN hash(i, 2) % 10 < 6 THEN NULL ELSE ((hash(i, 3) % 10000) / 10000.0) * 4 - 2 END' }))).toEqual(['x2']);
    expect(await drifted(rows(100000, { visits: '(hash(i, 5) % 20 + 15)::INTEGER' }))).toEqual(['visits']);
  });

  it('counts unseen categories and out-of-range values in the end bins', async () => {
    const report = await featureDrift(conn, rows(100000, { color: "'purple'", x1: '100.0' }), training, FEATURES);
    const color = report.find((d) => d.feature === 'color')!;
    expect(color.bins.find((b) => b.bin === 'other')!.live).toBe(1);
    const x1 = report.find((d) => d.feature === 'x1')!;
    expect(x1.bins.at(-2)!.live).toBe(1); // the last value bin, before "missing"
    expect(x1.drifted && color.drifted).toBe(true);
  });
});

describe('the training profile the drift is measured against', () => {
  it('counts every non-null value into its histogram (edges are exact DOUBLEs in SQL)', () => {
    for (const p of training.filter((c) => c.histogram)) {
      expect(
        p.histogram!.counts.reduce((a, b) => a + b, 0),
        p.name,
      ).toBe(p.count);
      expect(
        p.histogram!.counts.every((c) => c > 0),
        p.name,
      ).toBe(true);
    }
  });
});
