import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { landedFileWorkflowId, type LandedStatus, landedStatusQuery } from '../src/api/landing';
import { retrainWorkflowId } from '../src/api/retrain';
import { ingest } from '../src/client/ingest';
import { listPending } from '../src/client/promote';
import { startTraining } from '../src/client/train';
import { listVersions, resolveVersion } from '../src/datasets/catalog';
import { loadConfig, type S3StoreSettings } from '../src/config';
import { rootApplicationFailure } from '../src/errors';
import { landingSchema, type ScanLandingRequestInput } from '../src/landing/request';
import { findLandedFiles } from '../src/landing/scan';
import { ArtifactStore } from '../src/store/artifact-store';
import { S3Objects } from '../src/store/s3-objects';
import { assertS3Allowed, parseS3Url, s3PrefixUrl } from '../src/store/s3-url';
import type { ScanLandingResult } from '../src/workflows/landing';
import { cliFor } from './helpers/cli';
import { type TestEnv, startTestEnv } from './helpers/env';
import { rootFailure } from './helpers/failures';
import { testBucket } from './helpers/s3-bucket';
import { CHURN_CONTRACT } from './helpers/training';
import { until } from './helpers/wait';

/**
 * A landing location on an S3 prefix, against the real S3 server the setup starts (versitygw):
 * the worker's store is one bucket, the landing prefix another, read with the store's endpoint
 * and credentials. A CSV put under the prefix starts one chain (here a training dataset's: a new
 * version, then a retraining request), by the sha256 of its bytes, whatever scans run at once;
 * the ingest downloads the object on the worker and refuses bytes other than those the scan hashed.
 */
const store = testBucket('landing-store', 'mlops');
const drop = testBucket('landing-drop', 'in');
const PREFIX = `s3://${drop.bucket}/in/`;
const MODEL = 'land-s3';
const DATASET = 'land-s3-train';
let env: TestEnv;

beforeAll(async () => {
  await store.create();
  await drop.create();
  // Only the landing bucket's prefix may be read: the allowed-roots rule holds for S3 as for folders.
  env = await startTestEnv('landing-s3', { ...store.storeEnv, MLOPS_INGEST_ALLOWED_ROOTS: PREFIX });
  // A registry for the model, whose retraining loop the landed training data asks for.
  await put('base/churn.csv', churnRows(0, 1500));
  await ingest(env.client, env.config, { dataset: DATASET, source: `${PREFIX}base/churn.csv`, contract: CHURN_CONTRACT });
  await (await startTraining(env.client, env.config, { model: MODEL, dataset: DATASET, trainer: { kind: 'logistic', params: {} } })).result();
});
afterAll(async () => {
  env?.store.backend.close();
  await env?.shutdown();
  store.sdk.destroy();
  drop.sdk.destroy();
});

/** Churn rows `from`..`to` as a CSV (the contract's columns; deterministic values). */
function churnRows(from: number, to: number): string {
  const lines = ['id,x1,x2,color,churned'];
  for (let i = from; i < to; i++) {
    const x1 = ((i * 7919) % 400) / 100 - 2;
    const x2 = i % 10 === 0 ? '' : String(((i * 104729) % 400) / 100 - 2);
    lines.push(`${i},${x1},${x2},${['red', 'green', 'blue'][i % 3]},${(i * 31) % 7 < 3}`);
  }
  return `${lines.join('\n')}\n`;
}

const put = (key: string, body: string) => drop.write(`${PREFIX}${key}`, body);

function request(under: string, landing: Partial<ScanLandingRequestInput['landing']> = {}): ScanLandingRequestInput {
  return {
    model: MODEL,
    dataset: DATASET,
    role: 'training',
    landing: { path: `${PREFIX}${under}/`, pattern: '*.csv', ...landing },
    ingest: { contract: CHURN_CONTRACT },
    retrain: { maxAttempts: 1 },
  };
}

function scan(input: ScanLandingRequestInput): Promise<ScanLandingResult> {
  return env.client.workflow.execute('scanLanding', { args: [input], taskQueue: env.config.taskQueue, workflowId: `landing-s3-scan-${randomBytes(4).toString('hex')}` });
}

/** The retraining loop a chain asked for: it exists; ended here if it still runs (its training is not under test). */
async function endRetrainLoop(): Promise<void> {
  const loop = env.client.workflow.getHandle(retrainWorkflowId(MODEL));
  expect((await loop.describe()).type).toBe('retrainUntilImproved');
  await loop.terminate('test over').catch((err: Error) => {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  });
}

/** The chain's end; a chain that waits for a person instead fails the test with its failure (rather than a timeout). */
async function chainResult(id: string): Promise<LandedStatus> {
  const handle = env.client.workflow.getHandle<() => Promise<LandedStatus>>(id);
  await until(
    'the chain to end',
    async () => {
      const status = await handle.query(landedStatusQuery).catch(() => undefined);
      if (status?.phase === 'waiting-for-a-person') throw new Error(`the chain of ${status.file} waits for a person: ${JSON.stringify(status.failure)}`);
      return (await handle.describe()).status.name === 'RUNNING' ? undefined : true;
    },
    { timeoutMs: 60_000 },
  );
  return handle.result();
}

describe('s3:// inputs, before any request', () => {
  it('refuses keys that climb, hide or mislead, and matches allowed roots segment by segment', async () => {
    expect(parseS3Url('s3://bucket-a/in/x.csv')).toEqual({ bucket: 'bucket-a', key: 'in/x.csv' });
    expect(parseS3Url('s3://bucket-a')).toEqual({ bucket: 'bucket-a', key: '' });
    for (const bad of [
      's3://bucket-a/in/../x.csv',
      's3://bucket-a/in//x.csv',
      's3://bucket-a/./x',
      's3://bucket-a/in/a\\b.csv',
      's3://bucket-a/in/a\nb.csv',
      's3://Bad_Bucket/x',
      's3:///x',
    ]) {
      expect(() => parseS3Url(bad), bad).toThrow(/segment|not s3:\/\/bucket\/key/);
    }
    expect(s3PrefixUrl('s3://bucket-a/in')).toBe('s3://bucket-a/in/');
    expect(s3PrefixUrl('s3://bucket-a')).toBe('s3://bucket-a/');
    expect(() => assertS3Allowed('s3://bucket-a/in/x.csv', ['/data', 's3://bucket-a/in'])).not.toThrow();
    expect(() => assertS3Allowed('s3://bucket-a/x.csv', [])).not.toThrow();
    expect(() => assertS3Allowed('s3://bucket-a/inside.csv', ['s3://bucket-a/in'])).toThrow(/outside what this worker may read/);
    expect(() => assertS3Allowed('s3://bucket-b/in/x.csv', ['s3://bucket-a/in/'])).toThrow(/outside/);
    expect(() => assertS3Allowed('s3://bucket-a/in/x.csv', ['/data'])).toThrow(/add its bucket and prefix/);
    // A worker on a folder store has no S3 settings to read a prefix with: it says which to set.
    const folderStore = new ArtifactStore(fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-folder-store-')));
    await expect(findLandedFiles(folderStore, { model: MODEL, dataset: DATASET, landing: landingSchema.parse({ path: 's3://bucket-a/in/' }), allowedRoots: [] })).rejects.toThrow(
      /s3:\/\/bucket-a\/in\/ is in S3, and this worker's store is the folder .*run the worker with MLOPS_STORE=s3:\/\//,
    );
    fs.rmSync(folderStore.root, { recursive: true, force: true });
    // The list keeps an s3:// entry whole: its own colon does not split it.
    expect(loadConfig({ MLOPS_INGEST_ALLOWED_ROOTS: '/data:s3://bucket-a/in/:./rel' }).ingestAllowedRoots).toEqual(['/data', 's3://bucket-a/in/', path.resolve('rel')]);
  });
});

describe('a landing location on an S3 prefix', () => {
  it('takes a CSV once its marker is there, once for two scans at once, ingests the downloaded bytes and asks for retraining; the same bytes under another key are not new', async () => {
    const landing = request('marked', { ready: { marker: '.done' } });
    const body = churnRows(0, 600);
    await put('marked/a.csv', body);
    // Deeper keys are not the prefix's files, and hidden names are never taken.
    await put('marked/older/z.csv', body);
    await put('marked/.a.csv', body);
    await put('marked/older/z.csv.done', '');
    // A name with a backslash or a control character is never taken, marker or not.
    await put('marked/back\\slash.csv', churnRows(2000, 2010));
    await put('marked/back\\slash.csv.done', '');
    await put('marked/tab\t.csv', churnRows(2010, 2020));
    await put('marked/tab\t.csv.done', '');
    expect((await scan(landing)).started).toEqual([]);

    await put('marked/a.csv.done', '');
    const [one, two] = await Promise.all([scan(landing), scan(landing)]);
    expect([...one.started, ...two.started]).toHaveLength(1);
    const done = await chainResult([...one.started, ...two.started][0]!);
    expect(done).toMatchObject({ phase: 'done', dataset: DATASET, file: `${PREFIX}marked/a.csv`, retrainWorkflowId: retrainWorkflowId(MODEL) });
    await endRetrainLoop();
    // One new version beside the base one the model was trained on.
    const versions = (await listVersions(env.store, DATASET)).map((v) => v.version);
    expect(versions).toHaveLength(2);
    expect(versions).toContain(done.version);
    const manifest = await resolveVersion(env.store, `${DATASET}@${done.version!}`);
    expect(manifest.rows).toMatchObject({ accepted: 600, rejected: 0 });
    expect(manifest.source.files).toEqual([{ original: `${PREFIX}marked/a.csv`, size: Buffer.byteLength(body), sha256: done.sha256 }]);
    // The raw copy kept in the store's bucket is the downloaded bytes.
    expect((await store.read(`${manifest.raw.uri}/part-0000.csv`)).toString()).toBe(body);

    // The same bytes under another key, and a rescan: nothing new.
    await put('marked/a-copy.csv', body);
    await put('marked/a-copy.csv.done', '');
    expect(await scan(landing)).toEqual({ started: [], alreadyRunning: [] });
  });

  it('does not take an object until it has been unchanged for stableFor', async () => {
    const landing = request('stable', { ready: { stableFor: '3s' } });
    await put('stable/b.csv', churnRows(600, 700));
    expect((await scan(landing)).started).toEqual([]);
    // Replaced by its writer (a new Last-Modified): still not ready.
    await new Promise((r) => setTimeout(r, 2000));
    await put('stable/b.csv', churnRows(600, 800));
    expect((await scan(landing)).started).toEqual([]);
    await new Promise((r) => setTimeout(r, 3500));
    const { started } = await scan(landing);
    expect(started).toHaveLength(1);
    const done = await chainResult(started[0]!);
    expect(done).toMatchObject({ phase: 'done', file: `${PREFIX}stable/b.csv` });
    await endRetrainLoop();
    expect((await resolveVersion(env.store, `${DATASET}@${done.version!}`)).rows).toMatchObject({ accepted: 200 });
  });

  it('fails the chain with a flag naming the object when it changed between the scan and the ingest', async () => {
    const landing = request('changed', { ready: { stableFor: '0s' } });
    await put('changed/c.csv', churnRows(900, 1000));
    // The scan's own code finds it; the chain is started as the scan starts it, after the object was replaced.
    const [landed] = await findLandedFiles(env.store, {
      model: MODEL,
      dataset: DATASET,
      landing: { ...landing.landing, pattern: '*.csv', every: '1m', ready: { stableFor: '0s' }, waitOnFailure: '7d' },
      allowedRoots: env.config.ingestAllowedRoots,
    });
    expect(landed).toMatchObject({ file: `${PREFIX}changed/c.csv`, name: 'c.csv' });
    await put('changed/c.csv', churnRows(900, 1001));
    const id = landedFileWorkflowId(MODEL, DATASET, landed!.sha256);
    await env.client.workflow.start('landedFile', { args: [{ ...landing, landed }], taskQueue: env.config.taskQueue, workflowId: id });
    const waiting = await until('the chain to wait for a person', async () => {
      const status = await env.client.workflow.getHandle(id).query(landedStatusQuery);
      return status.phase === 'waiting-for-a-person' ? status : undefined;
    });
    expect(waiting.failure).toMatchObject({ step: 'ingest' });
    expect(waiting.failure!.message).toContain(`${PREFIX}changed/c.csv changed after it was found`);
    expect(waiting.file).toBe(`${PREFIX}changed/c.csv`);
    // The flag is up (mlops pending) until a person answers; nothing was ingested from the new bytes.
    await until('the chain to be listed as needing a person', async () => ((await listPending(env.client)).some((p) => p.workflowId === id) ? true : undefined));
    expect(waiting.version).toBeUndefined();
    await env.client.workflow.getHandle(id).terminate('test over');
  });

  it('ingests one s3:// object with `ingest`, and says what is wrong with an empty or missing object, a missing bucket, a refused key and a prefix outside the allowed roots', async () => {
    await put('direct/d.csv', churnRows(0, 50));
    const ref = await ingest(env.client, env.config, { dataset: 'land-s3-direct', source: `${PREFIX}direct/d.csv`, contract: CHURN_CONTRACT });
    expect((await resolveVersion(env.store, `land-s3-direct@${ref.version}`)).rows).toMatchObject({ accepted: 50 });

    // The same through the real CLI: the s3:// source passes as given (not resolved as a local path).
    const contractFile = path.join(env.inputDir, 'churn.contract.json');
    fs.writeFileSync(contractFile, JSON.stringify(CHURN_CONTRACT));
    const cli = await cliFor(env.config, { env: store.storeEnv }).run(['ingest', 'land-s3-cli', `${PREFIX}direct/d.csv`, '--contract', contractFile, '--json']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ dataset: 'land-s3-cli', version: ref.version });

    await put('direct/empty.csv', '');
    const empty = await rootFailure(ingest(env.client, env.config, { dataset: 'land-s3-direct', source: `${PREFIX}direct/empty.csv`, contract: CHURN_CONTRACT }));
    expect(empty.type).toBe('EmptySource');
    expect(empty.message).toContain('empty (0 bytes)');
    const missing = await rootFailure(ingest(env.client, env.config, { dataset: 'land-s3-direct', source: `${PREFIX}direct/gone.csv`, contract: CHURN_CONTRACT }));
    expect(missing).toMatchObject({ type: 'SourceNotFound' });
    expect(missing.message).toContain(`Source object ${PREFIX}direct/gone.csv does not exist`);
    const outside = await rootFailure(ingest(env.client, env.config, { dataset: 'land-s3-direct', source: `s3://${store.bucket}/mlops/x.csv`, contract: CHURN_CONTRACT }));
    expect(outside.message).toContain(`is outside what this worker may read (MLOPS_INGEST_ALLOWED_ROOTS=${PREFIX})`);
    const climbing = await rootFailure(ingest(env.client, env.config, { dataset: 'land-s3-direct', source: `${PREFIX}../x.csv`, contract: CHURN_CONTRACT }));
    expect(climbing.message).toMatch(/has an empty, "\." or "\.\." segment/);

    const noPrefix = await rootFailure(scan({ ...request('x'), landing: { path: `s3://${store.bucket}/mlops/` } }));
    expect(noPrefix.message).toContain(`Landing prefix s3://${store.bucket}/mlops/ is outside what this worker may read`);

    // A missing bucket and a refused key pair, straight from the reader the scan and ingest use.
    const s3 = inject('s3');
    const settings: S3StoreSettings = {
      kind: 's3',
      url: PREFIX,
      bucket: drop.bucket,
      prefix: 'in/',
      region: s3.region,
      endpoint: s3.endpoint,
      endpointSetting: 'AWS_ENDPOINT_URL',
      pathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    };
    const objects = (secretAccessKey: string) =>
      new S3Objects(new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey } }), settings);
    // The listing is read page by page: five objects two to a page, the deeper key and the sub-prefix left out.
    for (const n of [1, 2, 3, 4, 5]) await put(`paged/p${n}.csv`, `id\n${n}\n`);
    await put('paged/sub/deeper.csv', 'id\n9\n');
    const paged = await objects(s3.secretAccessKey).children(`${PREFIX}paged/`, { pageSize: 2 });
    expect(paged.map((o) => o.name).sort()).toEqual(['p1.csv', 'p2.csv', 'p3.csv', 'p4.csv', 'p5.csv']);
    expect(paged[0]).toMatchObject({ url: `${PREFIX}paged/p1.csv`, size: 5 });
    expect(paged[0]!.etag).not.toBe('');

    const noBucket = await objects(s3.secretAccessKey)
      .children('s3://no-such-bucket-here/in/')
      .then(
        () => undefined,
        (e: unknown) => rootApplicationFailure(e),
      );
    expect(noBucket).toMatchObject({ type: 'SourceNotFound' });
    expect(noBucket!.message).toContain(`Bucket "no-such-bucket-here" does not exist at AWS_ENDPOINT_URL=${s3.endpoint}`);
    const refused = await objects('wrong-secret')
      .sha256(`${PREFIX}direct/d.csv`)
      .then(
        () => undefined,
        (e: unknown) => rootApplicationFailure(e),
      );
    expect(refused).toMatchObject({ type: 'StoreUnavailable', nonRetryable: true });
    expect(refused!.message).toMatch(
      /refused AWS_ACCESS_KEY_ID=\S+ \((SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId|HTTP 403)\) reading .*grant it s3:ListBucket and s3:GetObject/,
    );
  });
});
