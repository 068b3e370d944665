import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { openAllowedFile } from '../datasets/raw';
import { durationMs } from '../duration';
import { userError } from '../errors';
import type { ArtifactStore } from '../store/artifact-store';
import { sha256File } from '../store/hash';
import { layout } from '../store/layout';
import { s3InputsOf } from '../store/s3-objects';
import { assertS3Allowed, isPlainObjectName, isS3Url, s3PrefixUrl } from '../store/s3-url';
import type { Landing, LandedFile } from './request';

/**
 * The landing folder's side of "each new file exactly once": a file is known by the sha256 of its
 * bytes, and taken when a marker for that hash is in the store (landing/<model>/<dataset>/<sha>.json,
 * written with put-if-absent by the file's chain). Two scanners, or one restarted, find the same
 * hash and the same marker; the chain's workflow id is built from the hash too, so a file whose
 * chain is already running is not started twice either. Renaming or copying a file does not make
 * it new; changing its bytes does.
 */
export interface LandedMarker extends LandedFile {
  workflowId: string;
  takenAt: string;
}

export function landedMarkerUrl(store: ArtifactStore, model: string, dataset: string, sha256: string): string {
  return store.url(...layout.landedFile(model, dataset, sha256));
}

/** Records that `landed` is taken; false when another chain recorded it first. */
export async function recordLanded(store: ArtifactStore, model: string, dataset: string, marker: LandedMarker): Promise<boolean> {
  return store.backend.putIfAbsent(store.key(...layout.landedFile(model, dataset, marker.sha256)), `${JSON.stringify(marker, null, 2)}\n`);
}

/** A file (or object) of the landing location, as listed: enough to judge readiness without reading it. */
type Listed = Omit<LandedFile, 'sha256'>;

/** A landing location's two reads: what is there, and the bytes' hash of one entry. */
interface LandingSource {
  names: ReadonlySet<string>;
  describe(name: string): Promise<Listed | undefined>;
  hash(entry: Listed): Promise<string>;
}

/**
 * The files of the landing location that match, are complete, and have not been taken, oldest
 * first. A folder or an S3 prefix: the rules are the same, only the reads differ.
 */
export async function findLandedFiles(
  store: ArtifactStore,
  args: { model: string; dataset: string; landing: Landing; allowedRoots: readonly string[]; now?: number },
): Promise<LandedFile[]> {
  const { landing } = args;
  const now = args.now ?? Date.now();
  const source = isS3Url(landing.path) ? await prefixSource(store, args) : await folderSource(args);
  const match = globToRegExp(landing.pattern);
  const marker = 'marker' in landing.ready ? landing.ready.marker : undefined;
  const stableMs = 'stableFor' in landing.ready ? durationMs(landing.ready.stableFor) : 0;
  const taken = await takenFiles(store, args.model, args.dataset);
  const found: LandedFile[] = [];
  for (const name of [...source.names].sort()) {
    if (!match.test(name) || name.startsWith('.') || (marker && name.endsWith(marker))) continue;
    if (marker && !source.names.has(`${name}${marker}`)) continue;
    const entry = await source.describe(name);
    if (!entry || entry.size === 0 || now - entry.mtimeMs < stableMs) continue;
    // Hashing is the cost of a scan: an entry seen before as it is now is not read again.
    if (taken.has(seenKey(entry))) continue;
    const sha256 = await source.hash(entry);
    if (taken.has(sha256)) continue;
    found.push({ ...entry, sha256 });
  }
  return found.sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
}

async function folderSource(args: { dataset: string; landing: Landing; allowedRoots: readonly string[] }): Promise<LandingSource> {
  const { landing } = args;
  const entries = await fs.readdir(landing.path, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    throw userError(
      'InvalidInput',
      `Landing folder ${landing.path} of dataset ${args.dataset} cannot be read (${err.code ?? err.message}); create it or fix landing.path in the spec`,
    );
  });
  return {
    names: new Set(entries.filter((e) => e.isFile()).map((e) => e.name)),
    async describe(name) {
      const file = path.join(landing.path, name);
      const stat = await fs.stat(file).catch(() => undefined);
      return stat && { file, name, size: stat.size, mtimeMs: stat.mtimeMs };
    },
    async hash(entry) {
      await (await openAllowedFile(entry.file, args.allowedRoots, 'Landing file')).close();
      return sha256File(entry.file);
    },
  };
}

/**
 * An S3 prefix: one LIST (every page) gives names, sizes, ETags and Last-Modified; only a new
 * candidate's bytes are read (one GET, streamed into the hash). An object is whole once it is
 * listed — S3 has no half-written objects — so "stable" is its Last-Modified at least `stableFor`
 * ago, for writers that replace an object until they are done; a marker object works as beside a
 * file. Keys deeper than the prefix and names with control characters or backslashes are not
 * taken; the prefix itself must be inside MLOPS_INGEST_ALLOWED_ROOTS when that is set.
 */
async function prefixSource(store: ArtifactStore, args: { landing: Landing; allowedRoots: readonly string[] }): Promise<LandingSource> {
  const prefix = s3PrefixUrl(args.landing.path);
  assertS3Allowed(prefix, args.allowedRoots, 'Landing prefix');
  const objects = s3InputsOf(store, prefix);
  const listed = new Map((await objects.children(prefix)).filter((o) => isPlainObjectName(o.name)).map((o) => [o.name, o]));
  return {
    names: new Set(listed.keys()),
    async describe(name) {
      const o = listed.get(name)!;
      return { file: o.url, name, size: o.size, mtimeMs: o.lastModified.getTime(), etag: o.etag };
    },
    hash: (entry) => objects.sha256(entry.file),
  };
}

/**
 * Markers are written once (put-if-absent) and never change, so what one says is kept per worker
 * process: a scan lists the markers and reads only those it has not read before — on S3 one GET
 * per newly taken file, not one per taken file per scan. Bounded; the oldest entries go first.
 */
const seenByMarker = new Map<string, string>();
const SEEN_BY_MARKER_MAX = 100_000;

/** The hashes taken, and the name/size/time (or ETag) of the files they were taken as. */
async function takenFiles(store: ArtifactStore, model: string, dataset: string): Promise<Set<string>> {
  const prefix = store.key(...layout.landed(model, dataset));
  const taken = new Set<string>();
  for (const child of await store.backend.children(prefix)) {
    if (!child.endsWith('.json')) continue;
    taken.add(child.slice(0, -'.json'.length));
    const url = store.backend.url(`${prefix}/${child}`);
    let seen = seenByMarker.get(url);
    if (seen === undefined) {
      const marker = await store.readJson<LandedMarker>(url).catch(() => undefined);
      if (!marker) continue;
      seen = seenKey(marker);
      if (seenByMarker.size >= SEEN_BY_MARKER_MAX) seenByMarker.delete(seenByMarker.keys().next().value!);
      seenByMarker.set(url, seen);
    }
    taken.add(seen);
  }
  return taken;
}

/** A file as it was seen: by name, size and time; an S3 object by name, size and ETag (its time changes when the same bytes are put again). */
const seenKey = (f: Pick<LandedFile, 'name' | 'size' | 'mtimeMs' | 'etag'>) => `${f.name}\0${f.size}\0${f.etag ?? f.mtimeMs}`;

/** `*` and `?` over a file name; everything else literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}
