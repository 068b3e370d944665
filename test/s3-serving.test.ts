import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOnlineTrafficFiles } from '../src/activities/online';
import { promoteWorkflowId, promotionStatusQuery } from '../src/api/promote';
import { reviewOutcome, startPromotion } from '../src/client/promote';
import { startLabels, startMonitor } from '../src/client/retrain';
import { startTraining } from '../src/client/train';
import type { SweepReport } from '../src/datasets/retention';
import { predictionLogFiles } from '../src/scoring/runs';
import { startModelServer, type ModelServer } from '../src/serving/http';
import { createPredictor } from '../src/serving/predictor';
import { queryRows } from '../src/sql/duckdb';
import { ingestChurnData } from './helpers/churn';
import { type TestEnv, startTestEnv } from './helpers/env';
import { storeDuckDb, testBucket } from './helpers/s3-bucket';
import { until } from './helpers/wait';

/**
 * `mlops serve` on an S3 store, against the run's real S3 server (versitygw): the model is read
 * from the bucket, every online prediction is logged there as Parquet parts DuckDB uploads itself
 * (each part one whole object), late labels join them in monitoring, and the counters of a
 * shadowed promotion go to the bucket too. The worker's and the server's folder holds scratch only.
 */
const bucket = testBucket('serving', 'ml');
const MODEL = 'online-s3';
const LENIENT = { thresholds: { rocAuc: { min: 0.5 } }, minImprovement: -1, maxSliceRegression: 1, maxLatencyRatio: 1000 };

let env: TestEnv;
let server: ModelServer;
let v1: string;

async function train(C: number): Promise<string> {
  return (await (await startTraining(env.client, env.config, { model: MODEL, dataset: 'churn-train', trainer: { kind: 'logistic', params: { C } } })).result()).summary.version;
}

async function post(body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.url}/v1/models/${MODEL}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

const row = (id: number) => ({ id, x1: (id % 40) / 10 - 2, x2: -0.25, color: id % 3 ? 'red' : 'blue' });

/** What the process's own folder holds besides scratch (dot-folders): must stay empty. */
const localArtifacts = () => fs.readdirSync(env.config.dataDir).filter((n) => !n.startsWith('.'));

beforeAll(async () => {
  await bucket.create();
  env = await startTestEnv('s3-serving', bucket.storeEnv);
  await ingestChurnData(env, { dataset: 'churn-train', rows: 4000 });
  v1 = await train(1);
  expect((await (await startPromotion(env.client, env.config, { model: MODEL, candidateVersion: v1, gates: LENIENT })).result()).phase).toBe('promoted');
  const predictor = await createPredictor({
    model: MODEL,
    store: env.store,
    client: env.client,
    taskQueue: env.config.taskQueue,
    pollIntervalMs: 200,
    alerts: false,
    log: { flushIntervalMs: 200 },
    promotions: { reportIntervalMs: 200 },
  });
  server = await startModelServer({ predictor, model: MODEL, port: 0 });
});
afterAll(async () => {
  await server?.close();
  env?.store.backend.close();
  await env?.shutdown();
  bucket.sdk.destroy();
});

describe('mlops serve on S3', () => {
  it('logs online predictions as objects in the bucket, and late labels join them in monitoring', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => 700_000 + i);
    for (let i = 0; i < ids.length; i += 50) {
      const r = await post(ids.slice(i, i + 50).map(row));
      expect(r.status).toBe(200);
      expect(r.json.modelVersion).toBe(v1);
    }
    const status = await until('the log written', async () => {
      const s = server.predictor.status();
      return s.log && s.log.written === 200 && s.log.buffered === 0 ? s : undefined;
    });
    expect(status.log!.dir).toMatch(new RegExp(`^${bucket.base}predictions/${MODEL}/online-[^/]+$`));
    const parts = (await bucket.keys(`predictions/${MODEL}/`)).filter((k) => k.includes('/online-'));
    expect(parts.length).toBeGreaterThan(0);
    expect(parts.every((k) => /\/online-[^/]+\/part-\d{5}\.parquet$/.test(k))).toBe(true);
    // Read through the bucket the way monitoring and `mlops sql` read it.
    const files = await predictionLogFiles(env.store, MODEL);
    expect(files.length).toBe(parts.length);
    const duck = await storeDuckDb(env.store);
    try {
      const [counted] = await queryRows<{ n: number; keys: number }>(
        duck.conn,
        `SELECT count(*)::INT AS n, count(DISTINCT key)::INT AS keys FROM read_parquet([${files.map((f) => `'${f}'`).join(', ')}]) WHERE dataset_version = 'online'`,
      );
      expect(counted).toEqual({ n: 200, keys: 200 });
    } finally {
      duck.close();
    }
    expect(localArtifacts()).toEqual([]);

    const labels = `${env.inputDir}/online-labels.csv`;
    fs.writeFileSync(labels, `id,churned\n${ids.map((id) => `${id},${id % 40 >= 20}`).join('\n')}\n`);
    expect((await (await startLabels(env.client, env.config, { dataset: 'churn-train', source: labels })).result()).rows).toBe(200);
    const report = await (await startMonitor(env.client, env.config, { model: MODEL, dataset: 'churn-train', runId: 'online-s3-check', retrainOnTrigger: false })).result();
    expect(report.live).toMatchObject({ rows: 200, primaryMetric: 'rocAuc' });
    expect(report.live!.value).toBeGreaterThan(0.9);
  });

  it('shadows a candidate under review and keeps the live counters in the bucket', async () => {
    const v2 = await train(0.05);
    const handle = await startPromotion(env.client, env.config, { model: MODEL, candidateVersion: v2, gates: LENIENT, policy: 'manual' });
    const promotion = env.client.workflow.getHandle(promoteWorkflowId(MODEL, v2));
    await until('the review', async () => ((await promotion.query(promotionStatusQuery)).phase === 'waiting-for-review' ? true : undefined));
    await until('the server shadowing v2', async () => {
      const p = server.predictor.status().promotion;
      return p?.mode === 'shadow' && p.candidate === v2 && p.candidateLoaded ? true : undefined;
    });
    for (let i = 0; i < 20; i++) expect((await post([row(10 * i), row(10 * i + 1)])).status).toBe(200);
    const { runId } = await handle.describe();
    await until('the shadow counters in the bucket', async () => {
      const t = await readOnlineTrafficFiles(env.store, { model: MODEL, candidate: v2, promotionRun: runId });
      return t.shadow?.rows === 40 ? t : undefined;
    });
    expect((await bucket.keys(`reports/online/${MODEL}/${v2}/${runId}/`)).length).toBe(1);
    const done = await reviewOutcome(env.client, 'reject', { model: MODEL, version: v2, by: 'ana', reason: 'seen the shadow' });
    expect(done.onlineShadow).toMatchObject({ servers: 1, rows: 40, candidate: { requests: 20, errors: 0 } });
    // The report carrying the online-shadow section is the bucket's object.
    expect(done.evaluation!.reportUri.startsWith(bucket.base)).toBe(true);
    expect((await bucket.read(done.evaluation!.markdownUri)).toString('utf8')).toContain('## Online shadow');
    expect(localArtifacts()).toEqual([]);
  });

  it('the retention sweep deletes online log parts in the bucket once their days have passed', async () => {
    const parts = (await bucket.keys(`predictions/${MODEL}/`)).filter((k) => /\/online-[^/]+\/part-\d{5}\.parquet$/.test(k));
    expect(parts.length).toBeGreaterThan(0);
    const sweep = (asOf: number, id: string): Promise<SweepReport> =>
      env.client.workflow.execute('retentionSweep', { taskQueue: env.config.taskQueue, workflowId: id, args: [{ asOf: new Date(asOf).toISOString(), onlineLogRetentionDays: 7 }] });
    expect((await sweep(Date.now(), 'sweep-online-now')).onlineLogParts).toEqual([]);
    const later = await sweep(Date.now() + 8 * 86_400_000, 'sweep-online-later');
    // Every part written so far (the server may have added one since the listing above).
    expect(later.onlineLogParts.map((p) => p.key)).toEqual(expect.arrayContaining(parts));
    const left = (await bucket.keys(`predictions/${MODEL}/`)).filter((k) => k.includes('/online-'));
    expect(left.filter((k) => parts.includes(k))).toEqual([]);
  });
});
