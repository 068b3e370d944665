import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { userError } from './errors';
import { publishedName } from './store/local-backend';

/**
 * A full disk or an exhausted memory limit is not a passing fault: the same work fails the same
 * way on the next attempt (five attempts used to fill the disk five times, then end in
 * `Error: ENOSPC …` naming no file). Such errors become non-retryable failures that say what ran
 * out, where, and which setting or folder to change.
 */
export interface ResourceContext {
  /** The artifact store's root: where nearly every write goes, named when an error names no path. */
  storeRoot: string;
  /** DuckDB's memory limit as configured (MLOPS_DUCKDB_MEMORY_LIMIT). */
  memoryLimit: string;
}

const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);
const DUCKDB_DISK_FULL = /No space left on device|Disk quota exceeded/;
const OUT_OF_MEMORY = /^Out of Memory Error|Array buffer allocation failed|Failed to allocate memory|bad_alloc/;

type ErrnoError = NodeJS.ErrnoException & { dest?: string };
const isDiskFull = (err: ErrnoError) => (err.code !== undefined && DISK_FULL_CODES.has(err.code)) || DUCKDB_DISK_FULL.test(err.message);

/** For code that wraps errors in its own failure: these must pass through unwrapped. */
export function isResourceExhaustion(err: unknown): boolean {
  return err instanceof Error && !(err instanceof ApplicationFailure) && (isDiskFull(err) || OUT_OF_MEMORY.test(err.message));
}

/** The non-retryable failure `err` stands for, or undefined when it is not resource exhaustion. */
export async function resourceFailure(err: unknown, context: ResourceContext): Promise<ApplicationFailure | undefined> {
  if (!isResourceExhaustion(err)) return undefined;
  const errno = err as ErrnoError;
  if (isDiskFull(errno)) {
    // copyfile names its source in `path` and the file it could not write in `dest`; DuckDB quotes the file.
    const quoted = errno.dest ?? (errno.code ? undefined : /"([^"]+)"/.exec(errno.message)?.[1]) ?? errno.path;
    const written = quoted === undefined ? undefined : publishedName(quoted);
    const where = written ? `writing ${written}` : `writing under the artifact store ${context.storeRoot}`;
    const free = await freeSpace(written ?? context.storeRoot);
    return userError(
      'DiskFull',
      `The disk is full (${errno.code ?? 'no space left on device'}) ${where}${free}. Nothing half-written was published. ` +
        'Free space on that filesystem (or give MLOPS_DATA_DIR / MLOPS_DUCKDB_TEMP_DIR more room), then run the workflow again; ' +
        'it is not retried by itself, since a retry would only fill the disk again.',
      { path: written ?? context.storeRoot, code: errno.code ?? 'ENOSPC' },
    );
  }
  return userError(
    'OutOfMemory',
    `Out of memory: ${errno.message.split('\n')[0]} (DuckDB's limit on this worker: ${context.memoryLimit}, MLOPS_DUCKDB_MEMORY_LIMIT). ` +
      'Narrow the input (fewer columns or rows), run fewer activities per worker (MLOPS_MAX_CONCURRENT_ACTIVITIES), or raise the limit ' +
      'where the machine has the memory; it is not retried by itself, since the same work would run out again.',
    { memoryLimit: context.memoryLimit },
  );
}

/** " (now 0 B free of 4.0 MB …)" for the filesystem holding `p` (or its nearest existing parent). */
async function freeSpace(p: string): Promise<string> {
  for (let dir = p; ; dir = path.dirname(dir)) {
    try {
      const s = await fs.statfs(dir);
      return ` (now ${formatBytes(s.bavail * s.bsize)} free of ${formatBytes(s.blocks * s.bsize)} on that filesystem)`;
    } catch {
      if (dir === path.dirname(dir)) return '';
    }
  }
}

function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}
