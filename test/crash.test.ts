import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIngest } from '../src/client/ingest';
import { registryState, startTraining } from '../src/client/train';
import { listVersions } from '../src/datasets/catalog';
import { openDuckDb } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { type TestEnv, startTestEnv } from './helpers/env';
import { ingestChurn } from './helpers/training';
import { finishingAttempt, killWorker, spawnWorker, stopWorker, waitForWork } from './helpers/worker-process';

let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv('crash');
});
afterAll(async () => {
  await env?.shutdown();
});

describe('a worker killed mid-ingest', () => {
  it('leaves no half-written version, and the retried workflow publishes exactly one', async () => {
    const file = path.join(env.inputDir, 'big.csv');
    const db = await openDuckDb();
    const conn = await db.connect();
    await conn.run(
      `COPY (SELECT i AS id, (i % 97) * 1.5 AS x, 'c' || (i % 7) AS cat, i % 2 = 0 AS y FROM range(1500000) t(i))
       TO ${quoteString(file)} (HEADER)`,
    );
    db.closeSync();

    const taskQueue = `crash-${randomBytes(4).toString('hex')}`;
    const config = { ...env.config, taskQueue };
    const first = spawnWorker(config, taskQueue);
    const handle = await startIngest(env.client, config, {
      dataset: 'big',
      source: file,
      contract: {
        columns: [
          { name: 'id', type: 'integer', nullable: false },
          { name: 'x', type: 'double', min: 0 },
          { name: 'cat', type: 'string' },
          { name: 'y', type: 'boolean' },
        ],
        key: ['id'],
      },
    });

    // Kill -9 the worker as soon as the build has started writing its snapshot: the moment a
    // non-atomic implementation would leave a half-written version behind.
    const tmpRoot = env.store.tmpDir();
    const writing = () => fs.existsSync(tmpRoot) && fs.readdirSync(tmpRoot).some((d) => d.startsWith('dataset-big-'));
    await waitForWork(writing, first, 'writing the snapshot');
    await killWorker(first.child);
    expect(await listVersions(env.store, 'big')).toHaveLength(0);
    expect(fs.existsSync(env.store.path('datasets', 'big', 'versions'))).toBe(false);

    const second = spawnWorker(config, taskQueue);
    try {
      const ref = await handle.result();
      expect(ref.rows.accepted).toBe(1_500_000);
      const versions = await listVersions(env.store, 'big');
      expect(versions.map((v) => v.version)).toEqual([ref.version]);
      expect(fs.readdirSync(env.store.path('datasets', 'big', 'versions'))).toEqual([ref.version]);
      expect(fs.readdirSync(path.dirname(ref.manifestUri)).sort()).toEqual(['data.parquet', 'manifest.json']);
      expect(await finishingAttempt(handle, 'buildDatasetVersion')).toBeGreaterThanOrEqual(2);
    } finally {
      await stopWorker(second.child);
    }
  }, 180_000);
});

describe('a worker killed mid-training', () => {
  it('ends with exactly one registered version', async () => {
    await ingestChurn(env, 30_000);
    const taskQueue = `crash-train-${randomBytes(4).toString('hex')}`;
    const config = { ...env.config, taskQueue };
    const first = spawnWorker(config, taskQueue);
    const handle = await startTraining(env.client, config, {
      model: 'crash-model',
      dataset: 'churn',
      trainer: { kind: 'gbdt', params: { nEstimators: 400 } },
    });
    const tmpRoot = env.store.tmpDir();
    const training = () => fs.existsSync(tmpRoot) && fs.readdirSync(tmpRoot).some((d) => d.startsWith('model-crash-model-'));
    await waitForWork(training, first, 'training');
    await killWorker(first.child);
    expect(fs.existsSync(env.store.path('models', 'crash-model', 'versions'))).toBe(false);

    const second = spawnWorker(config, taskQueue);
    try {
      const { summary } = await handle.result();
      expect(fs.readdirSync(env.store.path('models', 'crash-model', 'versions'))).toEqual([summary.version]);
      const state = await registryState(env.client, 'crash-model');
      expect(state.versions.map((v) => v.version)).toEqual([summary.version]);
      expect(state.decisions.filter((d) => d.action === 'register')).toHaveLength(1);
      expect(await finishingAttempt(handle, 'trainModelVersion')).toBeGreaterThanOrEqual(2);
    } finally {
      await stopWorker(second.child);
    }
  }, 240_000);
});
