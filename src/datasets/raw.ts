import { createWriteStream, existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import * as path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { userError } from '../errors';
import type { ArtifactStore } from '../store/artifact-store';
import { urlJoin } from '../store/backend';
import { s3InputsOf } from '../store/s3-objects';
import { assertS3Allowed, isS3Url } from '../store/s3-url';
import { layout } from '../store/layout';
import { sha256, sha256File } from '../store/hash';
import { queryRows } from '../sql/duckdb';
import { quoteString } from '../sql/quote';
import { type Contract, parseContractJson } from '../contract/schema';
import type { DatasetManifest, SourceFingerprint } from './manifest';
import type { ContractRef } from './request';
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
  /** A contract given by reference, copied into the store. */
  contract?: ContractRef;
}

export const RETENTION_FILE = 'retention.json';
const GLOB_CHARS = /[*?[{]/;
/** Linux: an open descriptor's path, as the kernel resolved it. */
const PROC_FDS = existsSync('/proc/self/fd');

/** The files a path or glob names, in path order; nothing is checked or opened yet. */
async function listSourceFiles(conn: DuckDBConnection, source: string): Promise<string[]> {
  const absolute = path.resolve(source);
  if (!GLOB_CHARS.test(absolute)) return [absolute];
  const rows = await queryRows<{ file: string }>(conn, `SELECT file FROM glob(${quoteString(absolute)}) ORDER BY file`);
  if (rows.length === 0) throw userError('SourceNotFound', `No files match ${source}`);
  return rows.map((r) => r.file);
}

/**
 * Opens a source file and checks the file it opened, not its path: a path checked and then opened
 * again could be swapped for a symlink out of the allowed roots in between (seen: 2 published
 * versions in 30 ingests with rows from outside). On Linux the descriptor's own path
 * (/proc/self/fd) is checked; elsewhere the path is resolved first and opened without following a
 * final symlink, which leaves directory swaps possible. O_NONBLOCK: a FIFO must not hang the open.
 */
export async function openAllowedFile(file: string, allowedRoots: readonly string[], what = 'Source'): Promise<fs.FileHandle> {
  const byProc = PROC_FDS;
  const target = byProc ? file : await fs.realpath(file).catch(() => file);
  const flags = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | (byProc ? 0 : fs.constants.O_NOFOLLOW);
  const handle = await fs.open(target, flags).catch(() => {
    throw userError('SourceNotFound', `${what} file ${file} does not exist or is not readable`);
  });
  try {
    const real = byProc ? await fs.readlink(`/proc/self/fd/${handle.fd}`) : target;
    // Roots are compared by their real paths too: a root reached through a symlink still admits its files.
    const roots = await Promise.all(allowedRoots.map((root) => fs.realpath(root).catch(() => root)));
    if (roots.length && !roots.some((root) => real === root || real.startsWith(root + path.sep))) {
      throw userError('InvalidInput', `${what} ${file} is outside the folders this worker may read (MLOPS_INGEST_ALLOWED_ROOTS=${allowedRoots.join(':')})`);
    }
    if (!(await handle.stat()).isFile()) throw userError('InvalidInput', `${what} ${file} is not a regular file`);
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** Checks every file a path or glob names (the CLI reads them in place; workers copy them, below). */
export async function resolveSourceFiles(conn: DuckDBConnection, source: string, allowedRoots: readonly string[]): Promise<string[]> {
  const files = await listSourceFiles(conn, source);
  for (const file of files) await (await openAllowedFile(file, allowedRoots)).close();
  return files;
}

export interface CopiedFile {
  original: string;
  copy: string;
  size: number;
  sha256: string;
}

/**
 * Copies the files a path or glob names into `dir`, each from the descriptor that was checked
 * (through its /proc/self/fd link, so the kernel's fast copy still applies), and hashes the copy:
 * what is validated and kept is exactly what was checked.
 */
export async function copyAllowedFiles(conn: DuckDBConnection, source: string, allowedRoots: readonly string[], dir: string): Promise<CopiedFile[]> {
  const originals = await listSourceFiles(conn, source);
  const copies: CopiedFile[] = [];
  for (const [i, original] of originals.entries()) {
    const handle = await openAllowedFile(original, allowedRoots);
    try {
      const copy = path.join(dir, rawCopyName(i, original));
      if (PROC_FDS) await fs.copyFile(`/proc/self/fd/${handle.fd}`, copy, fs.constants.COPYFILE_FICLONE);
      else await pipeline(handle.createReadStream({ autoClose: false }), createWriteStream(copy));
      copies.push({ original, copy, size: (await fs.stat(copy)).size, sha256: await sha256File(copy) });
    } finally {
      await handle.close();
    }
  }
  return copies;
}

/**
 * An s3:// source names one object (no globs: `[`, `{`, `*` are plain characters in a key). It is
 * streamed into `dir` and hashed on the way, on any worker host: what is validated and kept as the
 * raw copy is exactly the bytes downloaded. MLOPS_INGEST_ALLOWED_ROOTS, when set, must hold an
 * s3://bucket/prefix/ that contains it.
 */
async function downloadAllowedObject(store: ArtifactStore, url: string, allowedRoots: readonly string[], dir: string): Promise<CopiedFile[]> {
  assertS3Allowed(url, allowedRoots);
  const copy = path.join(dir, rawCopyName(0, url));
  const { size, sha256 } = await s3InputsOf(store, url).download(url, copy);
  return [{ original: url, copy, size, sha256 }];
}

/**
 * A source pinned by the sha256 its finder recorded (a landing scan): different bytes now mean
 * the file was replaced or rewritten between the scan and this ingest — refused, naming it, rather
 * than ingesting data nobody looked at under the identity of other data.
 */
function assertSourceUnchanged(copies: readonly CopiedFile[], expected: string): void {
  const [only] = copies;
  if (copies.length !== 1 || !only) throw userError('InvalidInput', `sourceSha256 pins one source file, and the source names ${copies.length}`);
  if (only.sha256 !== expected) {
    throw userError(
      'SourceChanged',
      `${only.original} changed after it was found: its bytes now hash to ${only.sha256.slice(0, 12)}…, the scan recorded ${expected.slice(0, 12)}…; the new bytes are a new file to the next scan (a chain of their own), so this one can be dismissed`,
      { file: only.original, expected, actual: only.sha256 },
    );
  }
}

/** A source of 0-byte files has no columns to read; DuckDB would invent one (column0). */
export async function assertNotEmpty(files: readonly string[], consequence: string, names: readonly string[] = files): Promise<void> {
  // Objects in a bucket (raw copies on S3) were measured when they were copied: their callers check those sizes.
  const local = files.filter((f) => !isUrl(f));
  if (local.length < files.length) return;
  assertSizesNotEmpty(await Promise.all(local.map(async (f) => (await fs.stat(f)).size)), consequence, names);
}

export function assertSizesNotEmpty(sizes: readonly number[], consequence: string, names: readonly string[]): void {
  if (sizes.some((size) => size > 0)) return;
  const what = names.length === 1 ? `The source file ${names[0]} is` : `All ${names.length} source files are`;
  throw userError('EmptySource', `${what} empty (0 bytes); ${consequence}.`);
}

function isUrl(file: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(file);
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
  contractRef?: ContractRef;
  /** The bytes the source must have (see assertSourceUnchanged). */
  sourceSha256?: string;
  retentionDays: number;
  allowedRoots: readonly string[];
  now: Date;
}): Promise<StagedSource> {
  const contract = args.contractRef ? await stageContract(args.store, args.contractRef, args.allowedRoots) : undefined;
  // Copy first, then hash the copies: the id describes exactly the bytes that are kept and
  // validated, even if the original is still being written to.
  const tmp = await args.store.makeTempDir(`raw-${args.dataset}`);
  try {
    const copies = isS3Url(args.source)
      ? await downloadAllowedObject(args.store, args.source, args.allowedRoots, tmp)
      : await copyAllowedFiles(args.conn, args.source, args.allowedRoots, tmp);
    if (args.sourceSha256) assertSourceUnchanged(copies, args.sourceSha256);
    const format = formatOf(
      copies.map((c) => c.original),
      args.format,
    );
    const names = copies.map((c) => path.basename(c.copy));
    const files = copies.map(({ original, size, sha256 }) => ({ original, size, sha256 }));
    const hash = sha256(files.map((f) => f.sha256).join('\n'));
    const fingerprint: SourceFingerprint = { format, ...(args.csv ? { csv: args.csv } : {}), hash, files };
    const rawKey = args.store.key(...layout.rawCopy(args.dataset, hash.slice(0, 16)));
    const rawDir = args.store.rawDir(args.dataset, hash.slice(0, 16));
    const recordFile = urlJoin(rawDir, RETENTION_FILE);
    const expiresAt = new Date(args.now.getTime() + args.retentionDays * 86_400_000).toISOString();

    let record = await args.store.readJson<RawRetentionRecord>(recordFile);
    if (record && record.expiresAt < expiresAt) {
      // The same bytes ingested again: keep them as long as the longest request asks.
      record = { ...record, expiresAt };
      await args.store.writeJsonAtomic(recordFile, record);
    }
    if (!record) {
      record = { dataset: args.dataset, sourceHash: hash, files: names, copiedAt: args.now.toISOString(), expiresAt };
      // The record is the marker, written last: a folder without one is a leftover of an
      // interrupted write or sweep, replaced (the copies are named by the hash of their bytes).
      const ours = await args.store.backend.publishFolder(tmp, rawKey, RETENTION_FILE, `${JSON.stringify(record, null, 2)}\n`);
      if (!ours) record = (await args.store.readJson<RawRetentionRecord>(recordFile))!;
    }
    // The stored copy keeps the names it was first written with.
    return { fingerprint, rawDir, files: record.files.map((f) => urlJoin(rawDir, f)), expiresAt: record.expiresAt, ...(contract ? { contract } : {}) };
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * A published version's raw copy, staged again, for rebuilding its snapshot: only when every
 * file is still the one the version was built from.
 */
export async function stagedFromRawCopy(store: ArtifactStore, manifest: DatasetManifest): Promise<StagedSource> {
  const ref = `${manifest.dataset}@${manifest.version}`;
  const record = await store.readJson<RawRetentionRecord>(urlJoin(manifest.raw.uri, RETENTION_FILE));
  const gone = (why: string) =>
    userError(
      'DatasetIntegrityError',
      `Cannot repair ${ref} from its raw copy: ${why}. Ingest the same source again (same contract), which rebuilds the version in place, or restore the snapshot from a backup.`,
    );
  if (!record) throw gone(`${manifest.raw.uri} is gone (retention until ${manifest.raw.expiresAt})`);
  const files = record.files.map((f) => urlJoin(manifest.raw.uri, f));
  if (files.length !== manifest.source.files.length) throw gone('it holds other files than the version was built from');
  for (const [i, file] of files.entries()) {
    const actual = await store.sha256(file).catch(() => undefined);
    if (actual !== manifest.source.files[i]!.sha256) throw gone(`${file} ${actual ? 'changed' : 'is missing'}`);
  }
  return { fingerprint: manifest.source, rawDir: manifest.raw.uri, files, expiresAt: record.expiresAt };
}

/**
 * A contract given by reference: read once through the allowed-roots check, held to the sha256 the
 * client saw, parsed, and kept in the store under that hash for the build step (and for inspection).
 */
export async function stageContract(store: ArtifactStore, ref: ContractRef, allowedRoots: readonly string[]): Promise<ContractRef> {
  const handle = await openAllowedFile(ref.uri, allowedRoots, 'Contract');
  let bytes: Buffer;
  try {
    bytes = await handle.readFile();
  } finally {
    await handle.close();
  }
  const actual = sha256(bytes);
  if (actual !== ref.sha256) {
    throw userError(
      'InvalidInput',
      `Contract file ${ref.uri} has sha256 ${actual}, not ${ref.sha256} as the request says: it changed after the request was made; start the ingest again`,
    );
  }
  // Parsed now so a bad contract fails the first step, before any data is copied.
  parseContractJson(bytes.toString('utf8'), ref.uri);
  const stored = store.contractFile(actual);
  if (!(await store.exists(stored))) await store.writeFileAtomic(stored, bytes.toString('utf8'));
  return { uri: stored, sha256: actual };
}

/** The contract staged by stageContract, checked against its hash again (the store is shared). */
export async function readStagedContract(store: ArtifactStore, ref: ContractRef): Promise<Contract> {
  const bytes = await store.readBytes(ref.uri);
  if (!bytes) throw userError('InvalidContract', `Stored contract ${ref.uri} is gone; ingest again`);
  if (sha256(bytes) !== ref.sha256) throw userError('InvalidContract', `Stored contract ${ref.uri} does not match its sha256 ${ref.sha256}; ingest again`);
  return parseContractJson(bytes.toString('utf8'), ref.uri);
}
