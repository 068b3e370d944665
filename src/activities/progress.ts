import { Context } from '@temporalio/activity';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

export type Progress = (phase: string, details?: Record<string, number>) => void;

const HEARTBEAT_EVERY_MS = 5_000;

/**
 * Runs a DuckDB unit of work inside an activity: its own connection, heartbeats carrying the
 * latest progress (also while a long statement runs), and cancellation that interrupts the
 * running statement instead of waiting for it to finish.
 */
export async function withDuckDbActivity<T>(duckdb: DuckDBInstance, work: (conn: DuckDBConnection, progress: Progress) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const conn = await duckdb.connect();
  let latest: Record<string, unknown> = { phase: 'start' };
  const progress: Progress = (phase, details) => {
    latest = { phase, ...details };
    ctx.heartbeat(latest);
  };
  const ticker = setInterval(() => ctx.heartbeat(latest), HEARTBEAT_EVERY_MS);
  const onCancel = () => conn.interrupt();
  ctx.cancellationSignal.addEventListener('abort', onCancel);
  try {
    progress('start');
    return await work(conn, progress);
  } finally {
    clearInterval(ticker);
    ctx.cancellationSignal.removeEventListener('abort', onCancel);
    conn.closeSync();
  }
}
