import * as os from 'node:os';
import * as path from 'node:path';

/**
 * The project's cache outside any checkout (~/.cache/temporal-mlops): what is built or
 * downloaded once per machine — the Temporal binaries, versitygw, the DuckDB httpfs extension,
 * the example trainer's virtualenv.
 */
export function temporalCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'temporal-mlops');
}
