import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPipeline } from '../src/client/promote';
import { startScoring } from '../src/client/score';
import { registryState } from '../src/client/train';
import { listVersions } from '../src/datasets/catalog';
import { layout } from '../src/store/layout';
import { writeChurnCsv } from './helpers/churn';
import { type TestEnv, startTestEnv } from './helpers/env';
import { CHURN_CONTRACT } from './helpers/training';
import { spawnWorker, stopWorker } from './helpers/worker-process';

/**
 * Two worker processes on one task queue over one artifact store, as a scaled-out deployment
 * runs: the work is shared between them and every result exists once.
 */
let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv('scale-out');
});
afterAll(async () => {
  await env?.shutdown();
});

const MODELS = 8;

describe('two workers on one task queue', () => {
  it('share pipelines and scoring runs, and every artifact exists once', async () => {
    const config = { ...env.config, taskQueue: `scale-out-${randomBytes(4).toString('hex')}` };
    const workers = [spawnWorker(config, config.taskQueue), spawnWorker(config, config.taskQueue)];
    try {
      // One dataset per model, all ingested by the pipelines themselves.
      const files = await Promise.all(Array.from({ length: MODELS }, (_, i) => writeChurnCsv(env, { dataset: `shared-${i}`, rows: 3000, seed: i })));
      const pipelines = await Promise.all(
        files.map((source, i) =>
          startPipeline(env.client, config, {
            ingest: { dataset: `shared-${i}`, source, contract: CHURN_CONTRACT },
            train: { model: `shared-${i}`, dataset: `shared-${i}`, trainer: i % 2 ? { kind: 'gbdt', params: { nEstimators: 10 } } : { kind: 'logistic', params: {} } },
            promote: { gates: { thresholds: { rocAuc: { min: 0.5 } } } },
          }),
        ),
      );
      const results = await Promise.all(pipelines.map((p) => p.result()));
      expect(results.map((r) => r.promotion.phase)).toEqual(Array(MODELS).fill('promoted'));

      const scoring = await Promise.all(
        Array.from({ length: MODELS * 2 }, (_, i) => startScoring(env.client, config, { model: `shared-${i % MODELS}`, dataset: `shared-${i % MODELS}`, runId: `run-${i}` })),
      );
      const runs = await Promise.all(scoring.map((s) => s.result()));
      expect(runs.map((r) => r.run?.rows)).toEqual(Array(MODELS * 2).fill(3000));

      for (let i = 0; i < MODELS; i++) {
        expect(await listVersions(env.store, `shared-${i}`)).toHaveLength(1);
        const state = await registryState(env.client, `shared-${i}`);
        expect(state.versions).toHaveLength(1);
        expect(state.decisions.filter((d) => d.action === 'register')).toHaveLength(1);
        expect(fs.readdirSync(env.store.path(...layout.predictionRuns(`shared-${i}`))).sort()).toEqual([`run-${i}`, `run-${i + MODELS}`].sort());
      }

      // Who did the work: each started activity event names the worker (pid@host) that ran it.
      const ranBy = new Map<string, number>();
      for (const handle of [...pipelines, ...scoring]) {
        const events = (await handle.fetchHistory()).events ?? [];
        for (const e of events) {
          const identity = e.activityTaskStartedEventAttributes?.identity;
          if (identity) ranBy.set(identity.split('@')[0]!, (ranBy.get(identity.split('@')[0]!) ?? 0) + 1);
        }
      }
      const pids = workers.map((w) => String(w.child.pid));
      expect([...ranBy.keys()].sort()).toEqual(pids.sort());
      for (const pid of pids) expect(ranBy.get(pid)).toBeGreaterThan(2);
    } finally {
      await Promise.all(workers.map((w) => stopWorker(w.child)));
    }
  }, 300_000);
});
