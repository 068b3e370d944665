import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { acceptedSelect, REASONS_COLUMN, stagingQuery } from '../src/contract/compile';
import { inferContract } from '../src/contract/infer';
import { parseContract } from '../src/contract/schema';
import { openDuckDb, queryRows } from '../src/sql/duckdb';
import { quoteIdent, quoteString } from '../src/sql/quote';

describe('contract schema', () => {
  it('lists every problem of a bad contract in one message', () => {
    expect(() =>
      parseContract({
        columns: [
          { name: 'a', type: 'string', min: 1 },
          { name: 'b', type: 'double', min: 3, max: 2 },
          { name: 'b', type: 'double' },
          { name: 'B', type: 'integer', pattern: 'x' },
        ],
        key: ['nope'],
        label: 'a',
        features: ['a'],
      }),
    ).toThrow(
      /min\/max apply to integer or double[\s\S]*min \(3\) is greater than max \(2\)[\s\S]*pattern applies to string[\s\S]*declared twice[\s\S]*differ only in case[\s\S]*unknown column "nope"[\s\S]*cannot also be a feature/,
    );
  });

  it('rejects unknown fields and types instead of ignoring them', () => {
    expect(() => parseContract({ columns: [{ name: 'a', type: 'float' }] })).toThrow(/columns\.0\.type/);
    expect(() => parseContract({ columns: [{ name: 'a', type: 'double', maximum: 3 }] })).toThrow(/maximum/);
    expect(() => parseContract({ columns: [] })).toThrow(/at least one column/);
    expect(() => parseContract({ columns: [{ name: 'a', type: 'double', max: Number.NaN }] })).toThrow(/columns\.0\.max/);
    expect(() => parseContract({ columns: [{ name: 's', type: 'string', pattern: '(' }] })).toThrow(/pattern is not a valid regular expression/);
    expect(() => parseContract({ columns: [{ name: 'd', type: 'date', allowed: [1] }] })).toThrow(/allowed values apply to string, numeric and boolean/);
  });
});

describe('SQL quoting', () => {
  it('round-trips hostile identifiers and strings through DuckDB unchanged', async () => {
    const db = await openDuckDb();
    const conn = await db.connect();
    const hostile = ['a"b', 'x"; DROP TABLE t; --', "it's", '名前 🚀', ' lead', '\\', '"', '""'];
    const select = hostile.map((h, i) => `${quoteString(h)} AS ${quoteIdent(`${h}#${i}`)}`).join(', ');
    const [row] = await queryRows(conn, `SELECT ${select}`);
    expect(Object.keys(row!)).toEqual(hostile.map((h, i) => `${h}#${i}`));
    expect(Object.values(row!)).toEqual(hostile);
    db.closeSync();
    expect(() => quoteIdent('a\0b')).toThrow(/NUL/);
    expect(() => quoteIdent('')).toThrow(/empty/);
  });

  it('compiled checks judge values exactly as the contract says', async () => {
    const contract = parseContract({
      columns: [
        { name: 'n', type: 'integer', nullable: false, min: 0, max: 10 },
        { name: 'd', type: 'double', allowed: [0.5, 1.5] },
        { name: "s'", type: 'string', pattern: '^[a-z]+$', allowed: ['abc', 'x'] },
        { name: 'day', type: 'date' },
      ],
    });
    const cases: Array<[Array<string | null>, string[]]> = [
      [['3', '0.5', 'abc', '2024-01-31'], []],
      [['3.5', '0.5', 'abc', null], ['n: not a valid integer']],
      [['0x10', '0.5', 'abc', null], ['n: not a valid integer']],
      [[null, '1.5', 'x', null], ['n: missing value (not nullable)']],
      [
        ['11', '2.5', 'ABC', '2024-02-30'],
        ['n: above max 10', 'd: value not in allowed set', "s': value not in allowed set", "s': does not match pattern", 'day: not a valid date'],
      ],
      [
        ['-1', 'nan', null, null],
        ['n: below min 0', 'd: NaN or Infinity'],
      ],
    ];
    const db = await openDuckDb();
    const conn = await db.connect();
    const values = cases.map(([v]) => `(${v.map((x) => (x === null ? 'NULL' : quoteString(x))).join(', ')})`).join(', ');
    await conn.run(`CREATE TABLE src AS SELECT * FROM (VALUES ${values}) v(${contract.columns.map((c) => quoteIdent(c.name)).join(', ')})`);
    const staged = stagingQuery(
      contract,
      contract.columns.map((c) => c.name),
      'src',
    );
    const rows = await queryRows<Record<string, string[]>>(conn, staged);
    expect(rows.map((r) => r[REASONS_COLUMN] ?? [])).toEqual(cases.map(([, reasons]) => reasons));
    expect(rows.map((r) => r._mlops_raw)).toEqual(cases.map(([values, reasons]) => (reasons.length ? values : null)));
    const [typed] = await queryRows(conn, `SELECT ${acceptedSelect(contract)} FROM (${staged}) LIMIT 1`);
    expect(typed).toEqual({ n: 3, d: 0.5, "s'": 'abc', day: '2024-01-31T00:00:00.000Z' });
    db.closeSync();
  });
});

describe('contract inference', () => {
  it('never makes the label nullable: rows without it are quarantined, and the description says how many', async () => {
    // Like cars.json: a few cars without a Miles_per_Gallon.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-infer-'));
    const file = path.join(dir, 'cars.csv');
    fs.writeFileSync(file, 'Name,Miles_per_Gallon,Horsepower\nA,18,130\nB,,165\nC,16,\nD,,150\nE,14,140\n');
    const db = await openDuckDb();
    try {
      const conn = await db.connect();
      const contract = await inferContract(conn, [file], 'csv', {}, { label: 'Miles_per_Gallon' });
      expect(contract.columns.find((c) => c.name === 'Miles_per_Gallon')).toMatchObject({ nullable: false });
      // Other columns keep the nullability they were seen with.
      expect(contract.columns.find((c) => c.name === 'Horsepower')).toMatchObject({ nullable: true });
      expect(contract.description).toContain('2 row(s) have no "Miles_per_Gallon": the label is required, so they will be quarantined.');
      const unlabeled = await inferContract(conn, [file], 'csv');
      expect(unlabeled.columns.find((c) => c.name === 'Miles_per_Gallon')).toMatchObject({ nullable: true });
    } finally {
      db.closeSync();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
