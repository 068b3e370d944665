import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ingest } from '../src/client/ingest';
import { loadConfig } from '../src/config';
import { parseContract } from '../src/contract/schema';
import { listDatasets, listVersions, resolveVersion } from '../src/datasets/catalog';
import { buildDatasetVersion } from '../src/datasets/ingest';
import { readVerifiedManifest, verifySnapshot } from '../src/datasets/integrity';
import { stageRawSource } from '../src/datasets/raw';
import { sweepExpiredRawAndPredictionLogs } from '../src/datasets/retention';
import { sweepUnpublished } from '../src/datasets/sweep';
import { rootApplicationFailure } from '../src/errors';
import { openDuckDb, queryRows } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { openStore } from '../src/store/open';
import { writeChurnCsv } from './helpers/churn';
import { cliFor } from './helpers/cli';
import { type TestEnv, startTestEnv } from './helpers/env';
import { CHURN_CONTRACT } from './helpers/training';

/**
 * The artifact store in an S3 bucket, against the real S3 server the setup starts (versitygw):
 * a worker that shares nothing with the test but Temporal and the bucket ingests, lists, checks
 * and sweeps datasets there; DuckDB reads and writes the objects itself.
 */
const s3 = inject('s3');
const bucket = `store-${randomBytes(4).toString('hex')}`;
const PREFIX = 'team/mlops';
const storeEnv = {
  MLOPS_STORE: `s3://${bucket}/${PREFIX}`,
  AWS_ACCESS_KEY_ID: s3.accessKeyId,
  AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  AWS_REGION: s3.region,
  AWS_ENDPOINT_URL: s3.endpoint,
};
const sdk = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: s3 });
const DAY = 86_400_000;

/** Every key under the store's prefix (relative to it). */
async function keys(under = ''): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await sdk.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${PREFIX}/${under}`, ContinuationToken: token }));
    out.push(...(page.Contents ?? []).map((o) => o.Key!.slice(PREFIX.length + 1)));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out.sort();
}
const objectKey = (uri: string) => uri.slice(`s3://${bucket}/`.length);

let env: TestEnv;
let db: DuckDBInstance;
let conn: DuckDBConnection;
beforeAll(async () => {
  await sdk.send(new CreateBucketCommand({ Bucket: bucket }));
  env = await startTestEnv('s3-store', storeEnv);
  db = await openDuckDb({ threads: 2 });
  conn = await db.connect();
  await env.store.backend.setupDuckDb(conn);
});
afterAll(async () => {
  conn?.closeSync();
  db?.closeSync();
  env?.store.backend.close();
  await env?.shutdown();
  sdk.destroy();
});

describe('datasets on S3', () => {
  it('ingests into the bucket: raw copy, snapshot under its attempt, manifest last; nothing on the local disk; the same data again is reused', async () => {
    const csv = await writeChurnCsv(env, { dataset: 'churn', rows: 2000 });
    const ref = await ingest(env.client, env.config, { dataset: 'churn', source: csv, contract: CHURN_CONTRACT });
    expect(ref.manifestUri).toBe(`s3://${bucket}/${PREFIX}/datasets/churn/versions/${ref.version}/manifest.json`);
    expect(ref.reused).toBe(false);

    const stored = await keys();
    const version = `datasets/churn/versions/${ref.version}`;
    expect(stored).toContain(`${version}/manifest.json`);
    expect(stored.filter((k) => new RegExp(`^${version}/\\.attempt-[0-9a-z]+-[0-9a-f]{12}/data\\.parquet$`).test(k))).toHaveLength(1);
    expect(stored.filter((k) => /^raw\/churn\/[0-9a-f]{16}\/(part-0000\.csv|retention\.json)$/.test(k))).toHaveLength(2);
    // The worker's folder holds scratch only, never an artifact.
    expect(fs.readdirSync(env.config.dataDir).filter((n) => !n.startsWith('.'))).toEqual([]);

    // DuckDB reads the snapshot where the manifest says it is, and it has the rows the manifest counts.
    const manifest = await readVerifiedManifest(env.store, ref.manifestUri);
    expect(manifest.snapshot.uri).toMatch(new RegExp(`^s3://${bucket}/${PREFIX}/${version}/\\.attempt-`));
    const [row] = await queryRows<{ n: number }>(conn, `SELECT count(*) AS n FROM read_parquet(${quoteString(manifest.snapshot.uri)})`);
    expect(row!.n).toBe(manifest.rows.accepted);
    expect(manifest.rows.accepted).toBe(2000);

    const again = await ingest(env.client, env.config, { dataset: 'churn', source: csv, contract: CHURN_CONTRACT });
    expect(again).toMatchObject({ version: ref.version, reused: true });
    expect(await keys('datasets/')).toEqual(stored.filter((k) => k.startsWith('datasets/')));
  });

  it('quarantines rejected rows into the bucket', async () => {
    const csv = path.join(env.inputDir, 'bad.csv');
    fs.writeFileSync(csv, 'id,x1,x2,color,churned\n1,0.5,0.1,red,true\n2,oops,0.2,blue,false\n3,0.1,,green,false\n');
    const ref = await ingest(env.client, env.config, { dataset: 'bad', source: csv, contract: CHURN_CONTRACT, maxRejectedFraction: 0.5 });
    const manifest = await resolveVersion(env.store, `bad@${ref.version}`);
    expect(manifest.quarantine!.uri).toBe(`s3://${bucket}/${PREFIX}/datasets/bad/quarantine/${ref.version}.parquet`);
    const [q] = await queryRows<{ n: number; reason: string }>(
      conn,
      `SELECT count(*) AS n, first(_mlops_reason) AS reason FROM read_parquet(${quoteString(manifest.quarantine!.uri)})`,
    );
    expect(q).toEqual({ n: 1, reason: expect.stringMatching(/x1/) });
  });

  it('lists and shows versions through `mlops datasets` and queries them with `mlops sql`, against the bucket', async () => {
    const cli = cliFor(env.config, { env: storeEnv });
    const list = await cli('datasets', 'list', '--json');
    expect(list.stderr).toBe('');
    expect(JSON.parse(list.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ dataset: 'churn' })]));
    const shown = await cli('datasets', 'show', 'churn@latest', '--json');
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ dataset: 'churn', rows: { accepted: 2000 } });
    const sql = await cli('sql', 'SELECT dataset, rows_accepted FROM datasets ORDER BY dataset', '--json');
    expect(sql.code, sql.stderr).toBe(0);
    expect(JSON.parse(sql.stdout)).toEqual([
      { dataset: 'bad', rows_accepted: 2 },
      { dataset: 'churn', rows_accepted: 2000 },
    ]);
  });

  it('detects a snapshot changed in the bucket, and the same source again rebuilds it under a new attempt', async () => {
    const before = await resolveVersion(env.store, 'churn@latest');
    const key = objectKey(before.snapshot.uri);
    const bytes = Buffer.from(await (await sdk.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await sdk.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));

    const refused = await verifySnapshot(before, env.store).then(
      () => undefined,
      (e: unknown) => rootApplicationFailure(e),
    );
    expect(refused?.type).toBe('DatasetIntegrityError');
    expect(refused?.message).toMatch(/changed after it was recorded \(sha256 [0-9a-f]{12}…, manifest [0-9a-f]{12}…\)/);
    expect(refused?.message).toContain('mlops datasets repair churn@');

    const csv = await writeChurnCsv(env, { dataset: 'churn', rows: 2000 });
    const ref = await ingest(env.client, env.config, { dataset: 'churn', source: csv, contract: CHURN_CONTRACT });
    expect(ref.repaired).toMatchObject({ from: 'source', recordedSha256: before.snapshot.sha256 });
    const after = await readVerifiedManifest(env.store, ref.manifestUri);
    expect(after.snapshot.uri).not.toBe(before.snapshot.uri);
    expect(after.snapshot.sha256).toBe(before.snapshot.sha256);

    // The damaged object is a leftover now: kept through the grace period, then swept; the live one stays.
    expect((await sweepUnpublished(env.store, DAY)).map((s) => s.uri)).toEqual([]);
    const swept = await sweepUnpublished(env.store, DAY, Date.now() + 2 * DAY);
    expect(swept).toEqual([{ uri: path.posix.dirname(before.snapshot.uri), why: 'an attempt the published manifest does not name' }]);
    await readVerifiedManifest(env.store, ref.manifestUri);
  });

  it('ends with one version when two workers publish the same one at once', async () => {
    const csv = await writeChurnCsv(env, { dataset: 'race', rows: 1500 });
    const staged = await stageRawSource({ conn, store: env.store, dataset: 'race', source: csv, retentionDays: 30, allowedRoots: [], now: new Date() });
    const other = await db.connect();
    try {
      const build = (c: DuckDBConnection) =>
        buildDatasetVersion({ conn: c, store: env.store, dataset: 'race', staged, contract: parseContract(CHURN_CONTRACT), maxRejectedFraction: 0.05, now: new Date() });
      const [a, b] = await Promise.all([build(conn), build(other)]);
      expect(a.version).toBe(b.version);
      expect([a.reused, b.reused].sort()).toEqual([false, true]);
      const objects = await keys(`datasets/race/versions/${a.version}/`);
      // One manifest and the one attempt it names: the loser removed its own.
      expect(objects.filter((k) => k.endsWith('/data.parquet'))).toHaveLength(1);
      expect(objects.filter((k) => k.endsWith('/manifest.json'))).toHaveLength(1);
      const versions = await listVersions(env.store, 'race');
      expect(versions.map((v) => v.version)).toEqual([a.version]);
      await readVerifiedManifest(env.store, a.manifestUri);
    } finally {
      other.closeSync();
    }
  });

  it('never lists a half-published version (no manifest), and sweeps it and an unrecorded raw copy after the grace period', async () => {
    const ghost = 'datasets/ghost/versions/0123456789abcdef/.attempt-abc-000000000000/data.parquet';
    const rawLeftover = 'raw/ghost/fedcba9876543210/part-0000.csv';
    for (const key of [ghost, rawLeftover]) await sdk.send(new PutObjectCommand({ Bucket: bucket, Key: `${PREFIX}/${key}`, Body: 'half' }));

    expect(await listDatasets(env.store)).toEqual(['bad', 'churn', 'race']);
    expect(await listVersions(env.store, 'ghost')).toEqual([]);
    const show = await resolveVersion(env.store, 'ghost@latest').then(
      () => undefined,
      (e: unknown) => rootApplicationFailure(e),
    );
    expect(show?.type).toBe('DatasetNotFound');

    // Young leftovers may belong to an attempt still running elsewhere.
    expect(await sweepUnpublished(env.store, DAY)).toEqual([]);
    expect(await keys('datasets/ghost/')).toHaveLength(1);

    const swept = await sweepUnpublished(env.store, DAY, Date.now() + 2 * DAY);
    expect(swept.map((s) => s.uri).sort()).toEqual([`s3://${bucket}/${PREFIX}/${path.posix.dirname(ghost)}`, `s3://${bucket}/${PREFIX}/${path.posix.dirname(rawLeftover)}`]);
    expect(await keys('datasets/ghost/')).toEqual([]);
    expect(await keys('raw/ghost/')).toEqual([]);
    // Published versions and their raw copies are untouched.
    expect((await listVersions(env.store, 'churn')).length).toBe(1);
    const race = await resolveVersion(env.store, 'race@latest');
    await readVerifiedManifest(env.store, env.store.manifestFile('race', race.version));
  });

  it('sweeps expired raw copies from the bucket and records the sweep there', async () => {
    const csv = await writeChurnCsv(env, { dataset: 'shortlived', rows: 300 });
    const ref = await ingest(env.client, env.config, { dataset: 'shortlived', source: csv, contract: CHURN_CONTRACT, retentionDays: 1 });
    const manifest = await resolveVersion(env.store, `shortlived@${ref.version}`);
    expect(await keys(`raw/shortlived/`)).toHaveLength(2);

    const report = await sweepExpiredRawAndPredictionLogs(env.store, 'sweep-s3', new Date(Date.now() + 2 * DAY), 90);
    expect(report.deleted).toEqual([expect.objectContaining({ dataset: 'shortlived', uri: manifest.raw.uri, bytes: expect.any(Number) })]);
    expect(report.deleted[0]!.bytes).toBeGreaterThan(fs.statSync(csv).size);
    expect(report.reportUri).toBe(`s3://${bucket}/${PREFIX}/reports/retention/sweep-s3.json`);
    expect(await env.store.readJson(report.reportUri)).toEqual(report);
    expect(await keys('raw/shortlived/')).toEqual([]);
    // Copies with time left, and the versions themselves, stay.
    expect((await keys('raw/churn/')).length).toBeGreaterThan(0);
    await readVerifiedManifest(env.store, ref.manifestUri);
  });
});

describe('a store that cannot be used as configured', () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-s3-bad-'));
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
  const failureOf = async (settings: Record<string, string>) => {
    const store = openStore(loadConfig({ MLOPS_DATA_DIR: scratch, ...storeEnv, ...settings }));
    try {
      const err = await store.backend.check().then(
        () => undefined,
        (e: unknown) => e,
      );
      const root = rootApplicationFailure(err);
      expect(root, String(err)).toBeDefined();
      // Reading fails the same way, not as an empty store.
      const listing = rootApplicationFailure(
        await listDatasets(store).then(
          () => undefined,
          (e: unknown) => e,
        ),
      );
      return { type: root!.type, nonRetryable: root!.nonRetryable, message: root!.message, listing: listing?.type };
    } finally {
      store.backend.close();
    }
  };

  it('wrong credentials: StoreUnavailable naming the key settings, not retried', async () => {
    const f = await failureOf({ AWS_SECRET_ACCESS_KEY: 'not-the-secret' });
    expect(f).toMatchObject({ type: 'StoreUnavailable', nonRetryable: true, listing: 'StoreUnavailable' });
    expect(f.message).toContain(`AWS_ACCESS_KEY_ID=${s3.accessKeyId} and AWS_SECRET_ACCESS_KEY`);
    expect(f.message).toContain(`AWS_ENDPOINT_URL=${s3.endpoint}`);
    expect(f.message).not.toContain('not-the-secret');
  });

  it('a missing bucket: StoreUnavailable naming MLOPS_STORE, not retried', async () => {
    const f = await failureOf({ MLOPS_STORE: 's3://no-such-bucket-here/x' });
    expect(f).toMatchObject({ type: 'StoreUnavailable', nonRetryable: true, listing: 'StoreUnavailable' });
    expect(f.message).toMatch(/Bucket "no-such-bucket-here" does not exist at AWS_ENDPOINT_URL=.*point MLOPS_STORE at an existing bucket/);
  });

  it('an endpoint nobody answers on: StoreUnavailable naming the endpoint setting, retryable (it may be restarting)', async () => {
    const f = await failureOf({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' });
    expect(f).toMatchObject({ type: 'StoreUnavailable', nonRetryable: false });
    expect(f.message).toContain('Cannot reach AWS_ENDPOINT_URL_S3=http://127.0.0.1:9');
  });

  it('the CLI says so and exits non-zero', async () => {
    const cli = cliFor(env.config, { env: { ...storeEnv, AWS_SECRET_ACCESS_KEY: 'not-the-secret' } });
    const run = await cli('datasets', 'list');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/StoreUnavailable: .*refused AWS_ACCESS_KEY_ID=/);
  });
});
