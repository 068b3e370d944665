import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { inject } from 'vitest';
import { openDuckDb } from '../../src/sql/duckdb';
import type { ArtifactStore } from '../../src/store/artifact-store';

/**
 * A fresh bucket on the run's S3 server (versitygw, started by the global setup) and the settings
 * that put a store under `prefix` in it, with an SDK client to look at the objects directly.
 */
export function testBucket(label: string, prefix: string) {
  const s3 = inject('s3');
  const bucket = `${label}-${randomBytes(4).toString('hex')}`;
  const sdk = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: s3 });
  const storeEnv = {
    MLOPS_STORE: `s3://${bucket}/${prefix}`,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_REGION: s3.region,
    AWS_ENDPOINT_URL: s3.endpoint,
  };
  /** The object key of a store URL in this bucket. */
  const objectKey = (uri: string) => uri.slice(`s3://${bucket}/`.length);
  return {
    bucket,
    sdk,
    storeEnv,
    /** s3://bucket/prefix/ */
    base: `s3://${bucket}/${prefix}/`,
    objectKey,
    create: () => sdk.send(new CreateBucketCommand({ Bucket: bucket })),
    /** Every key under the store's prefix (relative to it), sorted. */
    async keys(under = ''): Promise<string[]> {
      const out: string[] = [];
      let token: string | undefined;
      do {
        const page = await sdk.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/${under}`, ContinuationToken: token }));
        out.push(...(page.Contents ?? []).map((o) => o.Key!.slice(prefix.length + 1)));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return out.sort();
    },
    async read(uri: string): Promise<Buffer> {
      return Buffer.from(await (await sdk.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(uri) }))).Body!.transformToByteArray());
    },
    async write(uri: string, body: string | Uint8Array): Promise<void> {
      await sdk.send(new PutObjectCommand({ Bucket: bucket, Key: objectKey(uri), Body: body }));
    },
  };
}

/** A DuckDB instance whose connections read and write the store's URLs (httpfs and its secret set up on the first). */
export async function storeDuckDb(store: ArtifactStore): Promise<{ db: DuckDBInstance; conn: DuckDBConnection; close(): void }> {
  const db = await openDuckDb({ threads: 2 });
  const conn = await db.connect();
  await store.backend.setupDuckDb(conn);
  return {
    db,
    conn,
    close() {
      conn.closeSync();
      db.closeSync();
    },
  };
}
