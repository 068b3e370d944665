import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, ListObjectsV2Command, type ListObjectsV2CommandOutput, type S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import type { S3StoreSettings } from '../config';
import { storeUnavailable, userError } from '../errors';
import type { ArtifactStore } from './artifact-store';
import type { S3Child, S3Inputs } from './backend';
import { parseS3Url, s3PrefixUrl } from './s3-url';

/**
 * Objects outside the artifact store that a worker reads as input — a landing prefix, an
 * `mlops ingest s3://…` source — in any bucket, on the S3 store's own endpoint and credentials
 * (MLOPS_STORE's AWS_* / endpoint / path-style settings). Only reads: the store's layout stays
 * the store backend's alone.
 */
export class S3Objects implements S3Inputs {
  constructor(
    private readonly client: S3Client,
    private readonly settings: S3StoreSettings,
  ) {}

  /** The objects directly under a prefix (no deeper keys), every page of the listing (`pageSize` keys a page; S3's default 1000). */
  async children(prefixUrl: string, options: { pageSize?: number } = {}): Promise<S3Child[]> {
    const { bucket, key: prefix } = parseS3Url(s3PrefixUrl(prefixUrl), 'S3 prefix');
    const out: S3Child[] = [];
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await this.call(`listing ${prefixUrl}`, bucket, () =>
        this.client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token, ...(options.pageSize ? { MaxKeys: options.pageSize } : {}) }),
        ),
      );
      for (const o of page.Contents ?? []) {
        const name = o.Key!.slice(prefix.length);
        if (name === '' || name.includes('/')) continue;
        out.push({ url: `s3://${bucket}/${o.Key!}`, name, size: o.Size ?? 0, etag: o.ETag ?? '', lastModified: o.LastModified ?? new Date(0) });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /** sha256 of the object's bytes, streamed (never held whole). */
  async sha256(url: string): Promise<string> {
    const hash = createHash('sha256');
    for await (const chunk of await this.body(url)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }

  /** Streams the object into a local file, hashing on the way; its size and sha256. */
  async download(url: string, file: string): Promise<{ size: number; sha256: string }> {
    const hash = createHash('sha256');
    let size = 0;
    const body = await this.body(url);
    await pipeline(
      body,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hash.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      },
      createWriteStream(file),
    ).catch((err: unknown) => {
      throw this.explain(err, `downloading ${url}`, parseS3Url(url).bucket);
    });
    return { size, sha256: hash.digest('hex') };
  }

  private async body(url: string): Promise<Readable> {
    const { bucket, key } = parseS3Url(url, 'Source');
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return out.Body as Readable;
    } catch (err) {
      if (err instanceof S3ServiceException && err.name === 'NoSuchKey') {
        throw userError('SourceNotFound', `Source object ${url} does not exist (deleted or renamed since it was named?)`, { url });
      }
      throw this.explain(err, `reading ${url}`, bucket);
    }
  }

  private async call<T>(doing: string, bucket: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw this.explain(err, doing, bucket);
    }
  }

  /** A missing bucket, refused keys or an unreachable endpoint, as the setting or permission to change. */
  private explain(err: unknown, doing: string, bucket: string): Error {
    const s = this.settings;
    if (err instanceof S3ServiceException && err.name === 'NoSuchBucket') {
      return userError('SourceNotFound', `Bucket "${bucket}" does not exist at ${s3Where(s)} (${doing}): create it, or fix the s3:// path.`, { bucket });
    }
    const refusal = s3Refusal(err);
    if (refusal) {
      return storeUnavailable(
        `${s3Where(s)} refused ${s.credentials ? `AWS_ACCESS_KEY_ID=${s.credentials.accessKeyId}` : 'the credentials the AWS SDK found'} (${refusal}) ${doing}: grant it s3:ListBucket and s3:GetObject on bucket "${bucket}", or use keys that have them.`,
        { retryable: false, details: { setting: 'AWS_ACCESS_KEY_ID', bucket } },
      );
    }
    return s3Unreachable(s, err, doing) ?? (err as Error);
  }
}

/** Where the settings point, as the setting that says so. */
export function s3Where(s: S3StoreSettings): string {
  return s.endpoint ? `${s.endpointSetting}=${s.endpoint}` : `AWS S3 (region ${s.region})`;
}

/** The S3 error name (or HTTP status) of refused credentials or permissions; undefined for anything else. */
export function s3Refusal(err: unknown): string | undefined {
  const status = s3StatusOf(err);
  const name = err instanceof S3ServiceException ? err.name : '';
  return status === 403 || ['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'ExpiredToken'].includes(name) ? name || `HTTP ${status}` : undefined;
}

/** An endpoint that does not answer: retryable, since it may be restarting. */
export function s3Unreachable(s: S3StoreSettings, err: unknown, doing: string): Error | undefined {
  if (!isS3NetworkError(err)) return undefined;
  return storeUnavailable(
    `Cannot reach ${s3Where(s)} (${(err as Error).message || (err as NodeJS.ErrnoException).code}) ${doing}; check the endpoint setting, or that the S3 service is up.`,
    {
      retryable: true,
      details: { setting: s.endpointSetting ?? 'AWS_REGION' },
    },
  );
}

/**
 * The reader of s3:// inputs for this worker: the S3 store's client. A folder store has no S3
 * settings to read them with, so it says which to set instead of guessing at AWS defaults.
 */
export function s3InputsOf(store: ArtifactStore, url: string): S3Inputs {
  const objects = store.backend.objects?.();
  if (!objects) {
    throw userError(
      'InvalidInput',
      `${url} is in S3, and this worker's store is the folder ${store.location}: s3:// sources are read with the S3 store's settings; run the worker with MLOPS_STORE=s3://… and its AWS_* settings`,
    );
  }
  return objects;
}

export function s3StatusOf(err: unknown): number | undefined {
  return (err as S3ServiceException)?.$metadata?.httpStatusCode;
}

export function isS3NetworkError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  const name = (err as Error)?.name ?? '';
  return ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE'].includes(code) || name === 'TimeoutError';
}
