import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { S3StoreSettings } from '../config';
import { storeUnavailable } from '../errors';
import { loadHttpfs } from '../sql/httpfs';
import { quoteString } from '../sql/quote';
import { S3Objects, s3Refusal, s3StatusOf, s3Unreachable, s3Where } from './s3-objects';
import { ATTEMPT_PREFIX, type PublishAttempt, type StoreBackend, type StoreObject, joinKey } from './backend';

/**
 * The store in an S3 bucket (AWS S3, MinIO, Ceph, R2, versitygw): the layout's keys under
 * `s3://bucket/prefix/`. S3 cannot rename, so a folder-shaped artifact is written under a unique
 * `.attempt-<id>/` prefix and published by its marker object (a manifest), put last and only if
 * absent (If-None-Match: *): readers believe marked versions only, two workers publishing the same
 * version end with one, and unmarked leftovers are swept later (datasets/sweep.ts). DuckDB reads
 * and writes the objects itself through httpfs, with a secret made from the same settings.
 */
const DELETE_CONCURRENCY = 8;

export class S3Backend implements StoreBackend {
  readonly kind = 's3' as const;
  private readonly client: S3Client;

  constructor(
    private readonly settings: S3StoreSettings,
    /** MLOPS_DUCKDB_EXTENSION_DIR, where DuckDB cannot download httpfs itself. */
    private readonly extensionDir?: string,
  ) {
    // The SDK is pinned and the project runs on Node 20: its notice about future releases needing
    // Node 22 would otherwise end up on the stderr of every `mlops` command.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client = new S3Client({
      region: settings.region,
      forcePathStyle: settings.pathStyle,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      ...(settings.credentials ? { credentials: settings.credentials } : {}),
      maxAttempts: 3,
    });
  }

  get location(): string {
    return `s3://${this.settings.bucket}/${this.settings.prefix}`;
  }

  url(key: string): string {
    return `${this.location}${key}`;
  }

  keyOf(url: string): string | undefined {
    return url.startsWith(this.location) ? url.slice(this.location.length).replace(/\/+$/, '') : undefined;
  }

  private objectKey(key: string): string {
    return `${this.settings.prefix}${key}`;
  }

  private folderKey(key: string): string {
    return key === '' ? this.settings.prefix : `${this.settings.prefix}${key}/`;
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.objectKey(key) }));
      return Buffer.from(await out.Body!.transformToByteArray());
    } catch (err) {
      if (isMissingKey(err)) return undefined;
      throw this.explain(err, `reading ${this.url(key)}`);
    }
  }

  async put(key: string, body: string | Uint8Array): Promise<void> {
    await this.call(`writing ${this.url(key)}`, (c) => c.send(new PutObjectCommand({ Bucket: this.settings.bucket, Key: this.objectKey(key), Body: body })));
  }

  async putFile(key: string, file: string): Promise<void> {
    const { size } = await fs.stat(file);
    await this.call(`uploading ${file} to ${this.url(key)}`, (c) =>
      c.send(new PutObjectCommand({ Bucket: this.settings.bucket, Key: this.objectKey(key), Body: createReadStream(file), ContentLength: size })),
    );
  }

  async putIfAbsent(key: string, body: string | Uint8Array): Promise<boolean> {
    // AWS answers 409 while another conditional write of the key is in flight: ask again.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.send(new PutObjectCommand({ Bucket: this.settings.bucket, Key: this.objectKey(key), Body: body, IfNoneMatch: '*' }));
        return true;
      } catch (err) {
        const status = s3StatusOf(err);
        if (status === 412) return false;
        if (status === 409 && attempt < 5) {
          await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
          continue;
        }
        throw this.explain(err, `publishing ${this.url(key)}`);
      }
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.size(key)) !== undefined;
  }

  async size(key: string): Promise<number | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.objectKey(key) }));
      return head.ContentLength ?? 0;
    } catch (err) {
      // A HEAD has no body: a missing bucket is also a bare 404; check() tells them apart at startup.
      if (isMissingKey(err)) return undefined;
      throw this.explain(err, `reading ${this.url(key)}`);
    }
  }

  async sha256(key: string): Promise<string | undefined> {
    let body: Readable;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.objectKey(key) }));
      body = out.Body as Readable;
    } catch (err) {
      if (isMissingKey(err)) return undefined;
      throw this.explain(err, `reading ${this.url(key)}`);
    }
    const hash = createHash('sha256');
    for await (const chunk of body) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }

  async identity(key: string): Promise<string | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.objectKey(key) }));
      return [head.ETag, head.ContentLength, head.LastModified?.toISOString()].join(':');
    } catch (err) {
      if (isMissingKey(err)) return undefined;
      throw this.explain(err, `reading ${this.url(key)}`);
    }
  }

  /** CopyObject: the server copies the bytes (one request for objects up to 5 GB; prediction log parts are far smaller). */
  async copy(from: string, to: string): Promise<void> {
    const source = `${this.settings.bucket}/${this.objectKey(from).split('/').map(encodeURIComponent).join('/')}`;
    await this.call(`copying ${this.url(from)} to ${this.url(to)}`, (c) =>
      c.send(new CopyObjectCommand({ Bucket: this.settings.bucket, Key: this.objectKey(to), CopySource: source })),
    );
  }

  async realKey(key: string): Promise<string | undefined> {
    return (await this.exists(key)) ? key : undefined;
  }

  private async *pages(prefix: string, delimiter?: string): AsyncGenerator<ListObjectsV2CommandOutput> {
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await this.call(`listing ${this.location}${prefix.slice(this.settings.prefix.length)}`, (c) =>
        c.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: prefix, ContinuationToken: token, ...(delimiter ? { Delimiter: delimiter } : {}) })),
      );
      yield page;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async list(prefix: string): Promise<StoreObject[]> {
    const out: StoreObject[] = [];
    for await (const page of this.pages(this.folderKey(prefix))) {
      for (const o of page.Contents ?? []) {
        out.push({ key: o.Key!.slice(this.settings.prefix.length), size: o.Size ?? 0, modifiedAt: o.LastModified ?? new Date(0) });
      }
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  async children(prefix: string): Promise<string[]> {
    const folder = this.folderKey(prefix);
    const names = new Set<string>();
    for await (const page of this.pages(folder, '/')) {
      for (const p of page.CommonPrefixes ?? []) names.add(p.Prefix!.slice(folder.length).replace(/\/$/, ''));
      for (const o of page.Contents ?? []) names.add(o.Key!.slice(folder.length));
    }
    return [...names].filter(Boolean).sort();
  }

  async delete(key: string): Promise<void> {
    const keys = [...(await this.list(key)).map((o) => o.key), key];
    for (let i = 0; i < keys.length; i += DELETE_CONCURRENCY) {
      await Promise.all(
        keys
          .slice(i, i + DELETE_CONCURRENCY)
          .map((k) => this.call(`deleting ${this.url(k)}`, (c) => c.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.objectKey(k) })))),
      );
    }
  }

  async writeWhole(key: string, write: (target: string) => Promise<void>): Promise<void> {
    await write(this.url(key));
  }

  async publishFolder(dir: string, key: string, marker: string, body: string): Promise<boolean> {
    for (const name of (await fs.readdir(dir)).sort()) if (name !== marker) await this.putFile(joinKey(key, name), path.join(dir, name));
    return this.putIfAbsent(joinKey(key, marker), body);
  }

  async beginAttempt(key: string, _label: string): Promise<PublishAttempt & { prefix: string }> {
    // Time first, so an attempt's age is legible in its name as well as in its objects' dates.
    const prefix = joinKey(key, `${ATTEMPT_PREFIX}${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`);
    const at = (name: string) => this.url(joinKey(prefix, name));
    return { prefix, writeUrl: at, publishedUrl: at };
  }

  async publishAttempt(attempt: PublishAttempt, key: string, marker: string, body: string): Promise<boolean> {
    if (await this.putIfAbsent(joinKey(key, marker), body)) return true;
    await this.abandonAttempt(attempt);
    return false;
  }

  async abandonAttempt(attempt: PublishAttempt): Promise<void> {
    await this.delete((attempt as PublishAttempt & { prefix: string }).prefix);
  }

  /** No rename: the new file stays under its attempt and the manifest is pointed at it; the old one is swept. */
  async replaceFromAttempt(attempt: PublishAttempt, name: string): Promise<string> {
    return attempt.publishedUrl(name);
  }

  async setupDuckDb(conn: DuckDBConnection): Promise<void> {
    await loadHttpfs(conn, this.extensionDir);
    const s = this.settings;
    const options = [
      'TYPE s3',
      `SCOPE ${quoteString(`s3://${s.bucket}`)}`,
      `REGION ${quoteString(s.region)}`,
      `URL_STYLE ${quoteString(s.pathStyle ? 'path' : 'vhost')}`,
      ...(s.credentials
        ? [
            `KEY_ID ${quoteString(s.credentials.accessKeyId)}`,
            `SECRET ${quoteString(s.credentials.secretAccessKey)}`,
            ...(s.credentials.sessionToken ? [`SESSION_TOKEN ${quoteString(s.credentials.sessionToken)}`] : []),
          ]
        : ['PROVIDER credential_chain']),
      ...(s.endpoint ? [`ENDPOINT ${quoteString(new URL(s.endpoint).host)}`, `USE_SSL ${new URL(s.endpoint).protocol === 'https:'}`] : []),
    ];
    await conn.run(`CREATE OR REPLACE SECRET mlops_store (${options.join(', ')})`);
  }

  /** Input objects in any bucket (landing prefixes, s3:// sources), read with this store's endpoint and credentials. */
  objects(): S3Objects {
    return new S3Objects(this.client, this.settings);
  }

  async check(): Promise<void> {
    await this.call(`opening the bucket of MLOPS_STORE=${this.settings.url}`, (c) => c.send(new HeadBucketCommand({ Bucket: this.settings.bucket })), true);
  }

  close(): void {
    this.client.destroy();
  }

  private async call<T>(doing: string, run: (client: S3Client) => Promise<T>, bucketProbe = false): Promise<T> {
    try {
      return await run(this.client);
    } catch (err) {
      throw this.explain(err, doing, bucketProbe);
    }
  }

  /** S3's and the network's failures as the setting a person must change (or retryable, when the endpoint may come back). */
  private explain(err: unknown, doing: string, bucketProbe = false): Error {
    const s = this.settings;
    const name = err instanceof S3ServiceException ? err.name : '';
    if (name === 'NoSuchBucket' || (bucketProbe && s3StatusOf(err) === 404)) {
      return storeUnavailable(`Bucket "${s.bucket}" does not exist at ${s3Where(s)} (${doing}): create it, or point MLOPS_STORE at an existing bucket.`, {
        retryable: false,
        details: { setting: 'MLOPS_STORE', bucket: s.bucket },
      });
    }
    const refusal = s3Refusal(err);
    if (refusal) {
      const keys = s.credentials
        ? `AWS_ACCESS_KEY_ID=${s.credentials.accessKeyId} and AWS_SECRET_ACCESS_KEY`
        : 'the credentials the AWS SDK found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)';
      return storeUnavailable(`${s3Where(s)} refused ${keys} (${refusal}) ${doing}: check the key pair and that it may read and write bucket "${s.bucket}".`, {
        retryable: false,
        details: { setting: 'AWS_ACCESS_KEY_ID', bucket: s.bucket },
      });
    }
    return s3Unreachable(s, err, doing) ?? (err as Error);
  }
}

function isMissingKey(err: unknown): boolean {
  const name = err instanceof S3ServiceException ? err.name : '';
  return name === 'NoSuchKey' || (name === 'NotFound' && s3StatusOf(err) === 404);
}
