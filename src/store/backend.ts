import * as path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * Where the artifact store's objects live: a local folder or an S3 bucket. Keys are the layout's
 * segments joined by `/` (see layout.ts); a backend maps them to its own URLs — a path, or
 * `s3://bucket/prefix/<key>` — which DuckDB reads and writes itself. Everything above this seam
 * (datasets, retention, lineage views) speaks keys and URLs only, so no library branches on S3.
 */
export interface StoreObject {
  /** Store key, e.g. datasets/churn/versions/3f2a…/manifest.json */
  key: string;
  size: number;
  modifiedAt: Date;
}

/** An object directly under an S3 prefix, as listed. */
export interface S3Child {
  /** s3://bucket/key */
  url: string;
  /** The key's last segment. */
  name: string;
  size: number;
  etag: string;
  lastModified: Date;
}

/** Reads of s3:// inputs (landing prefixes, ingest sources) outside the store: see s3-objects.ts. */
export interface S3Inputs {
  children(prefixUrl: string, options?: { pageSize?: number }): Promise<S3Child[]>;
  sha256(url: string): Promise<string>;
  download(url: string, file: string): Promise<{ size: number; sha256: string }>;
}

/**
 * Files written for one attempt at publishing a folder-shaped artifact (a dataset version),
 * invisible to readers until `publish` writes its marker. Locally a private temp folder renamed
 * into place; on S3 a unique `.attempt-<id>/` prefix under the final key, since S3 cannot rename.
 */
export interface PublishAttempt {
  /** Where to write file `name` of this attempt (a path or an s3:// URL DuckDB writes to itself). */
  writeUrl(name: string): string;
  /** Where file `name` will be read once the attempt is published: what a manifest records. */
  publishedUrl(name: string): string;
}

export interface StoreBackend {
  readonly kind: 'local' | 's3';
  /** S3 only: a reader of objects outside the store (s3:// inputs) on the same endpoint and credentials. */
  objects?(): S3Inputs;
  /** What people are shown: the folder, or s3://bucket/prefix. */
  readonly location: string;
  /** The URL (path or s3://) of a key. */
  url(key: string): string;
  /** The key of a URL inside this store; undefined for anything else (e.g. a local path on S3). */
  keyOf(url: string): string | undefined;

  get(key: string): Promise<Buffer | undefined>;
  /** Replaces the object whole: readers see the old bytes or the new ones, never a part. */
  put(key: string, body: string | Uint8Array): Promise<void>;
  /** Uploads (or copies) a local file under `key`, whole. */
  putFile(key: string, file: string): Promise<void>;
  /** Writes only when nothing is there yet; false when another writer got there first. */
  putIfAbsent(key: string, body: string | Uint8Array): Promise<boolean>;
  exists(key: string): Promise<boolean>;
  /** size in bytes, or undefined when missing. */
  size(key: string): Promise<number | undefined>;
  /** sha256 of the object's bytes, streamed; undefined when missing. */
  sha256(key: string): Promise<string | undefined>;
  /**
   * A token that changes whenever the object is written or replaced, without reading its bytes:
   * what a cache of checks on the object is keyed by. Locally device, inode, size, mtime and ctime;
   * on S3 the ETag, size and Last-Modified of a HEAD. Undefined when missing.
   */
  identity(key: string): Promise<string | undefined>;
  /**
   * Puts the bytes at `from` also at `to` without passing them through this process: a hard link
   * locally (a copy where the filesystem has none), a server-side copy on S3. A target already
   * there from an earlier try of the same step is kept when it holds the same object.
   */
  copy(from: string, to: string): Promise<void>;
  /**
   * The key the object at `key` really is: locally with symbolic links followed (a link out of the
   * store resolves to undefined), on S3 the key itself (objects cannot link). Undefined when missing.
   * What the registry and the page server check before they trust a file as the store's own.
   */
  realKey(key: string): Promise<string | undefined>;
  /** Every object below `prefix` (a folder key), at any depth. */
  list(prefix: string): Promise<StoreObject[]>;
  /** The names directly below `prefix` (files and folders), like readdir. */
  children(prefix: string): Promise<string[]>;
  /** Deletes a key, or everything below it when it is a folder. Missing is not an error. */
  delete(key: string): Promise<void>;

  /**
   * Writes a whole file DuckDB produces (COPY … TO target) so that it appears at `key` at once:
   * locally to a private name then renamed; on S3 straight to the object (an upload becomes
   * visible only when complete).
   */
  writeWhole(key: string, write: (target: string) => Promise<void>): Promise<void>;

  /**
   * Publishes a finished local folder of content-addressed files (equal key, equal bytes) under
   * `key`, its marker last: false when the marker was there first (another writer published).
   * A folder left at `key` without its marker is a leftover: locally replaced, on S3 overwritten
   * file by file (same names, same bytes) and swept later.
   */
  publishFolder(dir: string, key: string, marker: string, body: string): Promise<boolean>;

  /** Starts an attempt at publishing the folder `key`. */
  beginAttempt(key: string, label: string): Promise<PublishAttempt>;
  /**
   * Publishes the attempt by writing its marker (e.g. manifest.json) last: true when ours is the
   * version readers will believe, false when another attempt published first (ours is removed).
   */
  publishAttempt(attempt: PublishAttempt, key: string, marker: string, body: string): Promise<boolean>;
  /** Removes an attempt that will not be published (failed, or lost the race). */
  abandonAttempt(attempt: PublishAttempt): Promise<void>;
  /**
   * Puts file `name` of an attempt where a published version reads it, replacing what was there
   * (a repair); returns the URL it is read from now, for the manifest.
   */
  replaceFromAttempt(attempt: PublishAttempt, name: string, currentUrl: string): Promise<string>;

  /** Makes a DuckDB connection's instance able to read and write this store's URLs. */
  setupDuckDb(conn: DuckDBConnection): Promise<void>;
  /** Fails with a clear error (StoreUnavailable) when the store cannot be used as configured. */
  check(): Promise<void>;
  close(): void;
}

/** Prefix of the objects of one publish attempt on a store that cannot rename (see s3-backend.ts). */
export const ATTEMPT_PREFIX = '.attempt-';

/** Joins names onto a store URL: path.join would fold the `//` of `s3://`. */
export function urlJoin(base: string, ...names: string[]): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(base)) return path.join(base, ...names);
  return [base.replace(/\/+$/, ''), ...names].join('/');
}

export function joinKey(...segments: string[]): string {
  return segments.filter((s) => s !== '').join('/');
}
