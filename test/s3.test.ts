import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDuckDb, queryRows } from '../src/sql/duckdb';
import { DuckDbExtensionMissing, loadHttpfs } from '../src/sql/httpfs';
import { quoteString } from '../src/sql/quote';
import { type S3Server, startVersitygw } from '../src/s3/versitygw';

/**
 * What an S3 artifact store will stand on, against a real S3 server (versitygw, started by the
 * test setup): the AWS SDK's object operations — a manifest written last with a conditional put
 * that refuses to overwrite, list, get, delete — and DuckDB reading and writing s3:// Parquet
 * itself through httpfs.
 */
const s3 = inject('s3');
const client = (secretAccessKey = s3.secretAccessKey) =>
  new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey } });
const sdk = client();
const bucket = `test-${randomBytes(4).toString('hex')}`;

async function failure(promise: Promise<unknown>): Promise<{ status?: number; name: string }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the request should have failed').toBeInstanceOf(S3ServiceException);
  return { status: (err as S3ServiceException).$metadata.httpStatusCode, name: (err as S3ServiceException).name };
}

const text = async (key: string) => (await sdk.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();

beforeAll(async () => {
  await sdk.send(new CreateBucketCommand({ Bucket: bucket }));
});
afterAll(() => sdk.destroy());

describe('the AWS SDK against versitygw', () => {
  it('puts, lists, gets and deletes objects; a put with If-None-Match: * never overwrites (412)', async () => {
    const key = 'datasets/churn/versions/abc/manifest.json';
    await sdk.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{"rows": 1}', IfNoneMatch: '*', ContentType: 'application/json' }));
    expect(await failure(sdk.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{"rows": 2}', IfNoneMatch: '*' })))).toEqual({ status: 412, name: 'PreconditionFailed' });
    expect(await text(key)).toBe('{"rows": 1}');

    await sdk.send(new PutObjectCommand({ Bucket: bucket, Key: 'datasets/churn/versions/abc/data.parquet', Body: 'x' }));
    await sdk.send(new PutObjectCommand({ Bucket: bucket, Key: 'models/m/card.json', Body: '{}' }));
    const listed = await sdk.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'datasets/churn/' }));
    expect(listed.Contents!.map((o) => o.Key).sort()).toEqual(['datasets/churn/versions/abc/data.parquet', key]);

    await sdk.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    expect(await failure(sdk.send(new GetObjectCommand({ Bucket: bucket, Key: key })))).toMatchObject({ status: 404, name: 'NoSuchKey' });
    // Deleted, the key is free again for a conditional put.
    await sdk.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{"rows": 3}', IfNoneMatch: '*' }));
    expect(await text(key)).toBe('{"rows": 3}');
  });

  it('lets exactly one of several simultaneous conditional puts of one key win', async () => {
    const key = 'models/race/versions/v1/manifest.json';
    const bodies = Array.from({ length: 8 }, (_, i) => `{"writer": ${i}}`);
    const outcomes = await Promise.allSettled(bodies.map((Body) => sdk.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body, IfNoneMatch: '*' }))));
    const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [bodies[i]] : []));
    expect(won).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect((o.reason as S3ServiceException).$metadata.httpStatusCode).toBe(412);
    expect(await text(key)).toBe(won[0]);
  });

  it('refuses a request signed with the wrong secret', async () => {
    const wrong = client('not-the-secret');
    try {
      expect(await failure(wrong.send(new HeadObjectCommand({ Bucket: bucket, Key: 'models/m/card.json' })))).toMatchObject({ status: 403 });
    } finally {
      wrong.destroy();
    }
  });
});

describe('versitygw restarted', () => {
  let own: S3Server;
  afterAll(() => own?.stop());

  it('serves the same objects with the same keys on the same port after a restart', async () => {
    own = await startVersitygw();
    const ownSdk = new S3Client({ endpoint: own.endpoint, region: own.region, forcePathStyle: true, credentials: own });
    try {
      await ownSdk.send(new CreateBucketCommand({ Bucket: 'kept' }));
      await ownSdk.send(new PutObjectCommand({ Bucket: 'kept', Key: 'a/b.json', Body: '[1]' }));
      // A posix backend: the object is a plain file under the served folder.
      expect(fs.readFileSync(path.join(own.dir, 'kept', 'a', 'b.json'), 'utf8')).toBe('[1]');
      const before = own.pid();
      await own.restart();
      expect(own.pid()).not.toBe(before);
      const body = await (await ownSdk.send(new GetObjectCommand({ Bucket: 'kept', Key: 'a/b.json' }))).Body!.transformToString();
      expect(body).toBe('[1]');
    } finally {
      ownSdk.destroy();
    }
  });
});

describe('DuckDB httpfs against versitygw', () => {
  let db: DuckDBInstance;
  let conn: DuckDBConnection;
  beforeAll(async () => {
    db = await openDuckDb({ threads: 2 });
    conn = await db.connect();
  });
  afterAll(() => {
    conn?.closeSync();
    db?.closeSync();
  });

  it('writes and reads s3:// Parquet itself, 1M rows', async () => {
    await loadHttpfs(conn);
    const endpoint = new URL(s3.endpoint).host;
    await conn.run(
      `CREATE OR REPLACE SECRET mlops_test_s3 (TYPE s3, KEY_ID ${quoteString(s3.accessKeyId)}, SECRET ${quoteString(s3.secretAccessKey)},
         REGION ${quoteString(s3.region)}, ENDPOINT ${quoteString(endpoint)}, URL_STYLE 'path', USE_SSL false)`,
    );
    const uri = `s3://${bucket}/datasets/big/x.parquet`;
    await conn.run(`COPY (SELECT i AS id, i % 7 AS bucket, i * 0.5 AS value FROM range(1000000) t(i)) TO ${quoteString(uri)} (FORMAT parquet)`);

    const head = await sdk.send(new HeadObjectCommand({ Bucket: bucket, Key: 'datasets/big/x.parquet' }));
    expect(head.ContentLength).toBeGreaterThan(1_000_000);
    const [row] = await queryRows<{ n: number; ids: number; value: number; sevens: number }>(
      conn,
      `SELECT count(*) AS n, sum(id) AS ids, sum(value) AS value, count(*) FILTER (WHERE bucket = 6) AS sevens FROM read_parquet(${quoteString(uri)})`,
    );
    // Computed here, not by DuckDB: Σ0..999999 = 499999500000; i % 7 = 6 for 142857 of them.
    expect(row).toEqual({ n: 1_000_000, ids: 499_999_500_000, value: 249_999_750_000, sevens: 142_857 });
  });

  it('names the setting when MLOPS_DUCKDB_EXTENSION_DIR holds no httpfs', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'no-extensions-'));
    try {
      const fresh = await openDuckDb();
      const c = await fresh.connect();
      try {
        const err = await loadHttpfs(c, empty).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(DuckDbExtensionMissing);
        expect((err as Error).message).toMatch(new RegExp(`MLOPS_DUCKDB_EXTENSION_DIR=${empty} holds no v1\\.5\\.5/\\w+/httpfs\\.duckdb_extension`));
      } finally {
        c.closeSync();
        fresh.closeSync();
      }
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  it('says every way to get httpfs when there is no copy anywhere and DuckDB cannot download it', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'no-extensions-'));
    const cacheHome = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = empty; // no project cache copy
    const fresh = await openDuckDb();
    const c = await fresh.connect();
    try {
      // No installed copy, and a repository that is not there (as on this project's machines).
      await c.run(`SET extension_directory = ${quoteString(empty)}`);
      await c.run(`SET custom_extension_repository = 'http://127.0.0.1:9'`);
      const err = await loadHttpfs(c).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DuckDbExtensionMissing);
      const message = (err as Error).message;
      expect(message).toMatch(/could not install it: .*httpfs/);
      expect(message).toContain('npm run s3 -- --install');
      expect(message).toContain('duckdb-extension-httpfs==1.5.5');
      expect(message).toMatch(/MLOPS_DUCKDB_EXTENSION_DIR to a folder holding v1\.5\.5\/\w+\/httpfs\.duckdb_extension/);
    } finally {
      if (cacheHome === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = cacheHome;
      c.closeSync();
      fresh.closeSync();
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
