import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../src/client/ingest';
import { listVersions } from '../src/datasets/catalog';
import type { DatasetManifest } from '../src/datasets/manifest';
import { HISTOGRAM_BINS } from '../src/datasets/profile';
import { openDuckDb, queryRows } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { people, peopleContract, type PersonRow, stats, toCsv, writePeopleCsv } from './helpers/data';
import { type TestEnv, startTestEnv } from './helpers/env';
import { rootFailure } from './helpers/failures';

let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv('ingest');
});
afterAll(async () => {
  await env?.shutdown();
});

const input = (name: string) => path.join(env.inputDir, name);
const readManifest = (uri: string) => JSON.parse(fs.readFileSync(uri, 'utf8')) as DatasetManifest;

async function readParquet(uri: string): Promise<Array<Record<string, unknown>>> {
  const db = await openDuckDb();
  try {
    const conn = await db.connect();
    return await queryRows(conn, `SELECT * FROM read_parquet(${quoteString(uri)})`);
  } finally {
    db.closeSync();
  }
}

describe('ingestDataset on a good CSV', () => {
  const rows: PersonRow[] = people(600, 7);

  it('publishes a version whose profile matches independently computed statistics', async () => {
    writePeopleCsv(input('people.csv'), rows);
    const ref = await ingest(env.client, env.config, {
      dataset: 'people',
      source: input('people.csv'),
      contract: peopleContract,
    });
    expect(ref.rows).toEqual({ read: 600, accepted: 600, rejected: 0 });
    expect(ref.reused).toBe(false);
    expect(ref.quarantineUri).toBeUndefined();

    const manifest = readManifest(ref.manifestUri);
    expect(manifest.version).toBe(ref.version);
    expect(manifest.schema.map((c) => c.type)).toEqual(['BIGINT', 'DOUBLE', 'DOUBLE', 'VARCHAR', 'BOOLEAN']);

    const byName = Object.fromEntries(manifest.profile.map((p) => [p.name, p]));
    for (const column of ['age', 'income'] as const) {
      const values = rows.map((r) => r[column]).filter((v): v is number => v !== null);
      const expected = stats(values);
      const p = byName[column]!;
      expect(p.count).toBe(values.length);
      expect(p.nulls).toBe(rows.length - values.length);
      expect(p.distinct).toBe(expected.distinct);
      expect(p.min).toBe(expected.min);
      expect(p.max).toBe(expected.max);
      expect(p.mean).toBeCloseTo(expected.mean, 6);
      expect(p.std).toBeCloseTo(expected.std, 6);
      for (const q of [0.01, 0.25, 0.5, 0.75, 0.99]) expect(p.quantiles![String(q)]).toBeCloseTo(expected.quantile(q), 6);

      const { edges, counts } = p.histogram!;
      expect(edges).toHaveLength(HISTOGRAM_BINS + 1);
      expect(edges[0]).toBe(expected.min);
      expect(edges[HISTOGRAM_BINS]).toBe(expected.max);
      const expectedCounts = counts.map((_, i) => values.filter((v) => (i === 0 ? v >= edges[0]! : v > edges[i]!) && v <= edges[i + 1]!).length);
      expect(counts).toEqual(expectedCounts);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(values.length);
    }

    const cityCounts = new Map<string, number>();
    for (const r of rows) cityCounts.set(r.city, (cityCounts.get(r.city) ?? 0) + 1);
    const expectedTop = [...cityCounts.entries()].map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : 1));
    expect(byName.city!.top).toEqual(expectedTop);
    expect(byName.active!.top!.find((t) => t.value === 'true')!.count).toBe(rows.filter((r) => r.active).length);

    const snapshot = await readParquet(ref.snapshotUri);
    expect(snapshot).toHaveLength(600);
    expect(snapshot[0]).toEqual({ id: rows[0]!.id, age: rows[0]!.age, income: rows[0]!.income, city: rows[0]!.city, active: rows[0]!.active });

    expect(fs.existsSync(manifest.raw.uri)).toBe(true);
    const expiresInDays = (Date.parse(manifest.raw.expiresAt) - Date.parse(manifest.createdAt)) / 86_400_000;
    expect(expiresInDays).toBeCloseTo(30, 1);
  });

  it('returns the same version for the same input and publishes nothing twice', async () => {
    const first = await ingest(env.client, env.config, { dataset: 'people', source: input('people.csv'), contract: peopleContract });
    fs.copyFileSync(input('people.csv'), input('people-copy.csv'));
    const second = await ingest(env.client, env.config, { dataset: 'people', source: input('people-copy.csv'), contract: peopleContract });
    expect(second.version).toBe(first.version);
    expect(second.reused).toBe(true);
    expect(await listVersions(env.store, 'people')).toHaveLength(1);
  });
});

describe('contract violations', () => {
  /** 200 rows, of which exactly 20 (10%) are bad in known ways. */
  function writeWithBadRows(file: string): void {
    const rows = people(200, 11).map((p) => [p.id, p.age, p.income, p.city, p.active] as Array<string | number | boolean | null>);
    for (let i = 0; i < 5; i++) rows[i * 10]![1] = 150; // age above max
    for (let i = 0; i < 5; i++) rows[i * 10 + 1]![3] = 'Atlantis'; // city not allowed
    for (let i = 0; i < 4; i++) rows[i * 10 + 2]![1] = 'old'; // age not a number
    for (let i = 0; i < 3; i++) rows[i * 10 + 3]![1] = null; // age missing
    rows[4]![0] = rows[5]![0]!; // duplicate key: both rows rejected
    rows[100]![2] = -5; // income below min
    fs.writeFileSync(file, toCsv(['id', 'age', 'income', 'city', 'active'], rows));
  }

  it('quarantines 10% bad rows with a reason per row and publishes the rest', async () => {
    writeWithBadRows(input('bad10.csv'));
    const ref = await ingest(env.client, env.config, {
      dataset: 'people-bad',
      source: input('bad10.csv'),
      contract: peopleContract,
      maxRejectedFraction: 0.15,
    });
    expect(ref.rows).toEqual({ read: 200, accepted: 180, rejected: 20 });
    const manifest = readManifest(ref.manifestUri);
    expect(Object.fromEntries(manifest.topRejectReasons.map((r) => [r.reason, r.count]))).toEqual({
      'age: above max 120': 5,
      'city: value not in allowed set': 5,
      'age: not a valid double': 4,
      'age: missing value (not nullable)': 3,
      'key (id): duplicate key': 2,
      'income: below min 0': 1,
    });
    const quarantined = await readParquet(ref.quarantineUri!);
    expect(quarantined).toHaveLength(20);
    const old = quarantined.filter((r) => r.age === 'old');
    expect(old).toHaveLength(4);
    expect(old[0]!._mlops_reason).toBe('age: not a valid double');
    expect(quarantined.filter((r) => r.city === 'Atlantis').every((r) => r._mlops_reason === 'city: value not in allowed set')).toBe(true);
  });

  it('a stricter request does not reuse a version published under a looser threshold', async () => {
    const failure = await rootFailure(ingest(env.client, env.config, { dataset: 'people-bad', source: input('bad10.csv'), contract: peopleContract, maxRejectedFraction: 0.05 }));
    expect(failure.type).toBe('ContractViolation');
    expect(failure.message).toContain('20 of 200 rows (10.0%)');
  });

  it('fails with ContractViolation over the threshold and publishes nothing', async () => {
    const failure = await rootFailure(ingest(env.client, env.config, { dataset: 'people-strict', source: input('bad10.csv'), contract: peopleContract }));
    expect(failure.type).toBe('ContractViolation');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('20 of 200 rows (10.0%) break the contract');
    expect(failure.message).toContain('5 × age: above max 120');
    expect(await listVersions(env.store, 'people-strict')).toHaveLength(0);
    const details = failure.details?.[0] as { quarantineUri: string; rawUri: string };
    expect(fs.existsSync(details.quarantineUri)).toBe(true);
    expect(fs.existsSync(details.rawUri)).toBe(true);
  });

  it('rejects NaN and Infinity in numeric columns', async () => {
    const rows = people(40, 3).map((p) => [p.id, p.age, p.income, p.city, p.active] as Array<string | number | boolean | null>);
    rows[0]![1] = 'NaN';
    rows[1]![2] = 'Infinity';
    rows[2]![2] = '-inf';
    fs.writeFileSync(input('nan.csv'), toCsv(['id', 'age', 'income', 'city', 'active'], rows));
    const ref = await ingest(env.client, env.config, {
      dataset: 'people-nan',
      source: input('nan.csv'),
      contract: peopleContract,
      maxRejectedFraction: 0.1,
    });
    expect(ref.rows.rejected).toBe(3);
    const reasons = readManifest(ref.manifestUri).topRejectReasons;
    expect(reasons).toEqual([
      { reason: 'income: NaN or Infinity', count: 2 },
      { reason: 'age: NaN or Infinity', count: 1 },
    ]);
  });

  it('quarantines malformed CSV lines (wrong column count) with the raw line', async () => {
    const good = toCsv(
      ['id', 'age', 'income', 'city', 'active'],
      people(50, 5).map((p) => [p.id, p.age, p.income, p.city, p.active]),
    );
    fs.writeFileSync(input('ragged.csv'), `${good}999,30\n`);
    const ref = await ingest(env.client, env.config, {
      dataset: 'people-ragged',
      source: input('ragged.csv'),
      contract: peopleContract,
    });
    expect(ref.rows).toEqual({ read: 51, accepted: 50, rejected: 1 });
    const [bad] = await readParquet(ref.quarantineUri!);
    expect(bad!._mlops_raw_line).toBe('999,30');
    expect(String(bad!._mlops_reason)).toMatch(/^malformed CSV line/);
  });
});

describe('other sources', () => {
  const rows = people(120, 21);

  it('ingests Parquet and NDJSON with the same contract', async () => {
    const ndjson = rows.map((r) => JSON.stringify(r)).join('\n');
    fs.writeFileSync(input('people.ndjson'), `${ndjson}\n`);
    const db = await openDuckDb();
    const conn = await db.connect();
    await conn.run(`COPY (SELECT * FROM read_json(${quoteString(input('people.ndjson'))})) TO ${quoteString(input('people.parquet'))} (FORMAT parquet)`);
    db.closeSync();

    const fromJson = await ingest(env.client, env.config, { dataset: 'people-json', source: input('people.ndjson'), contract: peopleContract });
    const fromParquet = await ingest(env.client, env.config, { dataset: 'people-pq', source: input('people.parquet'), contract: peopleContract });
    for (const ref of [fromJson, fromParquet]) {
      expect(ref.rows).toEqual({ read: 120, accepted: 120, rejected: 0 });
      const snapshot = await readParquet(ref.snapshotUri);
      expect(snapshot.map((r) => r.id)).toEqual(rows.map((r) => r.id));
      expect(snapshot.map((r) => r.income)).toEqual(rows.map((r) => r.income));
    }
  });

  it('ingests a glob of CSV files as one version, and infers a contract when none is given', async () => {
    fs.mkdirSync(input('parts'));
    writePeopleCsv(input('parts/a.csv'), rows.slice(0, 60));
    writePeopleCsv(input('parts/b.csv'), rows.slice(60));
    const ref = await ingest(env.client, env.config, { dataset: 'people-glob', source: input('parts/*.csv') });
    expect(ref.rows.accepted).toBe(120);
    const manifest = readManifest(ref.manifestUri);
    expect(manifest.contractInferred).toBe(true);
    expect(manifest.source.files.map((f) => path.basename(f.original))).toEqual(['a.csv', 'b.csv']);
    expect(manifest.contract.columns.map((c) => [c.name, c.type])).toEqual([
      ['id', 'integer'],
      ['age', 'double'],
      ['income', 'integer'],
      ['city', 'string'],
      ['active', 'boolean'],
    ]);
  });
});

describe('bad input gets a clear error', () => {
  it('empty file', async () => {
    fs.writeFileSync(input('empty.csv'), '');
    const failure = await rootFailure(ingest(env.client, env.config, { dataset: 'e', source: input('empty.csv'), contract: peopleContract }));
    expect(failure.type).toBe('EmptySource');
    expect(failure.message).toMatch(/empty \(0 bytes\)/);
  });

  it('header-only file', async () => {
    fs.writeFileSync(input('header.csv'), 'id,age,income,city,active\n');
    const failure = await rootFailure(ingest(env.client, env.config, { dataset: 'h', source: input('header.csv'), contract: peopleContract }));
    expect(failure.type).toBe('EmptySource');
    expect(failure.message).toMatch(/header but no data rows/);
  });

  it('wrong delimiter', async () => {
    fs.writeFileSync(
      input('semicolon.csv'),
      toCsv(
        ['id', 'age', 'income', 'city', 'active'],
        people(20, 2).map((p) => [p.id, p.age, p.income, p.city, p.active]),
        ';',
      ),
    );
    const failure = await rootFailure(ingest(env.client, env.config, { dataset: 'd', source: input('semicolon.csv'), contract: peopleContract, csv: { delimiter: ',' } }));
    expect(failure.type).toBe('SchemaMismatch');
    expect(failure.message).toContain('delimiter is probably wrong');
    // Without the wrong override DuckDB's sniffer finds the semicolon itself.
    const ref = await ingest(env.client, env.config, { dataset: 'd', source: input('semicolon.csv'), contract: peopleContract });
    expect(ref.rows.accepted).toBe(20);
  });

  it('hostile column names are data, not SQL', async () => {
    const hostile = ['a"b', "it's", 'x; DROP TABLE t; --', 'ünï 名前', 'sp ace'];
    const rows = Array.from({ length: 30 }, (_, i) => [i, i % 10 === 0 ? `bad!${i}` : `v${i}`, i * 2, i % 3, 'ok']);
    fs.writeFileSync(input('hostile.csv'), toCsv(hostile, rows));
    const contract = {
      columns: [
        { name: hostile[0]!, type: 'integer' as const },
        { name: hostile[1]!, type: 'string' as const, pattern: '^v[0-9]+$' },
        { name: hostile[2]!, type: 'double' as const, max: 40 },
        { name: hostile[3]!, type: 'integer' as const, allowed: [0, 1] },
        { name: hostile[4]!, type: 'string' as const },
      ],
      key: [hostile[0]!],
    };
    const ref = await ingest(env.client, env.config, { dataset: 'hostile', source: input('hostile.csv'), contract, maxRejectedFraction: 0.7 });
    // above max: i = 21…29; pattern: i = 0, 10, 20; not allowed (i % 3 = 2): 10 rows; 18 rows in all.
    expect(ref.rows).toEqual({ read: 30, accepted: 12, rejected: 18 });
    const manifest = readManifest(ref.manifestUri);
    expect(manifest.topRejectReasons).toEqual([
      { reason: 'ünï 名前: value not in allowed set', count: 10 },
      { reason: 'x; DROP TABLE t; --: above max 40', count: 9 },
      { reason: "it's: does not match pattern", count: 3 },
    ]);
    const snapshot = await readParquet(ref.snapshotUri);
    expect(Object.keys(snapshot[0]!)).toEqual(hostile);
  });

  it('dataset names with ../ and invalid contracts are refused before anything runs', async () => {
    fs.writeFileSync(input('tiny.csv'), 'a\n1\n');
    await expect(ingest(env.client, env.config, { dataset: '../etc', source: input('tiny.csv') })).rejects.toThrow(/dataset name must be 1-100 characters/);
    await expect(ingest(env.client, env.config, { dataset: 'a..b', source: input('tiny.csv') })).rejects.toThrow(/not contain '\.\.'/);
    await expect(
      ingest(env.client, env.config, {
        dataset: 'ok',
        source: input('tiny.csv'),
        contract: { columns: [{ name: 'a', type: 'double', min: 5, max: 1 }], key: ['zzz'] },
      }),
    ).rejects.toThrow(/min \(5\) is greater than max \(1\)[\s\S]*key refers to unknown column "zzz"/);
    expect(fs.existsSync(env.store.path('datasets', 'ok'))).toBe(false);
  });

  it('names are checked again at activity entry, for clients that skip the client-side checks', async () => {
    const failure = await rootFailure(
      env.client.workflow.execute('ingestDataset', {
        taskQueue: env.config.taskQueue,
        workflowId: 'ingest-raw-bad-name',
        args: [{ dataset: '../../etc', source: input('tiny.csv'), retentionDays: 1, maxRejectedFraction: 0.05 }],
      }),
    );
    expect(failure.type).toBe('InvalidInput');
    expect(failure.message).toMatch(/dataset name must be/);
    expect(fs.existsSync(path.join(env.config.dataDir, '..', 'etc'))).toBe(false);
  });

  it('a missing source file is a clear, non-retryable error', async () => {
    const failure = await rootFailure(ingest(env.client, env.config, { dataset: 'm', source: input('nope.csv') }));
    expect(failure.type).toBe('SourceNotFound');
    expect(failure.message).toContain('nope.csv does not exist');
  });
});
