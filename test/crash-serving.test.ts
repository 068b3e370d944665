import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPromotion } from '../src/client/promote';
import { startScoring } from '../src/client/score';
import { registryState, startTraining } from '../src/client/train';
import { evaluationsDir } from '../src/evaluation/reports';
import { layout } from '../src/store/layout';
import { openDuckDb, queryRows } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { ingestChurnData } from './helpers/churn';
import { type TestEnv, startTestEnv } from './helpers/env';
import { finishingAttempt, killWorker, spawnWorker, stopWorker, waitForWork } from './helpers/worker-process';

/**
 * kill -9 of the worker in the middle of the two long serving-side activities, shadow evaluation
 * and batch scoring: a second worker finishes the same workflow, every artifact exists once and
 * whole, and the registry records one decision.
 */
const ROWS = 400_000;
let env: TestEnv;
let v1: string;
let v2: string;
beforeAll(async () => {
  env = await startTestEnv('crash-serving');
  await ingestChurnData(env, { dataset: 'big', rows: ROWS });
  v1 = (await (await startTraining(env.client, env.config, { model: 'served', dataset: 'big', trainer: { kind: 'gbdt', params: { nEstimators: 3 } } })).result()).summary.version;
  const first = await (await startPromotion(env.client, env.config, { model: 'served', candidateVersion: v1, gates: { thresholds: { rocAuc: { min: 0.5 } } } })).result();
  expect(first.phase).toBe('promoted');
  v2 = (await (await startTraining(env.client, env.config, { model: 'served', dataset: 'big', trainer: { kind: 'gbdt', params: { nEstimators: 60 } } })).result()).summary.version;
}, 240_000);
afterAll(async () => {
  await env?.shutdown();
});

/** A task queue only the spawned worker processes serve. */
function crashQueue(label: string) {
  const taskQueue = `${label}-${randomBytes(4).toString('hex')}`;
  return { ...env.config, taskQueue };
}

describe('a worker killed mid-evaluation', () => {
  it('promotes once, from one report, after a second worker redoes the evaluation', async () => {
    const config = crashQueue('crash-eval');
    const first = spawnWorker(config, config.taskQueue);
    const handle = await startPromotion(env.client, config, { model: 'served', candidateVersion: v2 });
    const reports = () => (fs.existsSync(evaluationsDir(env.store, 'served')) ? fs.readdirSync(evaluationsDir(env.store, 'served')) : []);
    const before = reports();
    const evaluating = async () =>
      ((await handle.describe()).raw.pendingActivities ?? []).some(
        (a) => a.activityType?.name === 'evaluateCandidate' && a.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
      );
    await waitForWork(evaluating, first, 'the shadow evaluation');
    await new Promise((r) => setTimeout(r, 300)); // into the scoring loop
    await killWorker(first.child);
    expect(reports(), 'the evaluation finished before the kill; make it longer').toEqual(before);

    const second = spawnWorker(config, config.taskQueue);
    try {
      const status = await handle.result();
      expect(status.phase, status.decision?.reason).toBe('promoted');
      expect(await finishingAttempt(handle, 'evaluateCandidate')).toBeGreaterThanOrEqual(2);
      const added = reports().filter((f) => !before.includes(f));
      expect(added.map((f) => path.extname(f)).sort()).toEqual(['.html', '.json', '.md']);
      const state = await registryState(env.client, 'served');
      expect(state.aliases.production).toBe(v2);
      expect(state.decisions.filter((d) => d.alias === 'production' && d.version === v2)).toHaveLength(1);
    } finally {
      await stopWorker(second.child);
    }
  }, 240_000);
});

describe('a worker killed mid-scoring', () => {
  it('publishes one whole prediction log with every row exactly once', async () => {
    const config = crashQueue('crash-score');
    const production = (await registryState(env.client, 'served')).aliases.production;
    const first = spawnWorker(config, config.taskQueue);
    const handle = await startScoring(env.client, config, { model: 'served', dataset: 'big', runId: 'nightly', partRows: 50_000, batchSize: 8192 });
    const tmpRoot = env.store.tmpDir();
    // Killed once the first part file is on disk: a non-atomic design would leave it visible.
    const writingParts = () =>
      fs.existsSync(tmpRoot) &&
      fs.readdirSync(tmpRoot).some((d) => d.startsWith('score-served-nightly-') && fs.readdirSync(path.join(tmpRoot, d)).some((f) => f.endsWith('.parquet')));
    await waitForWork(writingParts, first, 'writing prediction parts');
    await killWorker(first.child);
    const logDir = env.store.path(...layout.predictionRuns('served'));
    expect(fs.existsSync(path.join(logDir, 'nightly'))).toBe(false);

    const second = spawnWorker(config, config.taskQueue);
    try {
      const status = await handle.result();
      expect(status.phase).toBe('done');
      expect(await finishingAttempt(handle, 'scoreDatasetVersion')).toBeGreaterThanOrEqual(2);
      const run = status.run!;
      expect(run).toMatchObject({ rows: ROWS, modelVersion: production });
      expect(fs.readdirSync(logDir)).toEqual(['nightly']);
      expect(fs.readdirSync(path.join(logDir, 'nightly')).sort()).toEqual([...run.parts.map((p) => path.basename(p)), 'report.html', 'run.json'].sort());
      const db = await openDuckDb();
      try {
        const [counts] = await queryRows<{ rows: number; distinct_rows: number; keys: number }>(
          await db.connect(),
          `SELECT count(*) AS rows, count(DISTINCT row_number) AS distinct_rows, count(DISTINCT key) AS keys FROM read_parquet([${run.parts.map(quoteString).join(', ')}])`,
        );
        expect(counts).toEqual({ rows: ROWS, distinct_rows: ROWS, keys: ROWS });
      } finally {
        db.closeSync();
      }
    } finally {
      await stopWorker(second.child);
    }
  }, 240_000);
});
