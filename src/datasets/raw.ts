import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { userError } from '../errors';
import type { ArtifactStore } from '../store/artifact-store';
import { sha256, sha256File } from '../store/hash';
import { queryRows } from '../sql/duckdb';
import { quoteString } from '../sql/quote';
import type { SourceFingerprint } from './manifest';
import { type CsvOptions, detectFormat, type SourceFormat } from './source';

/**
 * Raw retention: before validation, the input files are copied into raw/<dataset>/<source hash>/
 * with an expiry. Validation reads the copy, so what was validated is exactly what is kept, and
 * the copy stays for inspection even when the contract rejects the data.
 */
export interface RawRetentionRecord {
  dataset: string;
  sourceHash: string;
  files: string[];
  copiedAt: string;
  expiresAt: string;
}

export interface StagedSource {
  fingerprint: SourceFingerprint;
  rawDir: string;
  /** Raw copies, in source path order. */
  files: string[];
  expiresAt: string;
}

export const RETENTION_FILE = 'retention.json';
const GLOB_CHARS = /[*?[{]/;

export async function resolveSourceFiles(
  conn: DuckDBConnection,
  source: string,
  allowedRoots: readonly string[],
): Promise<string[]> {
  const absolute = path.resolve(source);
  let files: string[];
  if (GLOB_CHARS.test(absolute)) {
    const rows = await queryRows<{ file: string }>(conn, `SELECT file FROM glob(${quoteString(absolute)}) ORDER BY file`);
    files = rows.map((r) => r.file);
    if (files.length === 0) throw userError('SourceNotFound', `No files match ${source}`);
  } else {
    files = [absolute];
  }
  // Roots are compared by their real paths too: a root reached through a symlink still admits its files.
  const roots = await Promise.all(allowedRoots.map((root) => fs.realpath(root).catch(() => root)));
  for (const file of files) {
    const real = await fs.realpath(file).catch(() => {
      throw userError('SourceNotFound', `Source file ${file} does not exist or is not readable`);
    });
    if (roots.length && !roots.some((root) => real === root || real.startsWith(root + path.sep))) {
      throw userError(
        'InvalidInput',
        `Source ${file} is outside the folders this worker may read (MLOPS_INGEST_ALLOWED_ROOTS=${allowedRoots.join(':')})`,
      );
    }
    const stat = await fs.stat(real);
    if (!stat.isFile()) throw userError('InvalidInput', `Source ${file} is not a regular file`);
  }
  return files;
}

/** A source of 0-byte files has no columns to read; DuckDB would invent one (column0). */
export async function assertNotEmpty(files: readonly string[], consequence: string, names: readonly string[] = files): Promise<void> {
  for (const f of files) {
    if ((await fs.stat(f)).size > 0) return;
  }
  const what = names.length === 1 ? `The source file ${names[0]} is` : `All ${names.length} source files are`;
  throw userError('EmptySource', `${what} empty (0 bytes); ${consequence}.`);
}

export function formatOf(files: readonly string[], requested?: SourceFormat): SourceFormat {
  if (requested) return requested;
  const formats = new Set(files.map(detectFormat));
  const [only] = formats;
  if (formats.size !== 1 || only === undefined) {
    throw userError(
      'InvalidInput',
      `Cannot tell the format of ${files.join(', ')} from the file extension(s); ` +
        'use .csv/.tsv, .parquet or .json/.ndjson/.jsonl (optionally .gz), or pass the format explicitly.',
    );
  }
  return only;
}

/** Keeps the suffix DuckDB needs to recognise the format and compression; drops the user's file name. */
function rawCopyName(index: number, original: string): string {
  const suffix = /(\.(csv|tsv|txt|parquet|json|ndjson|jsonl))?(\.(gz|zst))?$/i.exec(path.basename(original))?.[0] ?? '';
  return `part-${String(index).padStart(4, '0')}${suffix.toLowerCase()}`;
}

export async function stageRawSource(args: {
  conn: DuckDBConnection;
  store: ArtifactStore;
  dataset: string;
  source: string;
  format?: SourceFormat;
  csv?: CsvOptions;
  retentionDays: number;
  allowedRoots: readonly string[];
  now: Date;
}): Promise<StagedSource> {
  const originals = await resolveSourceFiles(args.conn, args.source, args.allowedRoots);
  const format = formatOf(originals, args.format);
  // Copy first, then hash the copies: the id describes exactly the bytes that are kept and
  // validated, even if the original is still being written to.
  const tmp = await args.store.makeTempDir(`raw-${args.dataset}`);
  try {
    const names = originals.map((o, i) => rawCopyName(i, o));
    const files = [];
    for (const [i, original] of originals.entries()) {
      const copy = path.join(tmp, names[i]!);
      await fs.copyFile(original, copy, fs.constants.COPYFILE_FICLONE);
      files.push({ original, size: (await fs.stat(copy)).size, sha256: await sha256File(copy) });
    }
    const hash = sha256(files.map((f) => f.sha256).join('\n'));
    const fingerprint: SourceFingerprint = { format, ...(args.csv ? { csv: args.csv } : {}), hash, files };
    const rawDir = args.store.rawDir(args.dataset, hash.slice(0, 16));
    const recordFile = path.join(rawDir, RETENTION_FILE);
    const expiresAt = new Date(args.now.getTime() + args.retentionDays * 86_400_000).toISOString();

    let record = await args.store.readJson<RawRetentionRecord>(recordFile);
    if (record && record.expiresAt < expiresAt) {
      // The same bytes ingested again: keep them as long as the longest request asks.
      record = { ...record, expiresAt };
      await args.store.writeJsonAtomic(recordFile, record);
    }
    if (!record) {
      record = { dataset: args.dataset, sourceHash: hash, files: names, copiedAt: args.now.toISOString(), expiresAt };
      await fs.writeFile(path.join(tmp, RETENTION_FILE), `${JSON.stringify(record, null, 2)}\n`);
      // A folder without a record is a leftover of an interrupted write or sweep: replace it.
      await args.store.discardDir(rawDir);
      if (!(await args.store.publishDir(tmp, rawDir))) record = (await args.store.readJson<RawRetentionRecord>(recordFile))!;
    }
    // The stored copy keeps the names it was first written with.
    return { fingerprint, rawDir, files: record.files.map((f) => path.join(rawDir, f)), expiresAt: record.expiresAt };
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
