import * as fs from 'node:fs';
import { DuckDBConnection, DuckDBInstance, DuckDBTypeId } from '@duckdb/node-api';
import { quoteString } from './quote';

/**
 * One DuckDB instance per process (it owns the thread pool and buffer manager); every unit of
 * work opens its own connection, so temp tables never leak between activities.
 */
export interface DuckDbOptions {
  /** Where DuckDB spills when a query outgrows memory (inside the artifact store's .tmp). */
  spillDir?: string;
  memoryLimit?: string;
  threads?: number;
}

export async function openDuckDb(options: DuckDbOptions = {}): Promise<DuckDBInstance> {
  const settings: Record<string, string> = {};
  if (options.memoryLimit) settings.memory_limit = options.memoryLimit;
  if (options.threads) settings.threads = String(options.threads);
  const instance = await DuckDBInstance.create(':memory:', settings);
  if (options.spillDir) {
    fs.mkdirSync(options.spillDir, { recursive: true });
    const c = await instance.connect();
    await c.run(`SET temp_directory = ${quoteString(options.spillDir)}`);
    c.closeSync();
  }
  return instance;
}

export type Row = Record<string, unknown>;

/** Rows as plain JS values; BIGINT counts become numbers (they stay far below 2^53 here). */
export async function queryRows<T = Row>(conn: DuckDBConnection, sql: string): Promise<T[]> {
  const reader = await conn.runAndReadAll(sql);
  return reader.getRowObjectsJS().map((row) => normalizeRow(row) as T);
}

/**
 * Rows as a person reads them (`mlops sql`): like queryRows, and a MAP column becomes an object
 * ({key: value}) and a JSON column its parsed value, instead of the driver's list of {key, value}
 * entries and JSON text.
 */
export async function queryRecords<T = Row>(conn: DuckDBConnection, sql: string): Promise<T[]> {
  const reader = await conn.runAndReadAll(sql);
  const names = reader.columnNames();
  const types = reader.columnTypes();
  const maps = names.filter((_, i) => types[i]!.typeId === DuckDBTypeId.MAP);
  const json = names.filter((_, i) => types[i]!.alias === 'JSON');
  return reader.getRowObjectsJS().map((row) => {
    const out = normalizeRow(row);
    for (const m of maps) if (Array.isArray(out[m])) out[m] = Object.fromEntries((out[m] as Array<{ key: unknown; value: unknown }>).map((e) => [String(e.key), e.value]));
    for (const j of json) if (typeof out[j] === 'string') out[j] = JSON.parse(out[j] as string);
    return out as T;
  });
}

function normalizeRow(row: Record<string, unknown>): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) out[k] = normalizeValue(v);
  return out;
}

function normalizeValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(normalizeValue);
  if (v instanceof Date) return v.toISOString();
  if (v && typeof v === 'object') return normalizeRow(v as Record<string, unknown>);
  return v;
}
