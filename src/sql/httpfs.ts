import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { temporalCacheDir } from '../cache-dir';
import { queryRows } from './duckdb';
import { quoteString } from './quote';

/**
 * DuckDB's `httpfs` extension, which reads and writes `s3://` itself (no staging through local
 * disk). It is not built into the binding; DuckDB loads only a signed extension of exactly its own
 * version and platform. Where it comes from, first found wins:
 *
 * 1. MLOPS_DUCKDB_EXTENSION_DIR: a folder in DuckDB's layout (`v1.5.5/linux_amd64/httpfs.duckdb_extension`),
 *    for machines that cannot reach DuckDB's extension repository — nothing else is tried;
 * 2. DuckDB's own extension folder (~/.duckdb/extensions), where `INSTALL httpfs` put it;
 * 3. the project cache (~/.cache/temporal-mlops/duckdb-extensions), where `npm run s3 -- --install`
 *    and the test setup put the copy from PyPI's duckdb-extension-httpfs wheel;
 * 4. `INSTALL httpfs`: DuckDB downloads it from its repository.
 */
export class DuckDbExtensionMissing extends Error {
  override name = 'DuckDbExtensionMissing';
}

export interface DuckDbTarget {
  /** e.g. v1.5.5 */
  version: string;
  /** e.g. linux_amd64 */
  platform: string;
}

export async function duckdbTarget(conn: DuckDBConnection): Promise<DuckDbTarget> {
  const [row] = await queryRows<{ version: string; platform: string }>(conn, 'SELECT version() AS version, (SELECT platform FROM pragma_platform()) AS platform');
  return row!;
}

export function cachedExtensionDir(): string {
  return path.join(temporalCacheDir(), 'duckdb-extensions');
}

/** Where an extension lives in a folder laid out as DuckDB's extension_directory. */
export function extensionFile(dir: string, target: DuckDbTarget, name = 'httpfs'): string {
  return path.join(dir, target.version, target.platform, `${name}.duckdb_extension`);
}

/** Loads httpfs into the connection's instance (loaded once, for every connection of it). */
export async function loadHttpfs(conn: DuckDBConnection, extensionDir?: string): Promise<void> {
  const target = await duckdbTarget(conn);
  if (extensionDir) {
    const file = extensionFile(path.resolve(extensionDir), target);
    if (!fs.existsSync(file)) {
      throw new DuckDbExtensionMissing(
        `MLOPS_DUCKDB_EXTENSION_DIR=${extensionDir} holds no ${path.relative(path.resolve(extensionDir), file)}: DuckDB ${target.version} on ${target.platform} ` +
          `needs exactly that file (\`npm run s3 -- --install\` downloads it into ${cachedExtensionDir()}; point the setting there, or unset it to let DuckDB install httpfs itself).`,
      );
    }
    await loadFile(conn, file, `MLOPS_DUCKDB_EXTENSION_DIR=${extensionDir}`);
    return;
  }
  if (!(await failureOf(conn, 'LOAD httpfs'))) return;
  const cached = extensionFile(cachedExtensionDir(), target);
  if (fs.existsSync(cached)) {
    await loadFile(conn, cached, 'the project cache');
    return;
  }
  const install = (await failureOf(conn, 'INSTALL httpfs')) ?? (await failureOf(conn, 'LOAD httpfs'));
  if (!install) return;
  throw new DuckDbExtensionMissing(
    `DuckDB's httpfs extension (needed for an s3:// store) is not installed, and DuckDB could not install it: ${firstLine(install.error)}. ` +
      `Either let DuckDB reach its extension repository, or run \`npm run s3 -- --install\` (puts the signed extension from PyPI's ` +
      `duckdb-extension-httpfs==${target.version.replace(/^v/, '')} in ${cachedExtensionDir()}), or set MLOPS_DUCKDB_EXTENSION_DIR ` +
      `to a folder holding ${target.version}/${target.platform}/httpfs.duckdb_extension.`,
  );
}

async function loadFile(conn: DuckDBConnection, file: string, where: string): Promise<void> {
  try {
    await conn.run(`LOAD ${quoteString(file)}`);
  } catch (err) {
    throw new DuckDbExtensionMissing(
      `DuckDB refused the httpfs extension from ${where} (${file}): ${firstLine(err)}. It must be the signed build for exactly this DuckDB version and platform.`,
    );
  }
}

/** What went wrong, or undefined when the statement ran. */
async function failureOf(conn: DuckDBConnection, sql: string): Promise<{ error: unknown } | undefined> {
  try {
    await conn.run(sql);
    return undefined;
  } catch (error) {
    return { error };
  }
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!;
}

/**
 * httpfs's failures to reach the S3 endpoint (refused, reset, timed out, a 5xx or throttling
 * answer): the store may be restarting, so they are retried like the SDK's, never taken for
 * something wrong with the file being read.
 */
export function isUnreachableStoreError(err: unknown): boolean {
  return err instanceof Error && /^(IO|HTTP) Error: .*(Could not connect|Connection (refused|reset)|timed? ?out|\(HTTP (5\d\d|429)\))/i.test(err.message);
}
