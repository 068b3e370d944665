/**
 * The input of the ingest benchmarks (bench:ingest and bench:peers:ingest): the generated CSV and
 * its contract, in one place so both measure the same job.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ContractInput } from '../src/contract/schema';
import { quoteString } from '../src/sql/quote';

/** 20 columns: a key, 12 doubles, 4 integers, 3 categoricals; ~1% nulls and ~0.5% contract breaks. */
export async function generateCsv(conn: DuckDBConnection, rows: number, file: string): Promise<void> {
  const doubles = Array.from({ length: 12 }, (_, j) => `CASE WHEN hash(i, ${j}) % 100 = 0 THEN NULL ELSE round(((hash(i, ${j}) % 100000) / 1000.0) - 20, 3) END AS d${j}`);
  const ints = Array.from({ length: 4 }, (_, j) => `(hash(i, ${j + 100}) % 1000)::BIGINT AS n${j}`);
  const cats = Array.from({ length: 3 }, (_, j) => `'c' || (hash(i, ${j + 200}) % ${5 + j * 10}) AS s${j}`);
  await conn.run(`COPY (SELECT i AS id, ${[...doubles, ...ints, ...cats].join(', ')} FROM range(${rows}) t(i)) ` + `TO ${quoteString(file)} (HEADER)`);
}

export const contract: ContractInput = {
  columns: [
    { name: 'id', type: 'integer', nullable: false },
    ...Array.from({ length: 12 }, (_, j) => ({ name: `d${j}`, type: 'double' as const, min: -20, max: 79.95 })),
    ...Array.from({ length: 4 }, (_, j) => ({ name: `n${j}`, type: 'integer' as const, nullable: false, min: 0 })),
    ...Array.from({ length: 3 }, (_, j) => ({
      name: `s${j}`,
      type: 'string' as const,
      allowed: Array.from({ length: 5 + j * 10 }, (_, k) => `c${k}`),
    })),
  ],
  key: ['id'],
};
