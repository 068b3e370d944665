import { userError } from '../errors';

/**
 * s3:// URLs of inputs (landing prefixes, `mlops ingest s3://…` sources): parsed, checked and
 * matched against MLOPS_INGEST_ALLOWED_ROOTS without the SDK, so clients and workflow code can
 * use them too. Reading the objects is s3-objects.ts.
 */
export interface S3Location {
  bucket: string;
  /** Object key, or a prefix ('' or ending in '/'). */
  key: string;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** Control characters and backslashes: never part of a key we read (they mislead logs, shells and paths). */
const HOSTILE = /[\u0000-\u001f\u007f\\]/;

export function isS3Url(value: string): boolean {
  return /^s3:\/\//i.test(value);
}

/**
 * `s3://bucket/key` split and checked: a key with an empty, `.` or `..` segment, a control
 * character or a backslash is refused rather than passed on (S3 treats them as plain bytes; the
 * allowed-roots check, logs and local names of the copy would not).
 */
export function parseS3Url(url: string, what = 'S3 location'): S3Location {
  const match = /^s3:\/\/([^/]*)\/?(.*)$/i.exec(url);
  if (!match || !BUCKET.test(match[1]!))
    throw userError('InvalidInput', `${what} ${JSON.stringify(url)} is not s3://bucket/key (bucket: 3-63 lowercase letters, digits, dots, dashes)`);
  const key = match[2]!;
  const segments = key.replace(/\/$/, '').split('/');
  if (key !== '' && (segments.some((s) => s === '' || s === '.' || s === '..') || HOSTILE.test(key))) {
    throw userError('InvalidInput', `${what} ${JSON.stringify(url)} has an empty, "." or ".." segment, a control character or a backslash in its key`);
  }
  return { bucket: match[1]!, key };
}

/** The folder-shaped form of a prefix URL: `s3://bucket/a/b` and `s3://bucket/a/b/` both mean the objects under a/b/. */
export function s3PrefixUrl(url: string): string {
  return url.endsWith('/') || /^s3:\/\/[^/]+$/i.test(url) ? url.replace(/^(s3:\/\/[^/]+)$/i, '$1/') : `${url}/`;
}

/** A name an object may have to be taken from a landing prefix: one plain segment, nothing hidden or hostile. */
export function isPlainObjectName(name: string): boolean {
  return name !== '' && !name.startsWith('.') && !HOSTILE.test(name);
}

/**
 * Whether `url` is inside what MLOPS_INGEST_ALLOWED_ROOTS admits: none set admits everything (as
 * for files); otherwise one `s3://bucket/prefix/` entry must contain it, segment by segment, so
 * s3://b/in matches s3://b/in/x.csv and not s3://b/inside.csv.
 */
export function assertS3Allowed(url: string, allowedRoots: readonly string[], what = 'Source'): void {
  if (allowedRoots.length === 0) return;
  const { bucket, key } = parseS3Url(url, what);
  const inside = allowedRoots.filter(isS3Url).some((root) => {
    const r = parseS3Url(s3PrefixUrl(root), 'MLOPS_INGEST_ALLOWED_ROOTS entry');
    return r.bucket === bucket && key.startsWith(r.key);
  });
  if (!inside) {
    throw userError(
      'InvalidInput',
      `${what} ${url} is outside what this worker may read (MLOPS_INGEST_ALLOWED_ROOTS=${allowedRoots.join(':')}); add its bucket and prefix (s3://${bucket}/…/) there`,
    );
  }
}
