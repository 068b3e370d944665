import { openDuckDb, queryRows } from '../../src/sql/duckdb';

/** One query on a fresh DuckDB, e.g. over the Parquet files a test's server wrote. */
export async function sql<T>(query: string): Promise<T[]> {
  const db = await openDuckDb();
  try {
    return await queryRows<T>(await db.connect(), query);
  } finally {
    db.closeSync();
  }
}
