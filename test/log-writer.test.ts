import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelCard } from '../src/models/card';
import { encodeHybrid } from '../src/parquet/hybrid';
import { ParquetFileWriter } from '../src/parquet/writer';
import { predictionLogColumns } from '../src/scoring/log-columns';
import { PredictionLogPart } from '../src/scoring/log-writer';
import { openDuckDb } from '../src/sql/duckdb';
import { quoteIdent, quoteString } from '../src/sql/quote';

/**
 * The Parquet writer behind the batch prediction log, checked by the reader that matters: DuckDB
 * reads every file back, value by value, and its schema must be the log's (log-columns.ts).
 */
let dir: string;
let db: DuckDBInstance;
let conn: DuckDBConnection;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-parquet-'));
  db = await openDuckDb();
  conn = await db.connect();
});
afterAll(() => {
  conn?.closeSync();
  db?.closeSync();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function rows(sql: string): Promise<unknown[][]> {
  return (await conn.runAndReadAll(sql)).getRows();
}

let seed = 11;
const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;

describe('Parquet writer', () => {
  it('writes floats, doubles, integers, text and dictionaries that DuckDB reads back exactly, over several row groups', async () => {
    const file = path.join(dir, 'all.parquet');
    const dictionary = Array.from({ length: 3000 }, (_, i) => `v${i}`); // an 12-bit index
    const writer = new ParquetFileWriter(
      file,
      [
        { name: 'n', type: 'INT64' },
        { name: 's', type: 'STRING' },
        {
          name: 'g',
          children: [
            { name: 'x', type: 'FLOAT', nanIsNull: true },
            { name: 'y "quoted"', type: 'DOUBLE' },
          ],
        },
        { name: 'd', type: 'STRING', dictionary },
        { name: 'c', type: 'STRING', dictionary: ['only'] },
      ],
      1000, // row groups of ≥ 1000 rows: batches of 333 make several, and a short last one
    );
    const expected: Array<[bigint, string | null, number | null, number, string | null, string]> = [];
    let n = 0;
    for (let batch = 0; batch < 10; batch++) {
      const count = 333;
      const ints = new BigInt64Array(count);
      const text: Array<string | null> = [];
      const x = new Float32Array(count);
      const y = new Float64Array(count);
      const indices = new Int32Array(count);
      for (let i = 0; i < count; i++, n++) {
        ints[i] = BigInt(n) * (n % 2 ? -1n : 1n) * 1_000_000_007n;
        text.push(i % 17 === 0 ? null : i % 5 === 0 ? '' : `ünïcødé ${n} ✓ 𝄞`);
        x[i] = i % 13 === 0 ? NaN : i % 29 === 0 ? -0 : i % 31 === 0 ? Infinity : Math.fround(random() * 100 - 50);
        y[i] = i % 19 === 0 ? NaN : i % 23 === 0 ? -Infinity : random() * 1e10;
        // runs of 1..20 equal indices (RLE and bit-packed both), some NULL (−1)
        indices[i] = i % 41 === 0 ? -1 : Math.floor(n / (1 + (batch % 20))) % dictionary.length;
        expected.push([ints[i]!, text[i]!, Number.isNaN(x[i]!) ? null : x[i]!, y[i]!, indices[i]! < 0 ? null : dictionary[indices[i]!]!, 'only']);
      }
      writer.write([ints, text, x, y, { indices }, { repeat: 0 }], count);
    }
    writer.close();

    const got = await rows(`SELECT n, s, g.x, g."y ""quoted""", d, c FROM read_parquet(${quoteString(file)}) ORDER BY file_row_number`);
    const groups = await rows(`SELECT count(DISTINCT row_group_id) FROM parquet_metadata(${quoteString(file)})`);
    expect(Number(groups[0]![0])).toBe(3); // 3330 rows: 1332, 1332 (four batches reach 1000) and the last 666
    expect(got.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) {
      const want = expected[i]!;
      const row = got[i]!;
      const same = row.every((v, j) => Object.is(v, want[j]) || (typeof v === 'number' && Number.isNaN(v) && Number.isNaN(want[j] as number)));
      if (!same) expect([i, row]).toEqual([i, want]);
    }
  });

  it('delta-encodes integers, writes integers as decimal text, and DuckDB reads both back exactly', async () => {
    const file = path.join(dir, 'delta.parquet');
    const writer = new ParquetFileWriter(file, [
      { name: 'n', type: 'INT64', delta: true },
      { name: 'text', type: 'STRING' },
    ]);
    const expected: Array<[bigint, string]> = [];
    const shapes: Array<(i: number) => bigint> = [
      (i) => BigInt(1000 + i), // consecutive: width 0
      () => BigInt(Math.floor(random() * 2 ** 31)) - 2n ** 30n, // random, negative too
      (i) => (i % 2 ? 2n ** 63n - 1n : -(2n ** 63n)) + BigInt(i % 2 ? -i : i), // beyond the safe integers: PLAIN, text by String()
      (i) => BigInt(i * i * 977), // growing deltas across miniblocks
      (i) => BigInt(2 ** 31 - 20 + i) * BigInt(i % 3 === 0 ? 1 : 4_194_304) * (i % 2 ? -1n : 1n), // both sides of 2^31, up to 2^53
      () => 0n, // one value: a page with the header only
    ];
    const counts = [300, 129, 40, 1000, 64, 1];
    shapes.forEach((shape, b) => {
      const n = counts[b]!;
      const ints = BigInt64Array.from({ length: n }, (_, i) => shape(i));
      writer.write([ints, ints], n);
      ints.forEach((v) => expected.push([v, String(v)]));
    });
    writer.close();
    const encodings = await rows(`SELECT DISTINCT path_in_schema, encodings FROM parquet_metadata(${quoteString(file)}) ORDER BY 1`);
    expect(encodings).toEqual([
      ['n', 'DELTA_BINARY_PACKED, PLAIN, RLE'],
      ['text', 'PLAIN, RLE'],
    ]);
    expect(await rows(`SELECT n, text FROM read_parquet(${quoteString(file)}) ORDER BY file_row_number`)).toEqual(expected);
    expect(await rows(`SELECT count(*) FROM read_parquet(${quoteString(file)}) WHERE CAST(n AS VARCHAR) <> text`)).toEqual([[0n]]);
  });

  it('writes a NULL group (a row without contributions) apart from a group whose field is NULL', async () => {
    const file = path.join(dir, 'groups.parquet');
    const writer = new ParquetFileWriter(file, [
      {
        name: 'g',
        children: [
          { name: 'x', type: 'FLOAT', nanIsNull: true },
          { name: 'y', type: 'DOUBLE' },
        ],
      },
    ]);
    const groupNull = Uint8Array.of(0, 1, 0, 1);
    writer.write(
      [
        { values: Float32Array.of(1, 99, NaN, 99), groupNull },
        { values: Float64Array.of(2, 99, 3, 99), groupNull },
      ],
      4,
    );
    writer.close();
    expect(await rows(`SELECT g IS NULL, g.x, g.y FROM read_parquet(${quoteString(file)}) ORDER BY file_row_number`)).toEqual([
      [false, 1, 2],
      [true, null, null],
      [false, null, 3],
      [true, null, null],
    ]);
    const flat = new ParquetFileWriter(path.join(dir, 'flat.parquet'), [{ name: 'x', type: 'FLOAT' }]);
    expect(() => flat.write([{ values: Float32Array.of(1), groupNull: Uint8Array.of(0) }], 1)).toThrow(/a group's NULL rows go with a FLOAT leaf of that group/);
    flat.discard();
  });

  it('writes a file with no rows that DuckDB reads as empty, with its schema', async () => {
    const file = path.join(dir, 'empty.parquet');
    const writer = new ParquetFileWriter(file, [
      { name: 'a', type: 'DOUBLE' },
      { name: 't', type: 'TIMESTAMP', dictionary: [0] },
    ]);
    writer.close();
    expect(await rows(`SELECT count(*) FROM read_parquet(${quoteString(file)})`)).toEqual([[0n]]);
    expect((await rows(`DESCRIBE SELECT * FROM read_parquet(${quoteString(file)})`)).map((r) => [r[0], r[1]])).toEqual([
      ['a', 'DOUBLE'],
      ['t', 'TIMESTAMP'],
    ]);
  });

  it('refuses values that do not fit without keeping any of the batch, and leaves nothing behind when discarded', async () => {
    const file = path.join(dir, 'bad.parquet');
    const fields = [
      { name: 'a', type: 'FLOAT' as const },
      { name: 'd', type: 'STRING' as const, dictionary: ['x', 'y'] },
    ];
    const writer = new ParquetFileWriter(file, fields);
    expect(() => writer.write([new Float64Array(2), { indices: Int32Array.of(0, 1) }], 2)).toThrow(/a is FLOAT, not a Float64Array/);
    expect(() => writer.write([new Float32Array(1), { indices: Int32Array.of(0, 1) }], 2)).toThrow(/1 values for 2 rows/);
    // column a's page is fine, d's is not: a must not keep its page either
    expect(() => writer.write([new Float32Array(2), { indices: Int32Array.of(0, 2) }], 2)).toThrow(/index 2 is not in its dictionary of 2/);
    expect(() => writer.write([new Float32Array(2)], 2)).toThrow(/1 columns, the file 2/);
    writer.write([Float32Array.of(1, 2), { indices: Int32Array.of(1, 0) }], 2);
    writer.close();
    expect(await rows(`SELECT a, d FROM read_parquet(${quoteString(file)})`)).toEqual([
      [1, 'y'],
      [2, 'x'],
    ]);
    expect(() => writer.write([new Float32Array(2), { indices: Int32Array.of(0, 1) }], 2)).toThrow(/already closed/);

    const dropped = new ParquetFileWriter(path.join(dir, 'dropped.parquet'), fields);
    dropped.write([Float32Array.of(1), { indices: Int32Array.of(0) }], 1);
    dropped.discard();
    expect(fs.existsSync(dropped.file)).toBe(false);
    // A full disk (/dev/full answers every write with ENOSPC): the error names the file, so the filesystem to free is known.
    let full: NodeJS.ErrnoException | undefined;
    try {
      new ParquetFileWriter('/dev/full', fields);
    } catch (err) {
      full = err as NodeJS.ErrnoException;
    }
    expect([full?.code, full?.path]).toEqual(['ENOSPC', '/dev/full']);
  });
});

describe('RLE / bit-packing hybrid', () => {
  it('encodes runs as RLE and the rest as whole bit-packed groups', () => {
    // 9 equal values: one RLE run (header 9 << 1, the value in one byte)
    expect(Array.from(encodeHybrid([3, 3, 3, 3, 3, 3, 3, 3, 3], 9, 2))).toEqual([18, 3]);
    // 3 values: one bit-packed group of 8 (header 1 << 1 | 1), padded with zeros, 2 bits each
    expect(Array.from(encodeHybrid([1, 2, 3], 3, 2))).toEqual([3, 0b111001, 0]);
    // a group, then a run of 8: the group stays whole, the run is RLE
    expect(Array.from(encodeHybrid([1, 0, 1, 0, 1, 0, 1, 0, 2, 2, 2, 2, 2, 2, 2, 2], 16, 2))).toEqual([3, 0b00010001, 0b00010001, 16, 2]);
    expect(() => encodeHybrid([1], 1, 0)).toThrow(/bit width 0/);
  });
});

describe('prediction log part', () => {
  const card = (classes: string[], inputs: Array<{ name: string; type: 'float' | 'string' }>, explanation?: string[]) =>
    ({ model: 'm', version: 'v1', classes, onnx: { inputs }, ...(explanation ? { explanation: { columns: explanation, output: 'contributions' } } : {}) }) as unknown as ModelCard;
  const run = { model: 'm', modelVersion: 'v1', runId: 'run-1', dataset: 'd', datasetVersion: 'dv1', scoredAtMicros: Date.UTC(2026, 11, 8, 1, 2, 3, 456) * 1000 };

  async function describeFile(file: string): Promise<string[][]> {
    return (await rows(`DESCRIBE SELECT * FROM read_parquet(${quoteString(file)})`)).map((r) => [String(r[0]), String(r[1])]);
  }
  async function describeColumns(c: ModelCard): Promise<string[][]> {
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE expected_log (${predictionLogColumns(c)
        .map((col) => `${quoteIdent(col.name)} ${col.type}`)
        .join(', ')})`,
    );
    return (await rows('DESCRIBE expected_log')).map((r) => [String(r[0]), String(r[1])]);
  }

  it('has the columns of log-columns.ts, for a classifier with contributions and a regression with text inputs', async () => {
    for (const c of [
      card(
        ['no', 'yes'],
        [
          { name: 'a b', type: 'float' },
          { name: 'f"2', type: 'float' },
        ],
        ['a b', 'f"2', 'bias'],
      ),
      card(
        [],
        [
          { name: 'city', type: 'string' },
          { name: 'x', type: 'float' },
        ],
      ),
    ]) {
      const file = path.join(dir, 'schema.parquet');
      const part = new PredictionLogPart(file, c, run, ['out-of-range', 'not-a-number']);
      part.close();
      expect(await describeFile(file)).toEqual(await describeColumns(c));
    }
  });

  it('holds what the scoring loop gave it: NULL for a missing feature, no label or flag where there is none', async () => {
    const c = card(
      ['no', 'yes'],
      [
        { name: 'x', type: 'float' },
        { name: 'city', type: 'string' },
      ],
      ['x', 'city', 'bias'],
    );
    const file = path.join(dir, 'part.parquet');
    const part = new PredictionLogPart(file, c, run, ['out-of-range', 'not-a-number']);
    part.write(
      {
        rowNumbers: BigInt64Array.of(7n, 8n, 9n),
        keys: BigInt64Array.of(-5n, 9007199254740993n, 0n),
        features: [Float32Array.of(1.5, NaN, -2), ['Zürich', '', 'Oslo']],
        output: Float64Array.of(0.25, 1.5, NaN),
        labelIndex: Int32Array.of(0, 1, -1),
        flags: Int32Array.of(0, 1, 2),
        contributions: Float32Array.of(0.5, 0, -1, NaN, 2, 3, 0.25, 0.5, 0.75),
      },
      3,
    );
    part.close();
    const got = await rows(
      `SELECT row_number, key, features.x, features.city, model, model_version, run_id, dataset, dataset_version, strftime(scored_at, '%Y-%m-%d %H:%M:%S.%g'), output, predicted_label, flag, contributions.x, contributions.bias FROM read_parquet(${quoteString(file)})`,
    );
    expect(got.slice(0, 2)).toEqual([
      [7n, '-5', 1.5, 'Zürich', 'm', 'v1', 'run-1', 'd', 'dv1', '2026-12-08 01:02:03.456', 0.25, 'no', null, 0.5, -1],
      [8n, '9007199254740993', null, null, 'm', 'v1', 'run-1', 'd', 'dv1', '2026-12-08 01:02:03.456', 1.5, 'yes', 'out-of-range', NaN, 3],
    ]);
    expect(got[2]!.slice(10, 13)).toEqual([NaN, null, 'not-a-number']);
  });
});
