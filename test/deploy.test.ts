import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploymentStatus, rampBuild, rollbackBuild, setCurrentBuild } from '../src/client/deploy';
import { runReplayCheck } from '../src/client/deploy-check';
import { listPending, reviewPromotion, startPromotion } from '../src/client/promote';
import { decideRetrain, requestRetrain } from '../src/client/retrain';
import { registryState, startTraining } from '../src/client/train';
import { promotionStatusQuery } from '../src/api/promote';
import { registryWorkflowId } from '../src/api/registry';
import { retrainStatusQuery } from '../src/api/retrain';
import type { MlopsConfig } from '../src/config';
import { openDuckDb } from '../src/sql/duckdb';
import { createWorker } from '../src/worker';
import { ingestChurnData } from './helpers/churn';
import { type TestEnv, startTestEnv } from './helpers/env';
import { until } from './helpers/wait';

/**
 * Shipping worker code with Worker Deployments, on the run's real Temporal server: build ONE runs
 * src/workflows, build TWO test/fixtures/workflows-v2 (the promotion and the retraining loop start
 * with a timer, so build 1's histories of them cannot replay there). Both poll one task queue as
 * versions of one deployment, in this process.
 */
const DEPLOYMENT = `deploy-test-${randomBytes(3).toString('hex')}`;
// Dots as in the default `<package version>-<hash8>` ids.
const ONE = '0.1.0-one';
const TWO = '0.2.0-two';
const FIXTURES = path.join(__dirname, 'fixtures', 'histories');
const V2_WORKFLOWS = path.join(__dirname, 'fixtures', 'workflows-v2', 'index.ts');

let env: TestEnv;
const workers: { stop(): Promise<void> }[] = [];

async function startBuild(buildId: string, workflowsPath?: string): Promise<void> {
  const config: MlopsConfig = { ...env.config, deployment: { name: DEPLOYMENT, buildId } };
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const duckdb = await openDuckDb({ ...config.duckdb, threads: 1 });
  const worker: Worker = await createWorker({ config, connection, duckdb, client: env.client, ...(workflowsPath ? { workflowsPath } : {}) });
  const running = worker.run();
  workers.push({
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
      duckdb.closeSync();
    },
  });
  await until(`build ${buildId} polling`, async () => ((await deploymentStatus(env.client, env.config)).versions.find((v) => v.buildId === buildId)?.pollers ? true : undefined), {
    timeoutMs: 60_000,
    retryErrors: true,
  });
}

type History = temporal.api.history.v1.IHistory;
const historyOf = (h: Pick<WorkflowHandle, 'fetchHistory'>) => h.fetchHistory();
/** The build of every completed workflow task, in order. */
const taskBuilds = (history: History) =>
  (history.events ?? []).flatMap((e) => (e.workflowTaskCompletedEventAttributes ? [e.workflowTaskCompletedEventAttributes.deploymentVersion?.buildId ?? 'unversioned'] : []));
const failedTasks = (history: History) =>
  (history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes).map((e) => e.workflowTaskFailedEventAttributes!.failure?.message);

/** Starts a workflow that ends in its first task (invalid input): which build took it is in its history. */
async function buildOfNewWorkflow(label: string): Promise<string> {
  const handle = await env.client.workflow.start('trainModel', {
    taskQueue: env.config.taskQueue,
    workflowId: `deploy-probe-${label}-${randomBytes(4).toString('hex')}`,
    args: [{}],
  });
  await handle.result().catch(() => undefined);
  return taskBuilds(await historyOf(handle))[0]!;
}

async function productionOf(model: string): Promise<string> {
  const trained = await (await startTraining(env.client, env.config, { model, dataset: 'dep', trainer: { kind: 'logistic', params: {} } })).result();
  const promoted = await (await startPromotion(env.client, env.config, { model, gates: { thresholds: { rocAuc: { min: 0.5 } } } })).result();
  expect(promoted.phase).toBe('promoted');
  return trained.summary.version;
}

beforeAll(async () => {
  env = await startTestEnv('deploy', { MLOPS_DEPLOYMENT_NAME: DEPLOYMENT }, { worker: false });
  await startBuild(ONE);
}, 120_000);
afterAll(async () => {
  for (const w of workers.reverse()) await w.stop();
  await env?.shutdown();
});

describe('worker deployments: a new build never breaks what runs', () => {
  it('loops and reviews started on build 1 finish there after build 2 is current; new work, ramps and rollback route as asked', async () => {
    // Nothing becomes current without a passing replay check of its code.
    await expect(setCurrentBuild(env.client, env.config, ONE)).rejects.toThrow(/has no replay check: run `mlops deploy check`/);
    await expect(setCurrentBuild(env.client, env.config, 'nope')).rejects.toThrow(/Build "nope" is not a version of deployment .* \(known builds: 0\.1\.0-one\)/);
    const first = await runReplayCheck(env.client, env.config, { historyDirs: [FIXTURES], open: 'moving', buildId: ONE });
    expect(first.failures).toEqual([]);
    expect(first.replayed).toBeGreaterThanOrEqual(14);
    expect(first.recorded).toBe(`recorded on ${DEPLOYMENT} build ${ONE}`);
    expect(await setCurrentBuild(env.client, env.config, ONE)).toEqual({ previous: undefined, current: ONE });

    // On build 1: data, two production models, a retraining loop waiting for a person, a promotion waiting for review.
    await ingestChurnData(env, { dataset: 'dep', rows: 3000 });
    await productionOf('loop');
    await productionOf('review');
    const loop = await requestRetrain(
      env.client,
      env.config.taskQueue,
      { model: 'loop', strategies: [{ features: ['color'] }], maxAttempts: 1, gates: { minImprovement: 0.005 } },
      { reason: 'test', by: 'tester' },
    );
    await until('the loop to escalate', async () => ((await loop.query(retrainStatusQuery)).phase === 'escalated' ? true : undefined), { timeoutMs: 90_000, retryErrors: true });
    const candidate = (await (await startTraining(env.client, env.config, { model: 'review', dataset: 'dep', trainer: { kind: 'logistic', params: { C: 0.5 } } })).result()).summary
      .version;
    const review = await startPromotion(env.client, env.config, { model: 'review', policy: 'manual' });
    await until('the review phase', async () => ((await review.query(promotionStatusQuery)).phase === 'waiting-for-review' ? true : undefined), { timeoutMs: 60_000 });

    // Build 2 polls; its code is checked against what would move to it.
    await startBuild(TWO, V2_WORKFLOWS);
    await expect(setCurrentBuild(env.client, env.config, TWO)).rejects.toThrow(/Build "0\.2\.0-two" has no replay check/);
    const withFixtures = await runReplayCheck(env.client, env.config, { historyDirs: [FIXTURES], open: 'none', workflowsPath: V2_WORKFLOWS, buildId: TWO });
    expect([...new Set(withFixtures.failures.map((f) => f.workflowType))].sort()).toEqual(['promoteModel', 'retrainUntilImproved']);
    expect(withFixtures.failures[0]!.message).toMatch(/[Nn]ondetermin/);
    await expect(setCurrentBuild(env.client, env.config, TWO)).rejects.toThrow(/failed its replay check .*promoteModel/);
    const allOpen = await runReplayCheck(env.client, env.config, { historyDirs: [], open: 'all', workflowsPath: V2_WORKFLOWS, buildId: TWO });
    expect(allOpen.failures.map((f) => f.workflowId).sort()).toEqual([loop.workflowId, review.workflowId].sort());
    // What moves to a new build: the registries (AUTO_UPGRADE). Pinned runs stay where they are.
    const moving = await runReplayCheck(env.client, env.config, { historyDirs: [], open: 'moving', workflowsPath: V2_WORKFLOWS, buildId: TWO });
    expect(moving.failures).toEqual([]);
    expect(moving.replayed).toBe(2);

    // A ramp sends about its share of new workflows to build 2.
    await expect(rampBuild(env.client, env.config, TWO, 101)).rejects.toThrow(/from 0 to 100/);
    await rampBuild(env.client, env.config, TWO, 30);
    const starts = 40;
    const ramped = (await Promise.all(Array.from({ length: starts }, (_, i) => buildOfNewWorkflow(`ramp-${i}`)))).filter((b) => b === TWO).length;
    expect(ramped).toBeGreaterThanOrEqual(4);
    expect(ramped).toBeLessThanOrEqual(22);
    console.log(`ramp at 30%: ${ramped} of ${starts} new workflows on build 2`);

    expect(await setCurrentBuild(env.client, env.config, TWO)).toEqual({ previous: ONE, current: TWO });
    const afterSwitch = await deploymentStatus(env.client, env.config);
    expect(afterSwitch).toMatchObject({ current: TWO, ramping: undefined });
    expect(afterSwitch.versions.find((v) => v.buildId === ONE)).toMatchObject({ status: 'draining', running: { promoteModel: 1, retrainUntilImproved: 1 } });

    // New work runs on build 2, old work finishes on build 1.
    const fresh = await startTraining(env.client, env.config, { model: 'fresh', dataset: 'dep', trainer: { kind: 'logistic', params: {} } });
    await fresh.result();
    expect(new Set(taskBuilds(await historyOf(fresh)))).toEqual(new Set([TWO]));

    await reviewPromotion(env.client, 'approve', { model: 'review', version: candidate, by: 'ana', reason: 'looks right' });
    expect((await review.result()).decision).toMatchObject({ outcome: 'promoted', by: 'ana' });
    expect((await registryState(env.client, 'review')).aliases.production).toBe(candidate);
    expect(new Set(taskBuilds(await historyOf(review)))).toEqual(new Set([ONE]));

    // The pinned loop continues as new on a retry: which build its next run takes is Temporal's rule, recorded here.
    const firstRun = (await loop.describe()).runId;
    await decideRetrain(env.client, { model: 'loop', decision: 'retry', by: 'ana', reason: 'once more', overrides: { maxAttempts: 1 } });
    await until(
      'the loop to escalate again',
      async () => ((await loop.query(retrainStatusQuery)).attemptsMade === 2 && (await loop.query(retrainStatusQuery)).phase === 'escalated' ? true : undefined),
      {
        timeoutMs: 90_000,
        retryErrors: true,
      },
    );
    const secondRun = (await loop.describe()).runId;
    expect(secondRun).not.toBe(firstRun);
    expect(new Set(taskBuilds(await env.client.workflow.getHandle(loop.workflowId, firstRun).fetchHistory()))).toEqual(new Set([ONE]));
    const secondRunBuilds = new Set(taskBuilds(await historyOf(loop)));
    expect(secondRunBuilds).toEqual(new Set([ONE]));
    await decideRetrain(env.client, { model: 'loop', decision: 'abort', by: 'ana', reason: 'done testing' });
    expect(await loop.result()).toMatchObject({ outcome: 'aborted' });

    // The registry followed the current build.
    const registry = await env.client.workflow.getHandle(registryWorkflowId('review')).fetchHistory();
    const registryBuilds = taskBuilds(registry);
    expect(registryBuilds).toContain(ONE);
    expect(registryBuilds.at(-1)).toBe(TWO);

    // Rollback: build 1 takes new work again.
    expect(await rollbackBuild(env.client, env.config)).toEqual({ previous: TWO, current: ONE });
    expect(await buildOfNewWorkflow('after-rollback')).toBe(ONE);
    expect((await deploymentStatus(env.client, env.config)).current).toBe(ONE);

    // Nothing anywhere failed a workflow task (no nondeterminism, no stuck task).
    const failures: string[] = [];
    for await (const wf of env.client.workflow.list({ query: `TaskQueue = "${env.config.taskQueue}"` })) {
      const history = await env.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      for (const message of failedTasks(history)) failures.push(`${wf.type} ${wf.workflowId}: ${message}`);
    }
    expect(failures).toEqual([]);
    expect((await listPending(env.client)).filter((p) => [loop.workflowId, review.workflowId].includes(p.workflowId))).toEqual([]);

    // Build 2's worker goes away: it can no longer be made current (the server lists a stopped poller for minutes).
    await workers.pop()!.stop();
    await until(
      'build 2 to count as gone',
      async () => ((await deploymentStatus(env.client, env.config)).versions.find((v) => v.buildId === TWO)?.pollers === 0 ? true : undefined),
      {
        timeoutMs: 180_000,
        intervalMs: 5_000,
      },
    );
    await expect(setCurrentBuild(env.client, env.config, TWO)).rejects.toThrow(
      /No worker of build "0\.2\.0-two" polls task queue .* start one \(MLOPS_DEPLOYMENT_NAME=.* MLOPS_BUILD_ID=0\.2\.0-two mlops worker\)/,
    );
    expect((await deploymentStatus(env.client, env.config)).current).toBe(ONE);
  }, 600_000);
});
