import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listPending, startPromotion } from '../src/client/promote';
import { decideRetrain, requestRetrain, retrainStatus } from '../src/client/retrain';
import { registryState, startTraining } from '../src/client/train';
import type { TrainRequestInput } from '../src/training/request';
import { retrainStatusQuery, retrainWorkflowId } from '../src/api/retrain';
import { ingestChurnData } from './helpers/churn';
import { type TestEnv, startTestEnv } from './helpers/env';
import { until } from './helpers/wait';

let env: TestEnv;
/** Version 1 follows concept a; version 2 (latest), newer data, concept b (an extra color effect). */
let v1: string;
beforeAll(async () => {
  env = await startTestEnv('retrain');
  v1 = (await ingestChurnData(env, { dataset: 'ret', rows: 6000 })).version;
  await ingestChurnData(env, { dataset: 'ret', rows: 6000, idOffset: 50_000, concept: 'b', seed: 1 });
});
afterAll(async () => {
  await env?.shutdown();
});

const GATES = { minImprovement: 0.005 };
const weak = { features: ['color'] };

async function productionOf(model: string, dataset: string, datasetVersion = 'latest', trainer: TrainRequestInput['trainer'] = { kind: 'logistic', params: {} }): Promise<string> {
  const trained = await (await startTraining(env.client, env.config, { model, dataset, datasetVersion, trainer })).result();
  const promoted = await (await startPromotion(env.client, env.config, { model, gates: { thresholds: { rocAuc: { min: 0.5 } } } })).result();
  expect(promoted.phase).toBe('promoted');
  return trained.summary.version;
}

/** The loop's queries can race its continue-as-new: a failed probe is polled again. */
const waitFor = <T>(what: string, probe: () => Promise<T | undefined>) => until(what, probe, { timeoutMs: 60_000, retryErrors: true });

async function runsOf(workflowId: string): Promise<number> {
  let n = 0;
  for await (const _ of env.client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) n++;
  return n;
}

describe('retrain until improved', () => {
  it('proves the baseline, fails a first attempt, improves on the second and promotes it; state survives continue-as-new', async () => {
    // Production learned concept a; the newest data follows concept b.
    const production = await productionOf('better', 'ret', v1);

    const handle = await requestRetrain(
      env.client,
      env.config.taskQueue,
      { model: 'better', strategies: [weak, {}], maxAttempts: 3, gates: GATES },
      { reason: 'test: concept changed', by: 'tester' },
    );
    const result = await handle.result();
    expect(result.outcome, JSON.stringify(result.attempts)).toBe('improved');
    expect(result.proof).toMatchObject({ version: production, passed: true, primaryMetric: 'rocAuc' });
    expect(Math.abs(result.proof!.reproduced! - result.proof!.registered!)).toBeLessThanOrEqual(0.005);
    expect(result.attempts.map((a) => a.outcome)).toEqual(['rejected', 'promoted']);
    expect(result.attempts[0]!.strategy).toEqual(weak);
    expect(result.attempts[0]!.reason).toMatch(/gates failed/);
    expect(result.attempts[1]!.candidateValue).toBeGreaterThan(result.attempts[1]!.baselineValue! + 0.005);
    expect(result.triggers).toEqual([expect.objectContaining({ reason: 'test: concept changed', by: 'tester' })]);
    // One run per attempt: the second run still knew the first attempt.
    expect(result.runs).toBe(2);
    expect(await runsOf(retrainWorkflowId('better'))).toBe(2);
    const state = await registryState(env.client, 'better');
    expect(state.aliases.production).toBe(result.attempts[1]!.version);
    expect(state.decisions.some((d) => d.action === 'reject' && d.version === result.attempts[0]!.version)).toBe(true);
  });

  it('escalates when it cannot improve, refuses bad decisions, obeys retry with overrides, then abort', async () => {
    // Production already fits the newest data: nothing weaker can beat it.
    const production = await productionOf('stuck', 'ret');
    const handle = await requestRetrain(
      env.client,
      env.config.taskQueue,
      { model: 'stuck', strategies: [weak], maxAttempts: 1, gates: GATES },
      { reason: 'weekly', by: 'schedule' },
    );
    const escalated = await waitFor('the escalation', async () => {
      const s = await handle.query(retrainStatusQuery);
      return s.phase === 'escalated' ? s : undefined;
    });
    expect(escalated.escalation!.reason).toMatch(/no improvement after 1 attempt/);
    expect(escalated.attempts.map((a) => a.outcome)).toEqual(['rejected']);
    const pending = await waitFor('the pending list', async () => (await listPending(env.client)).find((p) => p.workflowId === retrainWorkflowId('stuck')));
    expect(pending).toMatchObject({ type: 'retrainUntilImproved', model: 'stuck', stage: 'retrain-escalated' });

    await expect(decideRetrain(env.client, { model: 'stuck', decision: 'retry', by: '', reason: 'x' })).rejects.toThrow(/retry refused: .*by/);
    await expect(decideRetrain(env.client, { model: 'stuck', decision: 'force-promote', by: 'ana', reason: 'x', version: 'ffffffffffffffff' })).rejects.toThrow(
      /was not trained by this loop/,
    );
    await expect(decideRetrain(env.client, { model: 'stuck', decision: 'retry', by: 'ana', reason: 'x', overrides: { maxAttempts: 0 } })).rejects.toThrow(/maxAttempts/);

    const retried = await decideRetrain(env.client, {
      model: 'stuck',
      decision: 'retry',
      by: 'ana',
      reason: 'try x1 alone with more regularization',
      overrides: { maxAttempts: 1, strategies: [{ trainer: { kind: 'logistic', params: { C: 0.5 } }, features: ['x1'] }] },
    });
    expect(retried.decision).toMatchObject({ action: 'retry', by: 'ana' });
    const again = await waitFor('the second escalation', async () => {
      const s = await retrainStatus(env.client, 'stuck');
      return s.phase === 'escalated' && s.attemptsMade === 2 ? s : undefined;
    });
    expect(again.attempts[1]).toMatchObject({ n: 2, outcome: 'rejected', strategy: { trainer: { kind: 'logistic', params: { C: 0.5 } }, features: ['x1'] } });
    expect(again.maxAttempts).toBe(1);

    await decideRetrain(env.client, { model: 'stuck', decision: 'abort', by: 'ana', reason: 'keep production, investigate the data' });
    const result = await handle.result();
    expect(result).toMatchObject({ phase: 'done', outcome: 'aborted', production, decision: { action: 'abort', by: 'ana' } });
    expect((await registryState(env.client, 'stuck')).aliases.production).toBe(production);
    await expect(decideRetrain(env.client, { model: 'stuck', decision: 'abort', by: 'ana', reason: 'again' })).rejects.toThrow(/No retraining loop|not waiting/);
  });

  it('a person can force-promote a version the loop trained, or accept the current production', async () => {
    await productionOf('forced', 'ret');
    const handle = await requestRetrain(env.client, env.config.taskQueue, { model: 'forced', strategies: [weak], maxAttempts: 1, gates: GATES }, { reason: 'test', by: 'tester' });
    const escalated = await waitFor('the escalation', async () => {
      const s = await handle.query(retrainStatusQuery);
      return s.phase === 'escalated' ? s : undefined;
    });
    const tried = escalated.attempts[0]!.version!;
    await decideRetrain(env.client, { model: 'forced', decision: 'force-promote', by: 'ana', reason: 'cheaper model, loss accepted', version: tried });
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'force-promoted', production: tried, decision: { action: 'forcePromote', version: tried } });
    const state = await registryState(env.client, 'forced');
    expect(state.aliases.production).toBe(tried);
    expect(state.decisions.at(-1)).toMatchObject({ action: 'set-alias', alias: 'production', version: tried, by: 'ana', reason: expect.stringMatching(/^forced by a person/) });

    // The same model again: nothing better → escalation → accept the current production.
    const again = await requestRetrain(
      env.client,
      env.config.taskQueue,
      { model: 'forced', strategies: [weak], maxAttempts: 1, gates: GATES, baselineProof: { enabled: false } },
      { reason: 'again', by: 'tester' },
    );
    await waitFor('the escalation', async () => ((await again.query(retrainStatusQuery)).phase === 'escalated' ? true : undefined));
    await decideRetrain(env.client, { model: 'forced', decision: 'accept-current', by: 'ana', reason: 'good enough' });
    expect(await again.result()).toMatchObject({ outcome: 'accepted-current', production: tried });
  });

  it('flags itself when the baseline cannot be reproduced, and goes on only when a person says so', async () => {
    const production = await productionOf('unproven', 'ret');
    // The registered test metric no longer matches what the pipeline produces from the same data.
    const state = await registryState(env.client, 'unproven');
    const cardUri = state.versions.find((v) => v.version === production)!.cardUri;
    const card = JSON.parse(fs.readFileSync(cardUri, 'utf8')) as { metrics: { test: Record<string, number> } };
    card.metrics.test.rocAuc = 0.99;
    fs.writeFileSync(cardUri, JSON.stringify(card));

    const handle = await requestRetrain(
      env.client,
      env.config.taskQueue,
      { model: 'unproven', strategies: [weak], maxAttempts: 1, gates: GATES },
      { reason: 'test', by: 'tester' },
    );
    const flagged = await waitFor('the escalation', async () => {
      const s = await handle.query(retrainStatusQuery);
      return s.phase === 'escalated' ? s : undefined;
    });
    expect(flagged.proof).toMatchObject({ version: production, passed: false, registered: 0.99 });
    expect(flagged.escalation!.reason).toMatch(/^baseline proof failed: retraining .* gave rocAuc 0\.9\d+ vs 0\.99 registered/);
    expect(flagged.attemptsMade).toBe(0);
    await decideRetrain(env.client, { model: 'unproven', decision: 'retry', by: 'ana', reason: 'card edited by hand, known', overrides: { skipBaselineProof: true } });
    const next = await waitFor('the attempt', async () => {
      const s = await handle.query(retrainStatusQuery);
      return s.phase === 'escalated' && s.attemptsMade === 1 ? s : undefined;
    });
    expect(next.attempts[0]!.outcome).toBe('rejected');
    await decideRetrain(env.client, { model: 'unproven', decision: 'abort', by: 'ana', reason: 'done' });
    expect((await handle.result()).outcome).toBe('aborted');
  });
});
