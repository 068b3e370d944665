import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPromotion } from '../src/client/promote';
import { requestRetrain } from '../src/client/retrain';
import { registryState, startTraining } from '../src/client/train';
import { retrainStatusQuery } from '../src/api/retrain';
import { ingestChurnData } from './helpers/churn';
import { type TestEnv, startTestEnv } from './helpers/env';
import { spawnWorker, stopWorker } from './helpers/worker-process';

let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv('retrain-crash');
});
afterAll(async () => {
  await env?.shutdown();
});

describe('a worker killed mid-attempt of the retraining loop', () => {
  it('the loop completes on another worker: one version trained, promoted once', async () => {
    await ingestChurnData(env, { dataset: 'crash-ret', rows: 30_000 });
    const production = (await (await startTraining(env.client, env.config, { model: 'crash-loop', dataset: 'crash-ret' })).result()).summary.version;
    expect((await (await startPromotion(env.client, env.config, { model: 'crash-loop', gates: { thresholds: { rocAuc: { min: 0.5 } } } })).result()).phase).toBe('promoted');
    await ingestChurnData(env, { dataset: 'crash-ret', rows: 30_000, idOffset: 100_000, concept: 'b', seed: 3 });

    // The loop runs on its own task queue, served by a worker in another process.
    const taskQueue = `crash-loop-${randomBytes(4).toString('hex')}`;
    const first = spawnWorker({ ...env.config, taskQueue }, taskQueue);
    const handle = await requestRetrain(
      env.client,
      taskQueue,
      { model: 'crash-loop', strategies: [{ trainer: { kind: 'gbdt', params: { nEstimators: 400 } } }], maxAttempts: 2 },
      { reason: 'crash test', by: 'test' },
    );
    // Kill -9 once the attempt's training is writing its model (after the baseline proof).
    const tmpRoot = env.store.tmpDir();
    const deadline = Date.now() + 120_000;
    for (;;) {
      const status = await handle.query(retrainStatusQuery).catch(() => undefined);
      const training = fs.existsSync(tmpRoot) && fs.readdirSync(tmpRoot).some((d) => d.startsWith('model-crash-loop-'));
      if (status?.phase === 'attempting' && status.attemptsMade === 1 && training) break;
      if (Date.now() > deadline) throw new Error(`the attempt did not start training; worker output:\n${first.output()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));

    const second = spawnWorker({ ...env.config, taskQueue }, taskQueue);
    try {
      const result = await handle.result();
      expect(result.outcome, JSON.stringify(result.attempts)).toBe('improved');
      expect(result.attempts, JSON.stringify(result.attempts, null, 1)).toHaveLength(1);
      const attempt = result.attempts[0]!;
      expect(attempt.outcome).toBe('promoted');
      const state = await registryState(env.client, 'crash-loop');
      expect(state.versions.map((v) => v.version).sort()).toEqual([production, attempt.version].sort());
      expect(state.decisions.filter((d) => d.action === 'register' && d.version === attempt.version)).toHaveLength(1);
      expect(state.decisions.filter((d) => d.action === 'set-alias' && d.alias === 'production' && d.version === attempt.version)).toHaveLength(1);
      expect(state.aliases.production).toBe(attempt.version);
      expect(fs.readdirSync(env.store.path('models', 'crash-loop', 'versions')).sort()).toEqual([production, attempt.version].sort());
      // The training activity really was cut off: the attempt that finished it was a retry.
      const history = await env.client.workflow.getHandle('retrain:crash-loop/attempt-1/train').fetchHistory();
      const started = history.events?.filter((e) => e.activityTaskStartedEventAttributes) ?? [];
      expect(Math.max(...started.map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 1))).toBeGreaterThanOrEqual(2);
    } finally {
      await stopWorker(second.child);
    }
  }, 300_000);
});
