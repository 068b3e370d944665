import * as path from 'node:path';
import fc from 'fast-check';
import { ApplicationFailure } from '@temporalio/common';
import { expect } from 'vitest';
import { USER_ERROR_TYPES } from '../../src/errors';

/**
 * Shared pieces of the fast-check property tests: reproducible seeds, hostile strings, and
 * valid-then-mutated CSV files.
 */

/**
 * One seed per test process, printed up front and inside every failure report, so a failing run
 * can be replayed exactly: FC_SEED=<seed> (and FC_PATH=<path> from the report to skip straight to
 * the shrunk counterexample) npx vitest run test/property.test.ts -t "<test name>" — every failure
 * report ends with that command, filled in.
 */
export const FC_SEED = process.env.FC_SEED ? Number(process.env.FC_SEED) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;

export function propertyOptions<T>(numRuns: number, extra: fc.Parameters<T> = {}): fc.Parameters<T> {
  return {
    numRuns,
    seed: FC_SEED,
    ...(process.env.FC_PATH ? { path: process.env.FC_PATH } : {}),
    // A hang is a failure too, not a stuck test file.
    timeout: 30_000,
    ...extra,
  };
}

/** fc.assert with the file's seed, and a failure message that says how to replay it. */
export async function checkProperty<Ts extends [unknown, ...unknown[]]>(
  property: fc.IAsyncPropertyWithHooks<Ts> | fc.IPropertyWithHooks<Ts>,
  numRuns: number,
  extra: fc.Parameters<Ts> = {},
): Promise<void> {
  const details = await fc.check(property as fc.IAsyncProperty<Ts>, propertyOptions(numRuns, extra));
  if (details.failed) {
    const report = fc.defaultReportMessage(details) ?? 'property failed';
    const test = expect.getState().currentTestName?.split(' > ').at(-1) ?? '';
    const replay = `Replay: FC_SEED=${details.seed} FC_PATH=${details.counterexamplePath ?? ''} npx vitest run ${path.relative(process.cwd(), expect.getState().testPath ?? '')} -t ${JSON.stringify(test)}`;
    const error = new Error(`${report}\n${replay}`);
    if (details.errorInstance instanceof Error) error.cause = details.errorInstance;
    throw error;
  }
}

/** Pieces that have broken string-built SQL, CSV readers and path joins before. */
export const HOSTILE_FRAGMENTS = [
  '"',
  "'",
  '""',
  "''",
  '"; DROP TABLE canary; --',
  "'; DROP TABLE canary; --",
  '") ; DROP TABLE canary; --',
  // Well-formed statements once out of the quotes: only the canary can tell they ran.
  'a" INTEGER); DROP TABLE canary; CREATE OR REPLACE TEMP TABLE t ("a',
  "x') AS h; DROP TABLE canary; SELECT hex('x",
  '\n',
  '\r\n',
  '\r',
  '\t',
  '\\',
  '\\"',
  "\\'",
  ';',
  '--',
  '/*',
  '*/',
  ' ',
  '(',
  ')',
  ',',
  '$1',
  '?',
  '%s',
  '{}',
  '[]',
  '::',
  '名前',
  '🚀',
  'é',
  'É',
  'ß',
  'İ',
  'SELECT',
  'select',
  'rowid',
  'x',
  'A',
  'a',
  '\u200b',
  '\ufeff',
  '\u202e',
  '\u2028',
];

/** Text SQL cannot carry exactly: NUL, and lone UTF-16 surrogates (the driver sends U+FFFD). */
export const UNREPRESENTABLE_FRAGMENTS = ['\0', '\ud800', '\udfff'];

/**
 * Any string: full unicode code points (never half a surrogate pair), or a mix of hostile
 * fragments and random code points. `unrepresentable` mixes in NUL and lone surrogates too.
 */
export const hostileString = (options: { unrepresentable?: boolean; maxLength?: number } = {}): fc.Arbitrary<string> => {
  const fragments = options.unrepresentable ? [...HOSTILE_FRAGMENTS, ...UNREPRESENTABLE_FRAGMENTS] : HOSTILE_FRAGMENTS;
  const unit = 'binary' as const;
  const any = fc.oneof(
    { weight: 2, arbitrary: fc.string({ unit, maxLength: 12 }) },
    { weight: 4, arbitrary: fc.array(fc.oneof(fc.constantFrom(...fragments), fc.string({ unit, maxLength: 3 })), { maxLength: 8 }).map((a) => a.join('')) },
    { weight: 1, arbitrary: fc.constantFrom(...fragments) },
  );
  const clean = options.unrepresentable ? any : any.map((s) => s.replaceAll('\0', ''));
  const max = options.maxLength;
  return max === undefined ? clean : clean.map((s) => truncateCodePoints(s, max));
};

/** At most `max` UTF-16 units, cut between code points (slice() could leave half a surrogate pair). */
export function truncateCodePoints(s: string, max: number): string {
  let out = '';
  for (const cp of s) {
    if (out.length + cp.length > max) break;
    out += cp;
  }
  return out;
}

/** DuckDB folds identifiers with ASCII case rules only: "Amount" = "amount", but "Ä" ≠ "ä". */
export const duckdbFold = (name: string) => name.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** True when the error is one a user caused and can fix: a non-retryable ApplicationFailure with a known type and a message. */
export function isUserError(err: unknown): err is ApplicationFailure {
  return err instanceof ApplicationFailure && err.nonRetryable === true && (USER_ERROR_TYPES as readonly string[]).includes(err.type ?? '') && err.message.trim().length > 0;
}

export function describeError(err: unknown): string {
  if (err instanceof ApplicationFailure) return `ApplicationFailure(type=${err.type}, nonRetryable=${err.nonRetryable}): ${err.message}`;
  if (err instanceof Error) return `${err.constructor.name}: ${err.message}\n${err.stack ?? ''}`;
  return String(err);
}

// ---------------------------------------------------------------------------------------------
// CSV files: a valid one, then mutations chosen by fast-check.

export const CSV_COLUMNS = ['id', 'amount', 'name', 'active', 'day'] as const;

export interface CsvRow {
  id: number;
  amount: number | null;
  name: string | null;
  active: boolean | null;
  day: string | null;
}

export const csvRow: fc.Arbitrary<CsvRow> = fc.record({
  id: fc.integer({ min: -1000, max: 1_000_000 }),
  amount: fc.option(fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }), { freq: 8 }),
  name: fc.option(fc.oneof(fc.constantFrom('Berlin', 'Lagos', 'Québec', 'Ōsaka'), hostileString({ maxLength: 20 })), { freq: 8 }),
  active: fc.option(fc.boolean(), { freq: 8 }),
  day: fc.option(
    fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
    { freq: 8 },
  ),
});

export type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'duplicateHeader'; where: 'after' | 'end' }
  | { kind: 'dropHeader' }
  | { kind: 'swapDelimiter'; to: string }
  | { kind: 'empty' }
  | { kind: 'onlyHeader' }
  | { kind: 'bom' }
  | { kind: 'crlf' }
  | { kind: 'setField'; row: number; column: number; value: string };

const BYTE_FRAGMENTS: number[][] = [
  [0x22], // "
  [0x0a], // \n
  [0x0d, 0x0a], // \r\n
  [0x0d], // \r
  [0x2c], // ,
  [0x3b], // ;
  [0x00], // NUL
  [0xff], // never valid UTF-8
  [0xc3], // a cut multi-byte sequence
  [0xed, 0xa0, 0x80], // an encoded surrogate half
  [0xef, 0xbb, 0xbf], // a BOM in the middle
  [0x22, 0x0a, 0x22], // "\n"
];

const HOSTILE_VALUES = [
  'NaN',
  'nan',
  'Infinity',
  '-Infinity',
  'inf',
  '1e999',
  '-1e999',
  '1e-999',
  '0x10',
  '3.5',
  '',
  ' ',
  'NULL',
  'true',
  'yes',
  '2024-02-30',
  '99999-01-01',
  '9223372036854775808',
  '-9223372036854775809',
  '"unclosed',
  'a"b',
  '"quoted ""inner"""',
  '\0',
  '名前',
  'x'.repeat(100_000),
];

/**
 * Positions are fractions of the current length, so they stay meaningful after earlier mutations.
 * Unbiased: fast-check's default bias towards 0 would truncate most files to nothing.
 */
const fraction = fc.noBias(fc.integer({ min: 0, max: 9999 })).map((n) => n / 10_000);

/** Whole-file mutations (empty, only a header, no header) are rarer: they end every run they are in the same way. */
const rare = <T>(arbitrary: fc.Arbitrary<T>) => ({ weight: 1, arbitrary });
const common = <T>(arbitrary: fc.Arbitrary<T>) => ({ weight: 4, arbitrary });

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  common(fc.record({ kind: fc.constant('truncate' as const), at: fraction })),
  common(
    fc.record({
      kind: fc.constant('insert' as const),
      at: fraction,
      bytes: fc.oneof(fc.constantFrom(...BYTE_FRAGMENTS), fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 })),
    }),
  ),
  common(fc.record({ kind: fc.constant('delete' as const), at: fraction, length: fc.integer({ min: 1, max: 40 }) })),
  common(fc.record({ kind: fc.constant('duplicateHeader' as const), where: fc.constantFrom('after' as const, 'end' as const) })),
  rare(fc.record({ kind: fc.constant('dropHeader' as const) })),
  common(fc.record({ kind: fc.constant('swapDelimiter' as const), to: fc.constantFrom(';', '\t', '|', ' ') })),
  rare(fc.record({ kind: fc.constant('empty' as const) })),
  rare(fc.record({ kind: fc.constant('onlyHeader' as const) })),
  common(fc.record({ kind: fc.constant('bom' as const) })),
  common(fc.record({ kind: fc.constant('crlf' as const) })),
  common(
    fc.record({
      kind: fc.constant('setField' as const),
      row: fc.nat(),
      column: fc.nat({ max: CSV_COLUMNS.length - 1 }),
      value: fc.oneof(fc.constantFrom(...HOSTILE_VALUES), hostileString({ unrepresentable: true, maxLength: 30 })),
    }),
  ),
);
export interface MutatedCsv {
  rows: CsvRow[];
  mutations: Mutation[];
}

export const mutatedCsv: fc.Arbitrary<MutatedCsv> = fc.record({
  rows: fc.array(csvRow, { minLength: 1, maxLength: 25 }),
  mutations: fc.array(mutation, { minLength: 0, maxLength: 4 }),
});

function csvCell(v: string, delimiter: string): string {
  return /["\r\n]/.test(v) || v.includes(delimiter) || v !== v.trim() ? `"${v.replaceAll('"', '""')}"` : v;
}

function cellsOf(row: CsvRow): string[] {
  return [String(row.id), row.amount === null ? '' : String(row.amount), row.name === null ? '' : row.name, row.active === null ? '' : String(row.active), row.day ?? ''];
}

/** The bytes of the CSV after every mutation, applied in order. */
export function renderMutatedCsv({ rows, mutations }: MutatedCsv): Buffer {
  // Field-level mutations first (they need the rows), then structure, then raw bytes.
  const cells = rows.map(cellsOf);
  for (const m of mutations) {
    if (m.kind === 'setField' && cells.length > 0) cells[m.row % cells.length]![m.column] = m.value;
  }
  let delimiter = ',';
  for (const m of mutations) if (m.kind === 'swapDelimiter') delimiter = m.to;
  const header = CSV_COLUMNS.map((c) => csvCell(c, delimiter)).join(delimiter);
  let lines = cells.map((r) => r.map((v) => csvCell(v, delimiter)).join(delimiter));
  let headerLines = [header];
  for (const m of mutations) {
    if (m.kind === 'duplicateHeader') {
      if (m.where === 'after') lines = [header, ...lines];
      else lines = [...lines, header];
    }
    if (m.kind === 'dropHeader') headerLines = [];
    if (m.kind === 'onlyHeader') lines = [];
  }
  const newline = mutations.some((m) => m.kind === 'crlf') ? '\r\n' : '\n';
  let bytes = Buffer.from([...headerLines, ...lines].map((l) => l + newline).join(''), 'utf8');
  if (mutations.some((m) => m.kind === 'bom')) bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]);
  for (const m of mutations) {
    const at = 'at' in m ? Math.floor(m.at * (bytes.length + 1)) : 0;
    if (m.kind === 'truncate') bytes = bytes.subarray(0, at);
    if (m.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(m.bytes), bytes.subarray(at)]);
    if (m.kind === 'delete') bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.length)]);
    if (m.kind === 'empty') bytes = Buffer.alloc(0);
  }
  return bytes;
}

/** A short, printable summary of a mutated CSV for failure reports (the long field stays out). */
export function summarizeCsv(bytes: Buffer): string {
  const text = JSON.stringify(bytes.toString('latin1'));
  return text.length > 600 ? `${text.slice(0, 600)}… (${bytes.length} bytes)` : text;
}
