import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DuckDBConnection, DuckDBInstance, DuckDBValue } from '@duckdb/node-api';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../src/client/ingest';
import { acceptedSelect, duplicateKeyStatements, quarantineSelect, RAW_VALUES_COLUMN, REASONS_COLUMN, stagingQuery } from '../src/contract/compile';
import { type ColumnType, type Contract, type ContractInput, parseContract } from '../src/contract/schema';
import { buildDatasetVersion } from '../src/datasets/ingest';
import type { DatasetManifest, DatasetVersionRef } from '../src/datasets/manifest';
import { stageRawSource } from '../src/datasets/raw';
import type { CsvOptions } from '../src/datasets/source';
import { rootApplicationFailure } from '../src/errors';
import { openDuckDb, queryRows } from '../src/sql/duckdb';
import { quoteIdent, quoteString } from '../src/sql/quote';
import { ArtifactStore } from '../src/store/artifact-store';
import { datasetName, modelName } from '../src/store/names';
import {
  checkProperty,
  CSV_COLUMNS,
  csvRow,
  type CsvRow,
  describeError,
  duckdbFold,
  FC_SEED,
  hostileString,
  UNREPRESENTABLE_FRAGMENTS,
  isUserError,
  type MutatedCsv,
  mutatedCsv,
  renderMutatedCsv,
  summarizeCsv,
} from './helpers/property';
import { type TestEnv, startTestEnv } from './helpers/env';

/**
 * Property tests (fast-check) over the places where user-controlled text meets SQL, files and
 * paths: identifier/string quoting, the contract compiler, the CSV ingest path and resource names.
 * Everything runs on real DuckDB (and, for a few cases, a real Temporal worker); nothing is mocked.
 * The seed is printed once; failures print a replay command (FC_SEED / FC_PATH).
 */
console.info(`fast-check seed ${FC_SEED} (replay with FC_SEED=${FC_SEED})`);

let db: DuckDBInstance;
let root: string;
beforeAll(async () => {
  db = await openDuckDb({ threads: 2 });
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-property-'));
});
afterAll(() => {
  db?.closeSync();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

async function withConnection<T>(work: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  const conn = await db.connect();
  try {
    return await work(conn);
  } finally {
    conn.closeSync();
  }
}

const utf8Hex = (s: string) => Buffer.from(s, 'utf8').toString('hex').toUpperCase();
const fromHex = (h: string | null) => (h === null ? null : Buffer.from(h, 'hex').toString('utf8'));

async function columnNames(conn: DuckDBConnection, sql: string): Promise<string[]> {
  return (await conn.runAndReadAll(sql)).columnNames();
}

/** A table no generated statement may touch: if it is gone or changed, something ran that should not have. */
async function createCanary(conn: DuckDBConnection): Promise<void> {
  await conn.run('CREATE OR REPLACE TEMP TABLE canary AS SELECT 42 AS v');
}
async function expectCanaryIntact(conn: DuckDBConnection, tables: string[]): Promise<void> {
  expect(await queryRows(conn, 'SELECT v FROM canary')).toEqual([{ v: 42 }]);
  const present = await queryRows<{ table_name: string }>(conn, 'SELECT table_name FROM duckdb_tables() ORDER BY table_name');
  expect(present.map((t) => t.table_name).sort()).toEqual([...tables].sort());
}

// ---------------------------------------------------------------------------------------------

describe('quoteIdent / quoteString on real DuckDB', () => {
  const nonEmpty = hostileString().filter((s) => s.length > 0);

  it('any identifier names exactly that column, and nothing else runs', async () => {
    await withConnection(async (conn) => {
      await createCanary(conn);
      await checkProperty(
        fc.asyncProperty(nonEmpty, async (name) => {
          await conn.run(`CREATE OR REPLACE TEMP TABLE t (${quoteIdent(name)} INTEGER)`);
          await expectCanaryIntact(conn, ['canary', 't']);
          expect(await columnNames(conn, 'SELECT * FROM t')).toEqual([name]);
          // Referencing it back by the same quoting finds it.
          await conn.run(`INSERT INTO t (${quoteIdent(name)}) VALUES (7)`);
          expect(await queryRows(conn, `SELECT ${quoteIdent(name)} AS v FROM t`)).toEqual([{ v: 7 }]);
          await expectCanaryIntact(conn, ['canary', 't']);
        }),
        300,
        // A name that, if it ever escaped its quotes, would be three valid statements.
        { examples: [['a" INTEGER); DROP TABLE canary; CREATE OR REPLACE TEMP TABLE t ("a']] },
      );
    });
  });

  it('two identifiers are one column exactly when DuckDB folds them equal (ASCII case only)', async () => {
    await withConnection(async (conn) => {
      await createCanary(conn);
      const pair = fc.oneof(
        fc.tuple(nonEmpty, nonEmpty),
        // Same text, different ASCII case: the interesting collisions.
        nonEmpty.chain((s) => fc.tuple(fc.constant(s), fc.constant(s.toUpperCase()))),
        nonEmpty.chain((s) => fc.tuple(fc.constant(s), fc.constant(s.toLowerCase()))),
      );
      await checkProperty(
        fc.asyncProperty(pair, async ([a, b]) => {
          await conn.run('DROP TABLE IF EXISTS t');
          const create = conn.run(`CREATE TEMP TABLE t (${quoteIdent(a)} INTEGER, ${quoteIdent(b)} INTEGER)`);
          if (duckdbFold(a) === duckdbFold(b)) {
            await expect(create).rejects.toThrow(/already exists/);
            await expectCanaryIntact(conn, ['canary']);
          } else {
            await create;
            expect(await columnNames(conn, 'SELECT * FROM t')).toEqual([a, b]);
            await expectCanaryIntact(conn, ['canary', 't']);
          }
        }),
        200,
      );
    });
  });

  it('any string literal reads back exactly, including the empty string', async () => {
    await withConnection(async (conn) => {
      await createCanary(conn);
      await checkProperty(
        fc.asyncProperty(hostileString(), async (s) => {
          // Compared as bytes (hex) and against a bound parameter: @duckdb/node-api's VARCHAR → JS
          // decoding drops a leading U+FEFF, which is the driver's doing, not the literal's.
          expect(await queryRows(conn, `SELECT hex(${quoteString(s)}) AS h`)).toEqual([{ h: utf8Hex(s) }]);
          expect((await conn.runAndReadAll(`SELECT ${quoteString(s)} = $1 AS same`, [s])).getRowsJS()).toEqual([[true]]);
          // And inside a list and a function's arguments, the other places literals land.
          expect(await queryRows(conn, `SELECT list_position([${quoteString(s)}, 'other'], ${quoteString(s)}) AS i`)).toEqual([{ i: 1 }]);
          await expectCanaryIntact(conn, ['canary']);
        }),
        300,
        { examples: [["x') AS h; DROP TABLE canary; SELECT hex('x"]] },
      );
    });
  });

  it('NUL and lone surrogates are refused with an Error, never silently truncated or replaced', async () => {
    const unrepresentable = fc.tuple(hostileString(), fc.constantFrom(...UNREPRESENTABLE_FRAGMENTS), hostileString()).map(([a, bad, b]) => `${a}${bad}${b}`);
    await checkProperty(
      fc.property(unrepresentable, (s) => {
        expect(() => quoteIdent(s)).toThrow(/NUL|lone surrogate/);
        expect(() => quoteString(s)).toThrow(/NUL|lone surrogate/);
      }),
      100,
    );
    expect(() => quoteIdent('')).toThrow(/empty/);
  });
});

// ---------------------------------------------------------------------------------------------
// The contract compiler, with a JS oracle for what each generated row must be told.

/** Column names the schema must accept: non-empty, ≤ 255, no NUL, not the reserved prefix in any case. */
const columnNameArb = hostileString({ maxLength: 255 }).filter((s) => s.length > 0 && !duckdbFold(s).startsWith('_mlops_'));

/** Regex metacharacters escaped the way both RE2 and JS read them as literals. */
const escapeRegex = (s: string) => s.replace(/[!-/:-@[-`{-~]/g, (c) => `\\${c}`);

interface GeneratedColumn {
  name: string;
  type: ColumnType;
  nullable: boolean;
  min?: number;
  max?: number;
  allowed?: Array<string | number>;
  /** The pattern is `<escaped prefix>[\s\S]*`: the oracle is startsWith(prefix). */
  prefix?: string;
}

const STRING_POOL = fc.oneof(hostileString({ maxLength: 12 }), fc.constantFrom('a', 'b', "it's", 'x"y', '名前'));
const DATES = ['2024-01-31', '1999-12-31', '2024-02-29'];
const TIMESTAMPS = ['2024-01-31 10:00:00', '2024-01-31T10:00:00', '1999-12-31 23:59:59'];

function columnArb(name: string): fc.Arbitrary<GeneratedColumn> {
  const type = fc.constantFrom<ColumnType>('integer', 'double', 'string', 'boolean', 'date', 'timestamp');
  return fc.record({ type, nullable: fc.boolean() }).chain(({ type, nullable }) => {
    const base = { name, type, nullable };
    if (type === 'integer' || type === 'double') {
      const bound = type === 'integer' ? fc.integer({ min: -50, max: 50 }) : fc.double({ min: -50, max: 50, noNaN: true });
      return fc
        .record(
          {
            min: bound,
            max: bound,
            allowed: fc.uniqueArray(type === 'integer' ? fc.integer({ min: -5, max: 5 }) : fc.constantFrom(1, 2.5, -3, 0.1), { minLength: 1, maxLength: 4 }),
          },
          { requiredKeys: [] },
        )
        .map((c) => {
          const out: GeneratedColumn = { ...base, ...c };
          if (out.min !== undefined && out.max !== undefined && out.min > out.max) [out.min, out.max] = [out.max, out.min];
          return out;
        });
    }
    if (type === 'string') {
      return fc.record({ allowed: fc.uniqueArray(STRING_POOL, { minLength: 1, maxLength: 4 }), prefix: STRING_POOL }, { requiredKeys: [] }).map((c) => ({ ...base, ...c }));
    }
    return fc.constant(base);
  });
}

const contractArb = fc
  .uniqueArray(columnNameArb, { minLength: 1, maxLength: 5, selector: (s) => s.toLowerCase() })
  .chain((names) => fc.tuple(...names.map(columnArb)))
  .chain((columns) => {
    // Keys on columns whose equality is plain (no NaN/-0 or boolean surprises).
    const keyable = columns.filter((c) => ['integer', 'string', 'date'].includes(c.type)).map((c) => c.name);
    return fc.record({
      columns: fc.constant(columns),
      key: fc.subarray(keyable, { maxLength: Math.min(2, keyable.length) }),
    });
  });

function contractInputOf(g: { columns: GeneratedColumn[]; key: string[] }): ContractInput {
  return {
    columns: g.columns.map((c) => ({
      name: c.name,
      type: c.type,
      nullable: c.nullable,
      ...(c.min !== undefined ? { min: c.min } : {}),
      ...(c.max !== undefined ? { max: c.max } : {}),
      ...(c.allowed ? { allowed: c.allowed } : {}),
      ...(c.prefix !== undefined ? { pattern: `${escapeRegex(c.prefix)}[\\s\\S]*` } : {}),
    })),
    key: g.key,
  };
}

/** A raw cell and what it means: the typed value (undefined: not a valid value of the type). */
interface Cell {
  raw: string | null;
  typed?: number | string | boolean;
}

function cellArb(c: GeneratedColumn): fc.Arbitrary<Cell> {
  const nul = fc.constant<Cell>({ raw: null });
  const invalid = (...raws: string[]) => fc.constantFrom(...raws).map<Cell>((raw) => ({ raw }));
  const valid = <T extends number | string | boolean>(arb: fc.Arbitrary<T>, text: (v: T) => string, typed: (v: T) => number | string | boolean = (v) => v) =>
    arb.map<Cell>((v) => ({ raw: text(v), typed: typed(v) }));
  let values: fc.Arbitrary<Cell>;
  switch (c.type) {
    case 'integer':
      values = fc.oneof(
        valid(fc.integer({ min: -60, max: 60 }), String),
        valid(fc.constantFrom(...((c.allowed as number[] | undefined) ?? [0])), String),
        invalid('3.5', 'abc', '0x10', '', '1e999'),
      );
      break;
    case 'double':
      values = fc.oneof(
        valid(fc.double({ min: -60, max: 60, noNaN: true }), String),
        valid(fc.constantFrom(...((c.allowed as number[] | undefined) ?? [0])), String),
        fc.constantFrom<Cell>({ raw: 'NaN', typed: NaN }, { raw: 'Infinity', typed: Infinity }, { raw: '-inf', typed: -Infinity }),
        invalid('abc', '', '1,5'),
      );
      break;
    case 'string':
      values = fc.oneof(
        valid(STRING_POOL, (s) => s),
        valid(fc.constantFrom(...((c.allowed as string[] | undefined) ?? ['a'])), (s) => s),
        valid(
          STRING_POOL.map((s) => `${c.prefix ?? ''}${s}`),
          (s) => s,
        ),
      );
      break;
    case 'boolean':
      values = fc.oneof(
        valid(
          fc.constantFrom('true', 'false', 'TRUE'),
          (s) => s,
          (s) => s.toLowerCase() === 'true',
        ),
        invalid('maybe', 'yes please', ''),
      );
      break;
    case 'date':
      values = fc.oneof(
        valid(fc.constantFrom(...DATES), (s) => s),
        invalid('2024-02-30', 'x', ''),
      );
      break;
    case 'timestamp':
      values = fc.oneof(
        valid(
          fc.constantFrom(...TIMESTAMPS),
          (s) => s,
          (s) => s.replace('T', ' '),
        ),
        invalid('nope', '2024-13-01 00:00:00', ''),
      );
      break;
  }
  return fc.oneof({ weight: 1, arbitrary: nul }, { weight: 6, arbitrary: values });
}

/** What the compiled SQL must say about each row, in the compiler's documented reason order. */
function expectedReasons(contract: { columns: GeneratedColumn[]; key: string[] }, rows: Cell[][]): Array<string[] | null> {
  const keyLabel = `key (${contract.key.join(', ')})`;
  const keyIdx = contract.key.map((k) => contract.columns.findIndex((c) => c.name === k));
  const reasons = rows.map((row) => {
    const out: string[] = [];
    contract.columns.forEach((c, i) => {
      const cell = row[i]!;
      const add = (text: string) => out.push(`${c.name}: ${text}`);
      if (cell.raw === null) {
        if (!c.nullable) add('missing value (not nullable)');
        return;
      }
      if (c.type !== 'string' && cell.typed === undefined) {
        add(`not a valid ${c.type}`);
        return;
      }
      const v = cell.typed!;
      if (typeof v === 'number' && !Number.isFinite(v)) {
        add('NaN or Infinity');
        return;
      }
      if (c.min !== undefined && (v as number) < c.min) add(`below min ${c.min}`);
      if (c.max !== undefined && (v as number) > c.max) add(`above max ${c.max}`);
      if (c.allowed && !c.allowed.includes(v as string | number)) add('value not in allowed set');
      if (c.prefix !== undefined && !(v as string).startsWith(c.prefix)) add('does not match pattern');
    });
    if (keyIdx.some((i) => contract.columns[i]!.nullable && row[i]!.raw === null)) out.push(`${keyLabel}: missing key value`);
    return out;
  });
  if (keyIdx.length > 0) {
    const keyOf = (row: Cell[]) => (keyIdx.every((i) => row[i]!.typed !== undefined) ? JSON.stringify(keyIdx.map((i) => row[i]!.typed)) : undefined);
    const counts = new Map<string, number>();
    for (const row of rows) {
      const k = keyOf(row);
      if (k !== undefined) counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    rows.forEach((row, r) => {
      const k = keyOf(row);
      if (k !== undefined && counts.get(k)! > 1) reasons[r]!.push(`${keyLabel}: duplicate key`);
    });
  }
  return reasons.map((r) => (r.length ? r : null));
}

describe('the contract compiler on real DuckDB', () => {
  const caseArb = contractArb.chain((g) => fc.record({ g: fc.constant(g), rows: fc.array(fc.tuple(...g.columns.map(cellArb)), { minLength: 1, maxLength: 8 }) }));

  it('compiles any valid contract to SQL that runs, names columns exactly, and judges every row right', async () => {
    await withConnection(async (conn) => {
      await createCanary(conn);
      await checkProperty(
        fc.asyncProperty(caseArb, async ({ g, rows }) => {
          const contract: Contract = parseContract(contractInputOf(g));
          const names = contract.columns.map((c) => c.name);
          // The source relation: every column text, like a CSV read with all_varchar. Values go in
          // as bound parameters, so this side does not depend on the quoting under test.
          await conn.run('DROP TABLE IF EXISTS src');
          await conn.run('DROP TABLE IF EXISTS staged');
          await conn.run(`CREATE TEMP TABLE src (${names.map((n) => `${quoteIdent(n)} VARCHAR`).join(', ')})`);
          for (const row of rows) {
            await conn.run(`INSERT INTO src VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')})`, row.map((c) => c.raw) as DuckDBValue[]);
          }
          await conn.run(`CREATE TEMP TABLE staged AS ${stagingQuery(contract, names, 'src')}`);
          for (const statement of duplicateKeyStatements(contract, 'staged')) await conn.run(statement);
          await expectCanaryIntact(conn, ['canary', 'src', 'staged']);

          // Text comes back as hex throughout: the driver drops a leading U+FEFF when decoding VARCHAR.
          // Rows are compared as multisets: the duplicate-key UPDATE rewrites the rows it touches
          // (DuckDB updates list columns as delete + append), which moves them to the end.
          const expected = expectedReasons(g, rows);
          const sorted = <T>(xs: T[]) => xs.map((x) => JSON.stringify(x)).sort();
          const judged = await queryRows<{ reasons: string[]; raw: Array<string | null> }>(
            conn,
            `SELECT list_transform(${REASONS_COLUMN}, r -> hex(r)) AS reasons, list_transform(${RAW_VALUES_COLUMN}, v -> hex(v)) AS raw ` +
              `FROM staged WHERE ${REASONS_COLUMN} IS NOT NULL`,
          );
          // A row rejected only as a duplicate key passed every value check, so the compiler keeps no
          // raw text for it and quarantines its typed values as text ('TRUE' → 'true', '1e1' → '10.0'):
          // compare those columns loosely where the text form is not canonical.
          const duplicateOnly = (reasons: string[]) => reasons.every((r) => r === `key (${contract.key.join(', ')}): duplicate key`);
          const loose = (reasons: string[], raw: Array<string | null>) =>
            duplicateOnly(reasons) ? raw.map((v, i) => (v !== null && ['boolean', 'double', 'timestamp'].includes(g.columns[i]!.type) ? '*' : v)) : raw;
          const rejected = rows.flatMap((row, r) => {
            const reasons = expected[r];
            return reasons
              ? [
                  {
                    reasons,
                    raw: loose(
                      reasons,
                      row.map((c) => c.raw),
                    ),
                  },
                ]
              : [];
          });
          const got = judged.map((j) => {
            const reasons = j.reasons.map(fromHex) as string[];
            return { reasons, raw: loose(reasons, j.raw.map(fromHex)) };
          });
          expect(sorted(got)).toEqual(sorted(rejected));
          expect(await queryRows(conn, `SELECT count(*) AS n FROM staged WHERE ${REASONS_COLUMN} IS NULL AND ${RAW_VALUES_COLUMN} IS NULL`)).toEqual([
            { n: rows.length - rejected.length },
          ]);

          const acceptedSql = `SELECT ${acceptedSelect(contract)} FROM staged WHERE ${REASONS_COLUMN} IS NULL`;
          expect(await columnNames(conn, acceptedSql)).toEqual(names);
          const quarantine = `SELECT ${quarantineSelect(contract)} FROM staged WHERE ${REASONS_COLUMN} IS NOT NULL`;
          expect(await columnNames(conn, quarantine)).toEqual(names);
          // Quarantine keeps each rejected value as text, exactly as it came in.
          const hexOf = (sql: string, columns: string[]) => `SELECT ${columns.map((n) => `hex(${quoteIdent(n)})`).join(', ')} FROM (${sql})`;
          const quarantinedRaw = await queryRows<{ raw: Array<string | null>; reasons: string[] }>(
            conn,
            `SELECT [${names.map((n) => `hex(${quoteIdent(n)})`).join(', ')}] AS raw, list_transform(${REASONS_COLUMN}, r -> hex(r)) AS reasons ` +
              `FROM (SELECT ${quarantineSelect(contract)}, ${REASONS_COLUMN} FROM staged WHERE ${REASONS_COLUMN} IS NOT NULL)`,
          );
          const quarantinedValues = quarantinedRaw.map((q) => loose(q.reasons.map(fromHex) as string[], q.raw.map(fromHex)));
          expect(sorted(quarantinedValues)).toEqual(sorted(rejected.map((r) => r.raw)));
          // Accepted string values are unchanged.
          const acceptedRows = rows.filter((_, r) => expected[r] === null);
          for (const [i, c] of contract.columns.entries()) {
            if (c.type !== 'string') continue;
            const values = (await conn.runAndReadAll(hexOf(acceptedSql, [c.name]))).getRowsJS();
            expect(sorted(values.map((r) => fromHex(r[0] as string | null)))).toEqual(sorted(acceptedRows.map((row) => row[i]!.raw)));
          }
        }),
        150,
      );
    });
  });

  it('refuses, at parse time and with an InvalidContract error, anything the SQL could not carry', async () => {
    const refused = (input: unknown, pattern: RegExp) => {
      try {
        parseContract(input);
      } catch (err) {
        expect(isUserError(err), describeError(err)).toBe(true);
        expect((err as Error & { type?: string }).type).toBe('InvalidContract');
        expect((err as Error).message).toMatch(pattern);
        return;
      }
      throw new Error(`contract was accepted: ${JSON.stringify(input)}`);
    };
    refused(
      {
        columns: [
          { name: 'Amount', type: 'double' },
          { name: 'amount', type: 'double' },
        ],
      },
      /"Amount" and "amount" differ only in case/,
    );
    refused({ columns: [{ name: 'a\0b', type: 'string' }] }, /NUL/);
    refused({ columns: [{ name: '', type: 'string' }] }, /empty/);
    refused({ columns: [{ name: 'x'.repeat(256), type: 'string' }] }, /255/);
    refused({ columns: [{ name: '_mlops_reasons', type: 'string' }] }, /reserved/);
    refused({ columns: [{ name: '_MLOPS_REASON', type: 'string' }] }, /reserved/);
    refused({ columns: [{ name: '_Mlops_Row', type: 'integer' }] }, /reserved/);
    refused({ columns: [{ name: 's', type: 'string', allowed: ['ok', 'a\0b'] }] }, /NUL/);
    refused({ columns: [{ name: 's', type: 'string', pattern: 'a\0' }] }, /NUL/);
    refused({ columns: [{ name: 'a\ud800', type: 'string' }] }, /well-formed Unicode/);
    refused({ columns: [{ name: 's', type: 'string', allowed: ['\udfffx'] }] }, /well-formed Unicode/);
    refused({ columns: [{ name: 's', type: 'string', pattern: 'x\ud800' }] }, /well-formed Unicode/);
  });
});

// ---------------------------------------------------------------------------------------------
// The real ingest path: stageRawSource + buildDatasetVersion, as the activities call them.

const CSV_CONTRACT: ContractInput = {
  columns: [
    { name: 'id', type: 'integer', nullable: false },
    { name: 'amount', type: 'double', min: -1e6, max: 1e6 },
    { name: 'name', type: 'string' },
    { name: 'active', type: 'boolean' },
    { name: 'day', type: 'date' },
  ],
  key: ['id'],
};

type IngestOutcome = { ok: true; ref: DatasetVersionRef } | { ok: false; error: unknown };

let fileCounter = 0;
async function ingestDirect(args: {
  store: ArtifactStore;
  bytes: Buffer;
  contract?: Contract;
  csv?: CsvOptions;
  maxRejectedFraction: number;
  fileName?: string;
}): Promise<IngestOutcome> {
  const inputDir = path.join(root, 'inputs');
  fs.mkdirSync(inputDir, { recursive: true });
  const file = path.join(inputDir, args.fileName ?? `case-${fileCounter++}.csv`);
  fs.writeFileSync(file, args.bytes);
  return withConnection(async (conn) => {
    try {
      const staged = await stageRawSource({
        conn,
        store: args.store,
        dataset: 'prop',
        source: file,
        csv: args.csv,
        retentionDays: 1,
        allowedRoots: [],
        now: new Date(),
      });
      const ref = await buildDatasetVersion({
        conn,
        store: args.store,
        dataset: 'prop',
        staged,
        contract: args.contract,
        maxRejectedFraction: args.maxRejectedFraction,
        now: new Date(),
      });
      return { ok: true, ref };
    } catch (error) {
      return { ok: false, error };
    }
  });
}

async function parquetInfo(uri: string): Promise<{ rows: number; columns: string[] }> {
  return withConnection(async (conn) => {
    const [row] = await queryRows<{ n: number }>(conn, `SELECT count(*) AS n FROM read_parquet(${quoteString(uri)})`);
    const columns = await columnNames(conn, `SELECT * FROM read_parquet(${quoteString(uri)}) LIMIT 0`);
    return { rows: row!.n, columns };
  });
}

/** A version whose counts add up and whose files hold exactly those rows, under the contract's names. */
async function expectConsistentVersion(ref: DatasetVersionRef, contract: Contract | undefined): Promise<DatasetManifest> {
  const manifest = JSON.parse(fs.readFileSync(ref.manifestUri, 'utf8')) as DatasetManifest;
  expect(ref.rows.read).toBeGreaterThan(0);
  expect(ref.rows.accepted + ref.rows.rejected).toBe(ref.rows.read);
  expect(manifest.rows).toEqual(ref.rows);
  const names = (contract ?? manifest.contract).columns.map((c) => c.name);
  const snapshot = await parquetInfo(ref.snapshotUri);
  expect(snapshot).toEqual({ rows: ref.rows.accepted, columns: names });
  if (ref.rows.rejected > 0) {
    const quarantine = await parquetInfo(ref.quarantineUri!);
    expect(quarantine.rows).toBe(ref.rows.rejected);
    expect(quarantine.columns.slice(0, names.length)).toEqual(names);
  } else {
    expect(ref.quarantineUri).toBeUndefined();
  }
  expect(manifest.profile.map((p) => p.name)).toEqual(names);
  return manifest;
}

function expectVersionOrUserError(outcome: IngestOutcome, context: string): void {
  if (outcome.ok) return;
  expect(isUserError(outcome.error), `${context}\nthrew ${describeError(outcome.error)}`).toBe(true);
  // SQL we generate must always parse, whatever the data: a Parser Error passed off as the
  // source's fault (SourceReadError) would be a quoting bug.
  expect((outcome.error as Error).message, context).not.toMatch(/Parser Error/);
}

describe('mutated CSVs through the real ingest path', () => {
  let store: ArtifactStore;
  beforeAll(() => {
    store = new ArtifactStore(path.join(root, 'store-mutated'));
  });
  const contract = parseContract(CSV_CONTRACT);

  it('end in a consistent version or a clear user error, with and without a contract', async () => {
    const tally = { versions: 0, errors: new Map<string, number>() };
    await checkProperty(
      fc.asyncProperty(
        mutatedCsv,
        fc.boolean(),
        fc.constantFrom(1, 0.5, 0.05),
        fc.constantFrom<CsvOptions | undefined>(undefined, undefined, undefined, { header: true }, { delimiter: ',' }),
        async (spec: MutatedCsv, withContract, maxRejectedFraction, csv) => {
          const bytes = renderMutatedCsv(spec);
          const outcome = await ingestDirect({ store, bytes, contract: withContract ? contract : undefined, csv, maxRejectedFraction });
          const context = `CSV ${summarizeCsv(bytes)}, contract: ${withContract}, csv: ${JSON.stringify(csv)}`;
          expectVersionOrUserError(outcome, context);
          if (outcome.ok) {
            tally.versions++;
            await expectConsistentVersion(outcome.ref, withContract ? contract : undefined);
            expect(outcome.ref.rows.rejected / outcome.ref.rows.read).toBeLessThanOrEqual(maxRejectedFraction);
          } else {
            const type = (outcome.error as { type: string }).type;
            tally.errors.set(type, (tally.errors.get(type) ?? 0) + 1);
          }
        },
      ),
      100,
    );
    console.info(`mutated CSVs: ${tally.versions} versions; user errors ${JSON.stringify(Object.fromEntries(tally.errors))}`);
    // The generator reaches both outcomes; a property that only ever sees errors proves little.
    expect(tally.versions).toBeGreaterThan(0);
  });

  it('an unmutated CSV is read row for row: every value back, only duplicate keys quarantined', async () => {
    await checkProperty(
      fc.asyncProperty(fc.array(csvRow, { minLength: 1, maxLength: 25 }), async (rows) => {
        const bytes = renderMutatedCsv({ rows, mutations: [] });
        // The dialect is given: left to sniff, DuckDB may take a field '' for a quoted empty string
        // in ' quotes (and read NULL) — a guess the user overrides with these same options.
        const csv = { delimiter: ',', quote: '"' };
        const outcome = await ingestDirect({ store, bytes, contract, csv, maxRejectedFraction: 1 });
        if (!outcome.ok) throw new Error(`CSV ${summarizeCsv(bytes)} failed: ${describeError(outcome.error)}`);
        const ids = new Map<number, number>();
        for (const r of rows) ids.set(r.id, (ids.get(r.id) ?? 0) + 1);
        const unique = rows.filter((r) => ids.get(r.id) === 1);
        expect(outcome.ref.rows).toEqual({ read: rows.length, accepted: unique.length, rejected: rows.length - unique.length });
        await expectConsistentVersion(outcome.ref, contract);
        // The snapshot keeps source order; text compared as bytes (the driver drops a leading U+FEFF).
        const snapshot = await withConnection((conn) =>
          queryRows<{ id: number; amount: number | null; name: string | null; active: boolean | null; day: string | null }>(
            conn,
            `SELECT id, amount, hex(name) AS name, active, CAST(day AS VARCHAR) AS day FROM read_parquet(${quoteString(outcome.ref.snapshotUri)})`,
          ),
        );
        // An empty field is NULL in CSV: '' cannot survive, by the format's own rules; nor can -0
        // (String(-0) is '0').
        expect(snapshot.map((r) => ({ ...r, name: fromHex(r.name) }))).toEqual(
          unique.map((r) => ({ ...r, amount: r.amount === null ? null : r.amount + 0, name: r.name === '' ? null : r.name })),
        );
      }),
      60,
    );
  });

  it('a contract inferred from a file accepts that whole file', async () => {
    // Few distinct names, so inference lists them as an allowed set; U+FEFF first is the case the
    // driver's VARCHAR decoding used to lose, quarantining every such row.
    const rowsArb: fc.Arbitrary<CsvRow[]> = fc.array(
      fc.record({
        id: fc.integer({ min: -1000, max: 1_000_000 }),
        amount: fc.option(fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }), { freq: 8 }),
        name: fc.constantFrom<string | null>('\ufeffred', 'blue', ' x', 'a"b', '名前', "it's"),
        active: fc.option(fc.boolean(), { freq: 8 }),
        day: fc.constantFrom<string | null>('2024-01-31', null),
      }),
      { minLength: 1, maxLength: 40 },
    );
    await checkProperty(
      fc.asyncProperty(rowsArb, async (rows) => {
        const bytes = renderMutatedCsv({ rows, mutations: [] });
        const outcome = await ingestDirect({ store, bytes, csv: { delimiter: ',', quote: '"' }, maxRejectedFraction: 0 });
        if (!outcome.ok) throw new Error(`CSV ${summarizeCsv(bytes)} failed: ${describeError(outcome.error)}`);
        expect(outcome.ref.rows).toEqual({ read: rows.length, accepted: rows.length, rejected: 0 });
        await expectConsistentVersion(outcome.ref, undefined);
      }),
      40,
      { examples: [[Array.from({ length: 10 }, (_, i) => ({ id: i, amount: 1, name: i % 2 ? '\ufeffred' : 'blue', active: true, day: null }))]] },
    );
  });

  it('known nasty files: each is a version or a named user error', async () => {
    const header = `${CSV_COLUMNS.join(',')}\n`;
    const cases: Array<[string, Buffer]> = [
      ['empty', Buffer.alloc(0)],
      ['only header', Buffer.from(header)],
      ['BOM + CRLF', Buffer.from(`\ufeff${header.replace('\n', '\r\n')}1,2.5,a,true,2024-01-01\r\n`)],
      ['NUL in a field', Buffer.from(`${header}1,2.5,a\0b,true,2024-01-01\n`)],
      ['invalid UTF-8', Buffer.concat([Buffer.from(`${header}1,2.5,`), Buffer.from([0xff, 0xfe]), Buffer.from(',true,2024-01-01\n')])],
      ['unclosed quote', Buffer.from(`${header}1,2.5,"abc,true,2024-01-01\n2,3,b,false,2024-01-02\n`)],
      ['1e999 and NaN', Buffer.from(`${header}1,1e999,a,true,2024-01-01\n2,NaN,b,false,2024-01-02\n3,1,c,true,2024-01-03\n`)],
      ['a 1 MB field', Buffer.from(`${header}1,2.5,${'x'.repeat(1_000_000)},true,2024-01-01\n`)],
      ['only newlines', Buffer.from('\n\n\n')],
      ['header is NUL', Buffer.from('\0\n1\n')],
    ];
    for (const [label, bytes] of cases) {
      for (const withContract of [true, false]) {
        const outcome = await ingestDirect({ store, bytes, contract: withContract ? contract : undefined, maxRejectedFraction: 1 });
        expectVersionOrUserError(outcome, `${label} (contract: ${withContract})`);
        if (outcome.ok) await expectConsistentVersion(outcome.ref, withContract ? contract : undefined);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('hostile column names end to end', () => {
  let store: ArtifactStore;
  beforeAll(() => {
    store = new ArtifactStore(path.join(root, 'store-names'));
  });

  const csvCell = (v: string) => `"${v.replaceAll('"', '""')}"`;
  const csvOf = (names: string[], rows: string[][]) => Buffer.from([names, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n');

  it('the issue examples keep their exact names through ingest, with a contract and inferred', async () => {
    const names = ['a"b', '"; DROP TABLE x; --', '名前', 'x y', 'SELECT', 'n'.repeat(200), "it's"];
    const rows = [
      ['1', '2.5', 'a', 'b', 'true', 'c', 'd'],
      ['2', '3.5', 'e', 'f', 'false', 'g', 'h'],
    ];
    const contract = parseContract({
      columns: names.map((name, i) => ({ name, type: i === 0 ? 'integer' : i === 1 ? 'double' : i === 4 ? 'boolean' : 'string' })),
      key: [names[0]!],
    });
    for (const c of [contract, undefined]) {
      const outcome = await ingestDirect({ store, bytes: csvOf(names, rows), contract: c, maxRejectedFraction: 0 });
      if (!outcome.ok) throw outcome.error;
      const manifest = await expectConsistentVersion(outcome.ref, c);
      expect(manifest.schema.map((s) => s.name)).toEqual(names);
      expect(outcome.ref.rows).toEqual({ read: 2, accepted: 2, rejected: 0 });
    }
  });

  /**
   * Header names DuckDB's CSV reader does not keep as written: it trims spaces (Unicode Zs and NEL,
   * not tabs or newlines) and renames a blank name (column<n>, or oddly "C<n>" for Unicode spaces).
   */
  const readDifferently = (name: string) => /^[\p{Zs}\u0085]|[\p{Zs}\u0085]$/u.test(name) || /^[\s\u0085]*$/u.test(name);

  it('any header of distinct names is kept exactly, or refused with a user error', async () => {
    // Case-insensitively distinct; names DuckDB would fold together are the next test's subject.
    const namesArb = fc.uniqueArray(columnNameArb, {
      minLength: 1,
      maxLength: 4,
      selector: duckdbFold,
    });
    const errors = new Map<string, number>();
    await checkProperty(
      fc.asyncProperty(namesArb, fc.boolean(), async (names, withContract) => {
        const rows = [names.map((_, i) => `v${i}`), names.map((_, i) => `w${i}`)];
        const contract = withContract ? parseContract({ columns: names.map((name) => ({ name, type: 'string' })) }) : undefined;
        const outcome = await ingestDirect({ store, bytes: csvOf(names, rows), contract, csv: { header: true }, maxRejectedFraction: 0 });
        expectVersionOrUserError(outcome, `header ${JSON.stringify(names)}, contract: ${withContract}`);
        if (outcome.ok) {
          const manifest = await expectConsistentVersion(outcome.ref, contract);
          // With no contract, the names are DuckDB's reading of the header, which trims spaces and
          // renames a blank name; with one, such a name is a SchemaMismatch instead.
          if (contract || !names.some(readDifferently)) expect(manifest.schema.map((s) => s.name)).toEqual(names);
        } else {
          // A source that has the contract's columns must not be told it lacks them, unless
          // DuckDB's header reading (trimmed spaces, blank names) changed one of them.
          if ((outcome.error as { type?: string }).type === 'SchemaMismatch') expect(names.some(readDifferently), describeError(outcome.error)).toBe(true);
          const first = (outcome.error as Error).message.split('\n')[0]!.slice(0, 80);
          errors.set(first, (errors.get(first) ?? 0) + 1);
        }
      }),
      60,
      // A name starting with U+FEFF: the driver's VARCHAR decoding used to drop it from DESCRIBE.
      {
        examples: [
          [['a', '\ufeffb'], true],
          [['a', '\ufeffb', 'c'], false],
        ],
      },
    );
    console.info(`hostile headers refused: ${JSON.stringify(Object.fromEntries(errors))}`);
  });

  it('columns differing only in case are refused at CSV read with an actionable error', async () => {
    const bytes = csvOf(['id', 'Amount', 'amount'], [['1', '2', '3']]);
    const expectRefused = (outcome: IngestOutcome, label: string) => {
      expect(outcome.ok, label).toBe(false);
      const error = (outcome as { error: unknown }).error;
      expect(isUserError(error), describeError(error)).toBe(true);
      expect((error as Error).message).toMatch(/"Amount".*"amount"|"amount".*"Amount"/);
      expect((error as Error).message).toMatch(/case/);
    };
    // Without the check, "amount" silently binds to the "Amount" column, and the real "amount"
    // column is renamed "amount_1" and dropped.
    for (const contract of [
      parseContract({
        columns: [
          { name: 'id', type: 'integer' },
          { name: 'amount', type: 'double' },
        ],
      }),
      parseContract({
        columns: [
          { name: 'id', type: 'integer' },
          { name: 'Amount', type: 'double' },
        ],
      }),
      undefined,
    ]) {
      expectRefused(await ingestDirect({ store, bytes, contract, maxRejectedFraction: 0 }), `contract ${JSON.stringify(contract?.columns)}`);
    }
    // The same for an exact duplicate header.
    const dup = await ingestDirect({ store, bytes: csvOf(['id', 'x', 'x'], [['1', '2', '3']]), maxRejectedFraction: 0 });
    expect(dup.ok).toBe(false);
    expect(isUserError((dup as { error: unknown }).error)).toBe(true);
    expect((dup as { error: Error }).error.message).toMatch(/"x"/);
    // A genuine "x_1" next to "x" is not a collision.
    const genuine = await ingestDirect({ store, bytes: csvOf(['x', 'x_1', 'X_2'], [['1', '2', '3']]), maxRejectedFraction: 0 });
    if (!genuine.ok) throw genuine.error;
  });

  it('any header with names equal ignoring case is refused, never silently renamed', async () => {
    const clashing = fc
      .tuple(
        columnNameArb.filter((s) => /[a-zA-Z]/.test(s)),
        fc.uniqueArray(columnNameArb, { maxLength: 3, selector: duckdbFold }),
        fc.nat(),
      )
      .map(([name, others, at]) => {
        const variant = name.replace(/[a-zA-Z]/, (c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()));
        const rest = others.filter((o) => duckdbFold(o) !== duckdbFold(name));
        const names = [name, ...rest];
        names.splice(1 + (at % names.length), 0, variant);
        return names;
      });
    const refusals = new Map<string, number>();
    await checkProperty(
      fc.asyncProperty(clashing, fc.boolean(), async (names, withContract) => {
        const rows = [names.map((_, i) => `v${i}`)];
        const first = names[0]!;
        const contract = withContract ? parseContract({ columns: [{ name: duckdbFold(first), type: 'string' }] }) : undefined;
        const outcome = await ingestDirect({ store, bytes: csvOf(names, rows), contract, csv: { header: true }, maxRejectedFraction: 1 });
        const context = `header ${JSON.stringify(names)}, contract: ${withContract}`;
        expect(outcome.ok, `${context} was ingested`).toBe(false);
        expectVersionOrUserError(outcome, context);
        const { type, message } = (outcome as { error: { type: string; message: string } }).error;
        // Refused for the clash itself, unless DuckDB could not even sniff the file's dialect.
        if (type !== 'SourceReadError') expect(message, context).toMatch(/same ignoring case/);
        refusals.set(type, (refusals.get(type) ?? 0) + 1);
      }),
      60,
    );
    console.info(`case-clashing headers refused: ${JSON.stringify(Object.fromEntries(refusals))}`);
  });

  it('names that collide only in case are refused at contract parse, whatever else they contain', async () => {
    await checkProperty(
      fc.property(
        columnNameArb.filter((s) => /[a-z]/.test(s)),
        (name) => {
          const other = name.replace(/[a-z]/, (c) => c.toUpperCase());
          expect(() =>
            parseContract({
              columns: [
                { name, type: 'string' },
                { name: other, type: 'string' },
              ],
            }),
          ).toThrow(/differ only in case/);
        },
      ),
      100,
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('dataset and model names and store paths', () => {
  const SAFE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
  const nameArb = fc.oneof(
    hostileString(),
    hostileString({ unrepresentable: true }),
    fc.constantFrom('../', '..', '/', '\\', '.', '', 'a/../b', 'a\\b', '..\\x', 'x'.repeat(101), '名前', 'C:', '~', '%2e%2e', 'a\0b'),
    fc.stringMatching(/^[A-Za-z0-9._-]{1,102}$/),
  );

  it('any accepted name is from the safe alphabet and every path built from it stays inside the store', async () => {
    const store = new ArtifactStore('/srv/mlops-store');
    await checkProperty(
      fc.property(nameArb, fc.stringMatching(/^[0-9a-f]{16}$/), (name, version) => {
        for (const schema of [datasetName, modelName]) {
          const parsed = schema.safeParse(name);
          if (!parsed.success) {
            expect(parsed.error.issues[0]!.message).toMatch(/name must be 1-100 characters of letters, digits/);
            continue;
          }
          expect(name).toMatch(SAFE);
          expect(name).not.toContain('..');
          for (const p of [
            store.datasetDir(name),
            store.datasetVersionDir(name, version),
            store.quarantineFile(name, version),
            store.modelVersionDir(name, version),
            store.rawDir(name, version),
          ]) {
            expect(p.startsWith(`${store.root}${path.sep}`)).toBe(true);
            // The name is one path segment, exactly as given.
            expect(path.relative(store.root, p).split(path.sep)[1]).toBe(name);
          }
        }
      }),
      500,
    );
  });

  it('refuses the classic traversal and oddity names with a clear message', () => {
    for (const bad of ['../etc', '..', '.', '/', '/abs', '\\', 'a\\b', 'a/b', '', 'a\0b', 'x'.repeat(101), '名前', 'a..b', '-x', ' x']) {
      const parsed = datasetName.safeParse(bad);
      expect(parsed.success, JSON.stringify(bad)).toBe(false);
      expect(parsed.error!.issues[0]!.message).toMatch(/dataset name must be 1-100 characters/);
    }
  });

  it('store.path never resolves outside the root, whatever the segments', async () => {
    const store = new ArtifactStore('/srv/mlops-store');
    await checkProperty(
      fc.property(fc.array(fc.oneof(hostileString(), fc.constantFrom('..', '../..', '/', '/etc', '.', '')), { minLength: 1, maxLength: 4 }), (segments) => {
        let p: string;
        try {
          p = store.path(...segments);
        } catch (err) {
          expect((err as Error).message).toMatch(/escapes the artifact store/);
          return;
        }
        expect(p === store.root || p.startsWith(`${store.root}${path.sep}`)).toBe(true);
      }),
      500,
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('mutated CSVs through the real Temporal worker', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await startTestEnv('property');
  });
  afterAll(async () => {
    await env?.shutdown();
  });

  it('each workflow ends with a version or a non-retryable user error, and the worker keeps serving', async () => {
    let n = 0;
    const outcomes: string[] = [];
    await checkProperty(
      fc.asyncProperty(mutatedCsv, fc.boolean(), async (spec, withContract) => {
        const file = path.join(env.inputDir, `worker-${n++}.csv`);
        const bytes = renderMutatedCsv(spec);
        fs.writeFileSync(file, bytes);
        try {
          const ref = await ingest(env.client, env.config, {
            dataset: 'mutated',
            source: file,
            contract: withContract ? CSV_CONTRACT : undefined,
            maxRejectedFraction: 1,
          });
          expect(ref.rows.accepted + ref.rows.rejected).toBe(ref.rows.read);
          outcomes.push('version');
        } catch (err) {
          const root = rootApplicationFailure(err);
          expect(root && isUserError(root), `CSV ${summarizeCsv(bytes)}\nfailed with ${describeError(root ?? err)}`).toBe(true);
          outcomes.push(root!.type!);
        }
      }),
      4,
      { timeout: 60_000 },
    );
    // A mutated file with a quote, NUL and invalid UTF-8 at once, then a clean one: still served.
    const nasty = path.join(env.inputDir, 'nasty.csv');
    fs.writeFileSync(nasty, Buffer.concat([Buffer.from('id,amount,name,active,day\n1,2,"a\0'), Buffer.from([0xff]), Buffer.from('\n2,NaN,b,true,x\n')]));
    try {
      await ingest(env.client, env.config, { dataset: 'mutated', source: nasty, contract: CSV_CONTRACT, maxRejectedFraction: 1 });
    } catch (err) {
      const root = rootApplicationFailure(err);
      expect(root && isUserError(root), describeError(root ?? err)).toBe(true);
    }
    const clean = path.join(env.inputDir, 'clean.csv');
    fs.writeFileSync(clean, 'id,amount,name,active,day\n1,2.5,a,true,2024-01-01\n2,3.5,b,false,2024-01-02\n');
    const ref = await ingest(env.client, env.config, { dataset: 'clean', source: clean, contract: CSV_CONTRACT });
    expect(ref.rows).toEqual({ read: 2, accepted: 2, rejected: 0 });
    console.info(`worker outcomes: ${outcomes.join(', ')}`);
  });
});
