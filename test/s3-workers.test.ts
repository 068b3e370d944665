import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ingest } from '../src/client/ingest';
import { startPipeline, startPromotion } from '../src/client/promote';
import { requestRetrain } from '../src/client/retrain';
import { startScoring } from '../src/client/score';
import { registryState, startTraining } from '../src/client/train';
import { listVersions } from '../src/datasets/catalog';
import { layout, MANIFEST_FILE, CARD_FILE, RUN_FILE } from '../src/store/layout';
import { ACTIVITY_STARTED, pendingActivity } from './helpers/activities';
import { writeChurnCsv } from './helpers/churn';
import { type TestEnv, startTestEnv } from './helpers/env';
import { bucketKeys, s3Client, s3StoreEnv } from './helpers/s3';
import { CHURN_CONTRACT } from './helpers/training';
import { finishingAttempt, killWorker, spawnWorker, stopWorker } from './helpers/worker-process';

/**
 * Workers on separate hosts: two worker processes that share nothing but Temporal and the bucket
 * (each its own temp MLOPS_DATA_DIR, MLOPS_STORE=s3://…) run pipelines, scoring runs (whole and in
 * parts) and a retraining loop between them; every artifact exists once in the bucket, and a
 * worker killed with SIGKILL mid-activity hands its work to the other. The source files are the
 * one thing both read from this machine's disk, as from a landing zone both hosts mount.
 */
const s3 = inject('s3');
const bucket = `workers-${randomBytes(4).toString('hex')}`;
const PREFIX = 'fleet';
const storeEnv = s3StoreEnv(s3, bucket, PREFIX);
const sdk = s3Client(s3);
const keys = (...segments: string[]) => bucketKeys(sdk, bucket, PREFIX, segments.join('/'));

interface Host {
  worker: ReturnType<typeof spawnWorker>;
  dataDir: string;
  pid: string;
}
const hosts: Host[] = [];
let env: TestEnv;
beforeAll(async () => {
  await sdk.send(new CreateBucketCommand({ Bucket: bucket }));
  // No worker in the test process: the two below are the whole fleet.
  env = await startTestEnv('s3-workers', storeEnv, { worker: false });
  for (let i = 0; i < 2; i++) startHost();
});
afterAll(async () => {
  await Promise.all(hosts.map((h) => stopWorker(h.worker.child)));
  for (const h of hosts) fs.rmSync(h.dataDir, { recursive: true, force: true });
  env?.store.backend.close();
  await env?.shutdown();
  sdk.destroy();
});

/** A worker process with a folder of its own, as on another machine. */
function startHost(): Host {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-host-'));
  const worker = spawnWorker(env.config, env.config.taskQueue, { ...storeEnv, MLOPS_DATA_DIR: dataDir });
  const host = { worker, dataDir, pid: String(worker.child.pid) };
  hosts.push(host);
  return host;
}
const alive = () => hosts.filter((h) => h.worker.child.exitCode === null && h.worker.child.signalCode === null);

/** pid → how many activity attempts it started, over the histories of `handles`. */
async function activitiesByPid(handles: WorkflowHandle[]): Promise<Map<string, number>> {
  const ranBy = new Map<string, number>();
  for (const handle of handles) {
    for (const e of (await handle.fetchHistory()).events ?? []) {
      const pid = e.activityTaskStartedEventAttributes?.identity?.split('@')[0];
      if (pid) ranBy.set(pid, (ranBy.get(pid) ?? 0) + 1);
    }
  }
  return ranBy;
}

/** The worker that took `handle`'s activity `type` (its identity is pid@host), once started. */
async function hostRunning(handle: WorkflowHandle, type: string): Promise<Host> {
  const pending = await pendingActivity(handle, type, (a) => a.state === ACTIVITY_STARTED && !!a.lastWorkerIdentity, `${type} to start`);
  const host = hosts.find((h) => h.pid === pending.lastWorkerIdentity!.split('@')[0]);
  if (!host) throw new Error(`${type} runs on ${pending.lastWorkerIdentity}, none of this test's workers`);
  return host;
}

/** The pid that ran the attempt of `type` that completed. */
async function finishedBy(handle: WorkflowHandle, type: string): Promise<string | undefined> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type);
  const started = events.find((e) => e.activityTaskStartedEventAttributes && String(e.activityTaskStartedEventAttributes.scheduledEventId) === String(scheduled?.eventId));
  return started?.activityTaskStartedEventAttributes?.identity?.split('@')[0];
}

/** Every model version in the bucket once: exactly one card per registered version. */
async function expectModelOnce(model: string): Promise<string[]> {
  const state = await registryState(env.client, model);
  const versions = state.versions.map((v) => v.version).sort();
  const cards = (await keys('models', model, 'versions'))
    .filter((k) => k.endsWith(`/${CARD_FILE}`))
    .map((k) => k.split('/').at(-2)!)
    .sort();
  expect(cards, `cards of ${model} in the bucket`).toEqual(versions);
  expect(state.decisions.filter((d) => d.action === 'register')).toHaveLength(versions.length);
  return versions;
}

async function expectDatasetOnce(dataset: string, count: number): Promise<void> {
  const listed = (await listVersions(env.store, dataset)).map((v) => v.version).sort();
  expect(listed).toHaveLength(count);
  const manifests = (await keys(...layout.datasetVersions(dataset))).filter((k) => k.endsWith(`/${MANIFEST_FILE}`)).map((k) => k.split('/').at(-2)!);
  expect(manifests.sort()).toEqual(listed);
}

const MODELS = 4;
const ROWS = 6000;
const WEAK = { features: ['color'] };

describe('two workers sharing only Temporal and the bucket', () => {
  it('run pipelines, scoring runs (whole and in parts) and a retraining loop between them; every artifact exists once', async () => {
    const files = await Promise.all(Array.from({ length: MODELS }, (_, i) => writeChurnCsv(env, { dataset: `fleet-${i}`, rows: ROWS, seed: i })));
    const pipelines = await Promise.all(
      files.map((source, i) =>
        startPipeline(env.client, env.config, {
          ingest: { dataset: `fleet-${i}`, source, contract: CHURN_CONTRACT },
          // fleet-0 is retrained below, from a logistic production model (as test/retrain.test.ts).
          train: { model: `fleet-${i}`, dataset: `fleet-${i}`, trainer: i % 2 ? { kind: 'gbdt', params: { nEstimators: 10 } } : { kind: 'logistic', params: {} } },
          promote: { gates: { thresholds: { rocAuc: { min: 0.5 } } } },
        }),
      ),
    );
    const results = await Promise.all(pipelines.map((p) => p.result()));
    expect(results.map((r) => r.promotion.phase)).toEqual(Array(MODELS).fill('promoted'));

    // Two runs per model: one whole, one in parts of 1,000 rows scored on either worker.
    const scoring = await Promise.all(
      Array.from({ length: MODELS * 2 }, (_, i) =>
        startScoring(env.client, env.config, {
          model: `fleet-${i % MODELS}`,
          dataset: `fleet-${i % MODELS}`,
          runId: `run-${i}`,
          ...(i >= MODELS ? { splitRows: 1000 } : {}),
        }),
      ),
    );
    const runs = await Promise.all(scoring.map((s) => s.result()));
    expect(runs.map((r) => r.run?.rows)).toEqual(Array(MODELS * 2).fill(ROWS));

    // Newer data that follows another concept: the loop's second strategy beats production.
    const newer = await writeChurnCsv(env, { dataset: 'fleet-0', rows: ROWS, idOffset: 50_000, concept: 'b', seed: 1 });
    await ingest(env.client, env.config, { dataset: 'fleet-0', source: newer, contract: CHURN_CONTRACT });
    const loop = await requestRetrain(
      env.client,
      env.config.taskQueue,
      { model: 'fleet-0', strategies: [WEAK, {}], maxAttempts: 3, gates: { minImprovement: 0.005 } },
      { reason: 'test: concept changed', by: 'tester' },
    );
    const retrained = await loop.result();
    expect(retrained.outcome, JSON.stringify(retrained.attempts)).toBe('improved');

    for (let i = 0; i < MODELS; i++) {
      await expectDatasetOnce(`fleet-${i}`, i === 0 ? 2 : 1);
      const versions = await expectModelOnce(`fleet-${i}`);
      expect(versions).toHaveLength(i === 0 ? 1 + retrained.attempts.length : 1);
      const logs = (await keys(...layout.predictionRuns(`fleet-${i}`))).filter((k) => k.endsWith(`/${RUN_FILE}`)).map((k) => k.split('/').at(-2)!);
      expect(logs.sort()).toEqual([`run-${i}`, `run-${i + MODELS}`].sort());
    }
    expect((await registryState(env.client, 'fleet-0')).aliases.production).toBe(retrained.attempts.at(-1)!.version);
    // Parts are published into their run's log; nothing is left staged.
    expect(await keys(...layout.scoringStaging())).toEqual([]);

    // Both did the work, and neither kept an artifact in its own folder (scratch only).
    const ranBy = await activitiesByPid([...pipelines, ...scoring, loop]);
    for (const h of hosts) expect(ranBy.get(h.pid), `activities run by worker ${h.pid}`).toBeGreaterThan(2);
    for (const h of hosts) expect(fs.readdirSync(h.dataDir).filter((n) => !n.startsWith('.'))).toEqual([]);
  }, 600_000);

  it('a worker killed mid-training, then another mid-scoring: the survivor finishes each, and the bucket holds one of each', async () => {
    const csv = await writeChurnCsv(env, { dataset: 'fleet-big', rows: 300_000 });
    await ingest(env.client, env.config, { dataset: 'fleet-big', source: csv, contract: CHURN_CONTRACT });

    const training = await startTraining(env.client, env.config, { model: 'fleet-kill', dataset: 'fleet-big', trainer: { kind: 'gbdt', params: { nEstimators: 200 } } });
    const trainer = await hostRunning(training, 'trainModelVersion');
    await killWorker(trainer.worker.child);
    const { summary } = await training.result();
    expect(await finishingAttempt(training, 'trainModelVersion')).toBeGreaterThanOrEqual(2);
    expect(await finishedBy(training, 'trainModelVersion')).not.toBe(trainer.pid);
    expect(await expectModelOnce('fleet-kill')).toEqual([summary.version]);
    const promotion = await (await startPromotion(env.client, env.config, { model: 'fleet-kill', gates: { thresholds: { rocAuc: { min: 0.5 } } } })).result();
    expect(promotion.phase).toBe('promoted');

    // A second host again, then the same fault under a scoring run.
    startHost();
    expect(alive()).toHaveLength(2);
    const scoring = await startScoring(env.client, env.config, { model: 'fleet-kill', dataset: 'fleet-big', runId: 'killed' });
    const scorer = await hostRunning(scoring, 'scoreDatasetVersion');
    await killWorker(scorer.worker.child);
    const run = await scoring.result();
    expect(run.run?.rows).toBe(300_000);
    expect(await finishingAttempt(scoring, 'scoreDatasetVersion')).toBeGreaterThanOrEqual(2);
    expect(await finishedBy(scoring, 'scoreDatasetVersion')).not.toBe(scorer.pid);
    const logs = (await keys(...layout.predictionRuns('fleet-kill'))).filter((k) => k.endsWith(`/${RUN_FILE}`));
    expect(logs).toEqual([`${layout.predictionRuns('fleet-kill').join('/')}/killed/${RUN_FILE}`]);
  }, 600_000);
});
