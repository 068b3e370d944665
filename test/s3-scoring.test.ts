import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CopyObjectCommand, CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startPromotion } from '../src/client/promote';
import { startLabels } from '../src/client/retrain';
import { startScoring } from '../src/client/score';
import { startTraining } from '../src/client/train';
import { resolveVersion } from '../src/datasets/catalog';
import { sweepExpiredRawAndPredictionLogs } from '../src/datasets/retention';
import { sweepUnpublished } from '../src/datasets/sweep';
import { verifySnapshotOnce } from '../src/datasets/verified-snapshots';
import { rootApplicationFailure } from '../src/errors';
import { listRuns, predictionLogFiles, type ScoreRun } from '../src/scoring/runs';
import { sweepScoringStaging } from '../src/scoring/staging';
import { openDuckDb, queryRows } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { ingestChurnData, writeChurnCsv } from './helpers/churn';
import { cliFor } from './helpers/cli';
import { type TestEnv, startTestEnv } from './helpers/env';

/**
 * Scoring on an S3 store, against the real S3 server the setup starts (versitygw): a worker with
 * its own empty MLOPS_DATA_DIR, sharing nothing with the test but Temporal and the bucket, scores
 * in one activity and in parts into prediction logs in the bucket (run.json the marker, written
 * last), records labels there, and lists, queries and sweeps them; its folder holds scratch only.
 */
const s3 = inject('s3');
const bucket = `scoring-${randomBytes(4).toString('hex')}`;
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
const MODEL = 'churn-s3';
const base = `s3://${bucket}/${PREFIX}`;

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
const put = (key: string, body: string | Uint8Array) => sdk.send(new PutObjectCommand({ Bucket: bucket, Key: `${PREFIX}/${key}`, Body: body }));
const copyObject = (from: string, to: string) => sdk.send(new CopyObjectCommand({ Bucket: bucket, Key: `${PREFIX}/${to}`, CopySource: `${bucket}/${PREFIX}/${from}` }));
/** What the worker's own folder holds besides scratch (dot-folders): must stay empty. */
const localArtifacts = () => fs.readdirSync(env.config.dataDir).filter((n) => !n.startsWith('.'));
const localStaging = () => fs.existsSync(path.join(env.config.dataDir, '.staging'));

let env: TestEnv;
let db: DuckDBInstance;
let conn: DuckDBConnection;
beforeAll(async () => {
  await sdk.send(new CreateBucketCommand({ Bucket: bucket }));
  env = await startTestEnv('s3-scoring', storeEnv);
  db = await openDuckDb({ threads: 2 });
  conn = await db.connect();
  await env.store.backend.setupDuckDb(conn);
  await ingestChurnData(env, { dataset: 'churn-live', rows: 3001, idOffset: 100_000, outliers: 30, unlabeled: true });
});
afterAll(async () => {
  conn?.closeSync();
  db?.closeSync();
  env?.store.backend.close();
  await env?.shutdown();
  sdk.destroy();
});

/** A log's rows with what differs between two runs by design (run id, time) left out, in row order. */
async function logOf(run: ScoreRun): Promise<Array<Record<string, unknown>>> {
  return queryRows<Record<string, unknown>>(conn, `SELECT * EXCLUDE (run_id, scored_at) FROM read_parquet([${run.parts.map(quoteString).join(', ')}]) ORDER BY row_number`);
}

describe('a snapshot verified once on S3', () => {
  it('is known by its ETag, size and Last-Modified from a HEAD: replaced by the same bytes it is checked again and passes, damaged it is refused', async () => {
    const manifest = await resolveVersion(env.store, 'churn-live@latest');
    const key = env.store.backend.keyOf(manifest.snapshot.uri)!;
    const identity = await env.store.backend.identity(key);
    expect(identity).toMatch(/^"?[0-9a-f-]+"?:\d+:\d{4}-/);
    expect(await env.store.backend.identity(key)).toBe(identity);
    await verifySnapshotOnce(manifest, env.store);

    // Same bytes, another object: a new identity (and the same hash, so still fine).
    const bytes = Buffer.from(await (await sdk.send(new GetObjectCommand({ Bucket: bucket, Key: `${PREFIX}/${key}` }))).Body!.transformToByteArray());
    await new Promise((r) => setTimeout(r, 1100)); // Last-Modified has whole seconds
    await put(key, bytes);
    expect(await env.store.backend.identity(key)).not.toBe(identity);
    await verifySnapshotOnce(manifest, env.store);

    const damaged = Buffer.from(bytes);
    damaged[Math.floor(damaged.length / 2)]! ^= 0xff;
    await new Promise((r) => setTimeout(r, 1100));
    await put(key, damaged);
    const refused = await verifySnapshotOnce(manifest, env.store).then(
      () => undefined,
      (e: unknown) => rootApplicationFailure(e),
    );
    expect(refused?.type).toBe('DatasetIntegrityError');
    await put(key, bytes);
  });
});

describe('scoring runs on S3', () => {
  let whole: ScoreRun;
  let split: ScoreRun;
  beforeAll(async () => {
    await ingestChurnData(env, { dataset: 'churn-train', rows: 4000 });
    await (await startTraining(env.client, env.config, { model: MODEL, dataset: 'churn-train', trainer: { kind: 'logistic', params: {} } })).result();
    const promoted = await (await startPromotion(env.client, env.config, { model: MODEL, gates: { thresholds: { rocAuc: { min: 0.5 } } } })).result();
    expect(promoted.phase).toBe('promoted');
  });

  it('scores in one activity and in parts into the same prediction log in the bucket; nothing on the local disk', async () => {
    const request = { model: MODEL, dataset: 'churn-live', maxFlaggedShare: 1, partRows: 1000, batchSize: 700 };
    const [a, b] = await Promise.all([
      (await startScoring(env.client, env.config, { ...request, runId: 'whole' })).result(),
      (await startScoring(env.client, env.config, { ...request, runId: 'in-parts', splitRows: 1000 })).result(),
    ]);
    whole = a.run!;
    split = b.run!;
    expect(whole.rows).toBe(3001);
    expect(split.rows).toBe(3001);
    expect(split.outOfRange).toBe(whole.outOfRange);
    expect(whole.outOfRange).toBeGreaterThanOrEqual(30);
    expect(split.summary).toEqual(whole.summary);

    for (const run of [whole, split]) {
      // run.json beside one attempt, which holds every part and the page: the run's marker, written last.
      expect(run.runUri).toBe(`${base}/predictions/${MODEL}/${run.runId}/run.json`);
      expect(run.logUri).toMatch(new RegExp(`^${base}/predictions/${MODEL}/${run.runId}/\\.attempt-[0-9a-z]+-[0-9a-f]{12}$`));
      for (const part of run.parts) expect(part.startsWith(`${run.logUri}/part-`)).toBe(true);
      const stored = await keys(`predictions/${MODEL}/${run.runId}/`);
      expect(stored).toEqual(
        [`run.json`, ...run.parts.map((p) => p.slice(`${base}/`.length + `predictions/${MODEL}/${run.runId}/`.length)), `${path.posix.basename(run.logUri)}/report.html`]
          .map((k) => `predictions/${MODEL}/${run.runId}/${k}`)
          .sort(),
      );
      expect(
        JSON.parse(
          Buffer.from(
            await (await sdk.send(new GetObjectCommand({ Bucket: bucket, Key: `${PREFIX}/predictions/${MODEL}/${run.runId}/run.json` }))).Body!.transformToByteArray(),
          ).toString(),
        ),
      ).toEqual(run);
    }
    expect(split.parts.length).toBeGreaterThanOrEqual(3);
    // Same rows, predictions, flags and contributions, part for part in row order.
    expect(await logOf(split)).toEqual(await logOf(whole));

    // The split run's staging was in the bucket, and is gone now that the run is published.
    expect(await keys('.staging/')).toEqual([]);
    expect(localArtifacts()).toEqual([]);
    expect(localStaging()).toBe(false);
  });

  it('`mlops runs` and `mlops sql` read the runs from the bucket, and late labels recorded there join the predictions', async () => {
    const cli = cliFor(env.config, { env: storeEnv });
    const runs = await cli('runs', MODEL, '--json');
    expect(runs.code, runs.stderr).toBe(0);
    expect((JSON.parse(runs.stdout) as ScoreRun[]).map((r) => r.runId).sort()).toEqual(['in-parts', 'whole']);

    const labels = await writeChurnCsv(env, { dataset: 'churn-live', rows: 3001, idOffset: 100_000, outliers: 30 });
    const batch = await (await startLabels(env.client, env.config, { dataset: 'churn-live', source: labels, label: 'churned' })).result();
    expect(batch).toMatchObject({ rows: 3001, rejected: 0, reused: false });
    expect(batch.uri).toMatch(new RegExp(`^${base}/labels/churn-live/[0-9a-f]{16}\\.parquet$`));
    expect(await keys('labels/')).toEqual([batch.uri.slice(`${base}/`.length)]);
    const again = await (await startLabels(env.client, env.config, { dataset: 'churn-live', source: labels, label: 'churned' })).result();
    expect(again).toMatchObject({ uri: batch.uri, reused: true });

    const sql = await cli(
      'sql',
      `SELECT p.run_id, count(*) AS labeled FROM predictions p JOIN labels l ON p.dataset = l.dataset AND p.key = l.key GROUP BY p.run_id ORDER BY p.run_id`,
      '--json',
    );
    expect(sql.code, sql.stderr).toBe(0);
    expect(JSON.parse(sql.stdout)).toEqual([
      { run_id: 'in-parts', labeled: 3001 },
      { run_id: 'whole', labeled: 3001 },
    ]);
    const listed = await cli('sql', 'SELECT run_id, rows, log_uri FROM scoring_runs ORDER BY run_id', '--json');
    expect(JSON.parse(listed.stdout)).toEqual([
      { run_id: 'in-parts', rows: 3001, log_uri: split.logUri },
      { run_id: 'whole', rows: 3001, log_uri: whole.logUri },
    ]);
    expect(localArtifacts()).toEqual([]);
  });

  it('never lists or reads a half-written run (no run.json), and sweeps it after the grace period', async () => {
    const ghost = `predictions/${MODEL}/ghost/.attempt-abc-000000000000`;
    // A real part of a real log, so only the missing marker keeps it out.
    await copyObject(whole.parts[0]!.slice(`${base}/`.length), `${ghost}/part-00000.parquet`);
    // The loser of a race at a published run: an attempt its run.json does not name.
    const loser = `predictions/${MODEL}/whole/.attempt-abd-000000000000`;
    await copyObject(whole.parts[0]!.slice(`${base}/`.length), `${loser}/part-00000.parquet`);

    expect((await listRuns(env.store, MODEL)).map((r) => r.runId).sort()).toEqual(['in-parts', 'whole']);
    const files = await predictionLogFiles(env.store, MODEL);
    expect(files.sort()).toEqual([...whole.parts, ...split.parts].sort());
    const cli = cliFor(env.config, { env: storeEnv });
    const runs = await cli('runs', MODEL, '--json');
    expect((JSON.parse(runs.stdout) as ScoreRun[]).map((r) => r.runId).sort()).toEqual(['in-parts', 'whole']);
    const counted = await cli('sql', 'SELECT count(*) AS n FROM predictions', '--json');
    expect(JSON.parse(counted.stdout)).toEqual([{ n: 2 * 3001 }]);

    // Young: it may belong to a run still writing on another worker.
    expect(await sweepUnpublished(env.store, DAY)).toEqual([]);
    const swept = await sweepUnpublished(env.store, DAY, Date.now() + 2 * DAY);
    expect(swept.map((s) => s.uri).sort()).toEqual([`${base}/${ghost}`, `${base}/${loser}`]);
    expect(await keys(`predictions/${MODEL}/ghost/`)).toEqual([]);
    expect(await keys(loser)).toEqual([]);
    // The published runs keep every part.
    expect((await logOf(whole)).length).toBe(3001);
    expect((await logOf(split)).length).toBe(3001);
  });

  it('sweeps the staging of split runs in the bucket: a published run at once, an abandoned one once it is stale', async () => {
    const leftover = (runId: string) => `.staging/scoring/${MODEL}/${runId}/part-000/.attempt-abc-000000000000/part-00000.parquet`;
    await put(leftover('whole'), 'late');
    await put(leftover('abandoned'), 'half');
    expect(await sweepScoringStaging(env.store, DAY)).toEqual([`${base}/.staging/scoring/${MODEL}/whole`]);
    expect(await keys('.staging/')).toEqual([leftover('abandoned')]);
    expect(await sweepScoringStaging(env.store, DAY, Date.now() + 2 * DAY)).toEqual([`${base}/.staging/scoring/${MODEL}/abandoned`]);
    expect(await keys('.staging/')).toEqual([]);
  });

  it('deletes expired prediction logs from the bucket', async () => {
    const run = (await (await startScoring(env.client, env.config, { model: MODEL, dataset: 'churn-live', runId: 'brief', maxFlaggedShare: 1, retentionDays: 1 })).result()).run!;
    expect((await keys(`predictions/${MODEL}/brief/`)).length).toBeGreaterThan(1);
    const report = await sweepExpiredRawAndPredictionLogs(env.store, 'sweep-s3-logs', new Date(Date.now() + 2 * DAY), 90);
    expect(report.predictionLogs).toEqual([{ model: MODEL, runId: 'brief', expiresAt: run.expiresAt, uri: `${base}/predictions/${MODEL}/brief` }]);
    expect(await keys(`predictions/${MODEL}/brief/`)).toEqual([]);
    // Runs with time left stay.
    expect((await listRuns(env.store, MODEL)).map((r) => r.runId).sort()).toEqual(['in-parts', 'whole']);
  });
});
