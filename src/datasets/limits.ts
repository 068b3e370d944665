import { userError } from '../errors';

/** 2,001 columns × 200 rows ingest in 16 s at 0.7 GB here; 10,001 ran out of a 2 GB limit after 4.7 min of validation. */
export const DEFAULT_MAX_COLUMNS = 2000;

/**
 * Validation, profiling and the snapshot cost memory and time in proportion to a table's width;
 * a few kilobytes of commas can ask for ten thousand columns. Wider than the worker's cap is
 * refused before DuckDB does any of that work.
 */
export function assertColumnLimit(columns: number, maxColumns: number, what: string): void {
  if (columns <= maxColumns) return;
  throw userError(
    'TooManyColumns',
    `${what} has ${columns.toLocaleString('en-US')} columns, more than this worker validates and profiles (MLOPS_MAX_COLUMNS=${maxColumns}). ` +
      'Keep the columns you need (with a contract, source columns it does not name are dropped), or raise MLOPS_MAX_COLUMNS on the workers, with MLOPS_DUCKDB_MEMORY_LIMIT to match.',
    { columns, maxColumns },
  );
}
