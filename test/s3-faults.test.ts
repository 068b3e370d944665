import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIngest } from '../src/client/ingest';
import { startPipeline } from '../src/client/promote';
import { startScoring } from '../src/client/score';
import { listRuns } from '../src/scoring/runs';
import { layout, RUN_FILE } from '../src/store/layout';
import { listDatasets, listVersions } from '../src/datasets/catalog';
import { readVerifiedManifest } from '../src/datasets/integrity';
import { sweepUnpublished } from '../src/datasets/sweep';
import { buildDatasetVersion } from '../src/datasets/ingest';
import { stageRawSource } from '../src/datasets/raw';
import { loadConfig } from '../src/config';
import { parseContract } from '../src/contract/schema';
import { rootApplicationFailure } from '../src/errors';
import { openDuckDb } from '../src/sql/duckdb';
import { openStore } from '../src/store/open';
import { type S3Server, startVersitygw } from '../src/s3/versitygw';
import { writeChurnCsv } from './helpers/churn';
import { bucketKeys, s3Client, s3StoreEnv } from './helpers/s3';
import { type TestEnv, startTestEnv } from './helpers/env';
import { CHURN_CONTRACT } from './helpers/training';
import { ACTIVITY_STARTED, pendingActivity } from './helpers/activities';
import { until } from './helpers/wait';
import { finishingAttempt } from './helpers/worker-process';

/**
 * The S3 server goes away in the middle of an activity and comes back on the same port and
 * folder: the activity fails while it is down, Temporal retries it, and the version is published
 * once. Its own versitygw (not the run's), so stopping it disturbs no other test file.
 */
const PREFIX = 'faults';
const bucket = `faults-${randomBytes(4).toString('hex')}`;
/** Longer than DuckDB's and the AWS SDK's own retries (a few seconds), so the attempt itself fails. */
const DOWN_MS = 6_000;
const DAY = 86_400_000;

/** Ours, so that stopping the server keeps the bucket (stop() removes only a folder it made itself). */
const s3Dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-s3-faults-'));
let s3: S3Server;
let sdk: S3Client;
let env: TestEnv;
beforeAll(async () => {
  s3 = await startVersitygw({ dir: s3Dir });
  sdk = s3Client(s3);
  await sdk.send(new CreateBucketCommand({ Bucket: bucket }));
  env = await startTestEnv('s3-faults', storeEnv());
}, 120_000);
afterAll(async () => {
  env?.store.backend.close();
  await env?.shutdown();
  sdk?.destroy();
  await s3?.stop();
  fs.rmSync(s3Dir, { recursive: true, force: true });
});

const storeEnv = () => s3StoreEnv(s3, bucket, PREFIX);

const keys = (under = '') => bucketKeys(sdk, bucket, PREFIX, under);

/**
 * Stops the S3 server once `activity` is running and `moment` has come, keeps it down until that
 * attempt has failed (Temporal shows the failure and schedules the next attempt), then starts it
 * again on the same port and folder. Returns the failure the attempt ended with.
 */
async function restartS3During(handle: WorkflowHandle, activity: string, moment: { what: string; reached: () => boolean }): Promise<string> {
  await pendingActivity(handle, activity, (a) => a.state === ACTIVITY_STARTED, `${activity} to start`);
  await until(moment.what, async () => moment.reached() || undefined, { timeoutMs: 120_000, intervalMs: 10 });
  await s3.stop();
  const stoppedAt = Date.now();
  try {
    const failed = await pendingActivity(handle, activity, (a) => !!a.lastFailure, `${activity} to fail while S3 is down`);
    await new Promise((r) => setTimeout(r, Math.max(0, DOWN_MS - (Date.now() - stoppedAt))));
    return failed.lastFailure!.message ?? '';
  } finally {
    await s3.restart();
  }
}

/** The snapshots written so far for `dataset`, as versitygw keeps them: plain files in its folder. */
function snapshotsOnDisk(dataset: string): string[] {
  const versions = path.join(s3.dir, bucket, PREFIX, 'datasets', dataset, 'versions');
  if (!fs.existsSync(versions)) return [];
  return fs.readdirSync(versions, { recursive: true, encoding: 'utf8' }).filter((f) => /(^|\/)\.attempt-[^/]+\/data\.parquet$/.test(f));
}

const ROWS = 600_000;

describe('an S3 server restarted mid-ingest', () => {
  /** Ingests ROWS rows while `moment` stops S3; checks one version is published, by a retry; returns what the dead attempt left. */
  async function ingestThroughRestart(dataset: string, moment: { what: string; reached: () => boolean }) {
    // Enough rows that validating, snapshotting and profiling take seconds, all against the bucket.
    const csv = await writeChurnCsv(env, { dataset, rows: ROWS });
    const handle = await startIngest(env.client, env.config, { dataset, source: csv, contract: CHURN_CONTRACT });
    const failure = await restartS3During(handle, 'buildDatasetVersion', moment);
    // Down is a store that may come back (retried), never the user's data (not retried).
    expect(failure).toMatch(/Could not connect|Cannot reach|ECONNREFUSED/);
    expect(failure).not.toMatch(/SourceReadError|ContractViolation|Cannot read the source/);

    const ref = await handle.result();
    expect(ref.reused).toBe(false);
    expect(await finishingAttempt(handle, 'buildDatasetVersion')).toBeGreaterThanOrEqual(2);

    // One version: one manifest, the catalog lists it, and it reads back intact.
    expect(await listDatasets(env.store)).toContain(dataset);
    expect((await listVersions(env.store, dataset)).map((v) => v.version)).toEqual([ref.version]);
    const versions = `datasets/${dataset}/versions/`;
    const stored = await keys(versions);
    expect(stored.filter((k) => k.endsWith('/manifest.json'))).toEqual([`${versions}${ref.version}/manifest.json`]);
    const manifest = await readVerifiedManifest(env.store, ref.manifestUri);
    expect(manifest.rows.accepted).toBe(ROWS);
    const published = manifest.snapshot.uri.slice(`s3://${bucket}/${PREFIX}/`.length);
    expect(stored).toContain(published);
    return { ref, published, leftovers: stored.filter((k) => k.endsWith('/data.parquet') && k !== published) };
  }

  it('down while the raw copy is read: the attempt fails as retryable, a retry publishes the version once', async () => {
    const { leftovers } = await ingestThroughRestart('cut-reading', { what: 'the activity to run', reached: () => true });
    expect(leftovers).toEqual([]);
  }, 300_000);

  it('down once the snapshot is written: the retry publishes one version, and the dead attempt is swept after the grace period', async () => {
    const dataset = 'cut-publishing';
    const { ref, published, leftovers } = await ingestThroughRestart(dataset, { what: 'a snapshot in the bucket', reached: () => snapshotsOnDisk(dataset).length > 0 });
    // The attempt that died could not remove its snapshot (S3 was down): a leftover no reader believes.
    expect(leftovers).toHaveLength(1);
    expect(await sweepUnpublished(env.store, DAY)).toEqual([]);
    const swept = await sweepUnpublished(env.store, DAY, Date.now() + 2 * DAY);
    expect(swept).toEqual([{ uri: `s3://${bucket}/${PREFIX}/${path.posix.dirname(leftovers[0]!)}`, why: 'an attempt the published manifest does not name' }]);
    expect(await keys(`datasets/${dataset}/versions/`)).toEqual([published, `datasets/${dataset}/versions/${ref.version}/manifest.json`].sort());
    await readVerifiedManifest(env.store, ref.manifestUri);
  }, 300_000);
});

describe('an S3 endpoint DuckDB cannot reach', () => {
  it('when it first reads the raw copy (the schema): a failure Temporal retries, not SourceReadError', async () => {
    // The moment between the activity's first store read and DuckDB's first read of the copy is too
    // short to stop a server in: DuckDB is given an endpoint nobody answers on instead.
    const csv = await writeChurnCsv(env, { dataset: 'unreachable', rows: 200 });
    const db = await openDuckDb({ threads: 1 });
    const dead = openStore(loadConfig({ MLOPS_DATA_DIR: env.config.dataDir, ...storeEnv(), AWS_ENDPOINT_URL: 'http://127.0.0.1:9' }));
    try {
      const good = await db.connect();
      await env.store.backend.setupDuckDb(good);
      const staged = await stageRawSource({ conn: good, store: env.store, dataset: 'unreachable', source: csv, retentionDays: 30, allowedRoots: [], now: new Date() });
      good.closeSync();
      const conn = await db.connect();
      await dead.backend.setupDuckDb(conn);
      const err = await buildDatasetVersion({
        conn,
        store: env.store,
        dataset: 'unreachable',
        staged,
        contract: parseContract(CHURN_CONTRACT),
        maxRejectedFraction: 0.05,
        now: new Date(),
      }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      conn.closeSync();
      expect(err?.message).toMatch(/Could not connect/);
      expect(rootApplicationFailure(err)).toBeUndefined();
      expect(await listVersions(env.store, 'unreachable')).toEqual([]);
    } finally {
      dead.backend.close();
      db.closeSync();
    }
  });
});

describe('an S3 server restarted mid-scoring', () => {
  it('retries the scoring activity; the run and its log are published once, the dead attempt swept after the grace period', async () => {
    const model = 'scored';
    const csv = await writeChurnCsv(env, { dataset: model, rows: ROWS, seed: 3 });
    const pipeline = await startPipeline(env.client, env.config, {
      ingest: { dataset: model, source: csv, contract: CHURN_CONTRACT },
      train: { model, dataset: model, trainer: { kind: 'gbdt', params: { nEstimators: 20 } } },
      promote: { gates: { thresholds: { rocAuc: { min: 0.5 } } } },
    });
    expect((await pipeline.result()).promotion.phase).toBe('promoted');

    // Parts of 100k rows, so the moment a first part is in the bucket is well inside the run.
    const handle = await startScoring(env.client, env.config, { model, dataset: model, runId: 'restarted', partRows: 100_000 });
    const runDir = path.join(s3.dir, bucket, PREFIX, ...layout.predictionRun(model, 'restarted'));
    const partWritten = () => fs.existsSync(runDir) && fs.readdirSync(runDir, { recursive: true, encoding: 'utf8' }).some((f) => /\.attempt-[^/]+\/part-\d+\.parquet$/.test(f));
    const failure = await restartS3During(handle, 'scoreDatasetVersion', { what: 'a first part of the log in the bucket', reached: partWritten });
    expect(failure).toMatch(/Could not connect|Cannot reach|ECONNREFUSED/);

    const { run } = await handle.result();
    expect(run?.rows).toBe(ROWS);
    expect(await finishingAttempt(handle, 'scoreDatasetVersion')).toBeGreaterThanOrEqual(2);

    // One run: one run.json, naming the attempt that holds every part it lists.
    const runKey = layout.predictionRun(model, 'restarted').join('/');
    const stored = await keys(`${runKey}/`);
    expect(stored.filter((k) => k.endsWith(`/${RUN_FILE}`))).toEqual([`${runKey}/${RUN_FILE}`]);
    expect((await listRuns(env.store, model)).map((r) => r.runId)).toEqual(['restarted']);
    const published = run!.logUri.slice(`s3://${bucket}/${PREFIX}/`.length);
    expect(run!.parts.length).toBe(ROWS / 100_000);
    for (const part of run!.parts) expect(part.startsWith(`${run!.logUri}/`)).toBe(true);

    // The attempt that died kept the part it had written: never read, swept once it is stale.
    const dead = [...new Set(stored.filter((k) => k.includes('/.attempt-') && !k.startsWith(`${published}/`)).map((k) => path.posix.dirname(k)))];
    expect(dead).toHaveLength(1);
    expect(await sweepUnpublished(env.store, DAY)).toEqual([]);
    const swept = await sweepUnpublished(env.store, DAY, Date.now() + 2 * DAY);
    expect(swept).toEqual([{ uri: `s3://${bucket}/${PREFIX}/${dead[0]}`, why: 'an attempt at a scoring run its run.json does not name' }]);
    expect((await keys(`${runKey}/`)).every((k) => k === `${runKey}/${RUN_FILE}` || k.startsWith(`${published}/`))).toBe(true);
  }, 400_000);
});
