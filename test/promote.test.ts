import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listPending, reviewPromotion, rollbackProduction, startEvaluation, startPipeline, startPromotion } from '../src/client/promote';
import { registryState, startTraining } from '../src/client/train';
import type { EvaluationReport } from '../src/evaluation/report';
import type { PromoteRequestInput } from '../src/evaluation/request';
import type { TrainRequestInput } from '../src/training/request';
import { promotionStatusQuery } from '../src/api/promote';
import { type TestEnv, startTestEnv } from './helpers/env';
import { rootFailure } from './helpers/failures';
import { CHURN_CONTRACT, churnCsv, ingestChurn } from './helpers/training';
import { until } from './helpers/wait';

let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv('promote');
  await ingestChurn(env, 8000);
});
afterAll(async () => {
  await env?.shutdown();
});

/** Trains a version of `model` on the churn dataset; `features` and `params` make versions differ in quality. */
async function train(model: string, trainer: TrainRequestInput['trainer'], features?: string[]): Promise<string> {
  const handle = await startTraining(env.client, env.config, { model, dataset: 'churn', trainer, ...(features ? { features } : {}) });
  return (await handle.result()).summary.version;
}

async function promote(input: PromoteRequestInput) {
  return startPromotion(env.client, env.config, input);
}

describe('promotion with quality gates', () => {
  it('promotes a first model on absolute thresholds, then a better one over it, and rejects a worse one naming the gate', async () => {
    const weak = await train('promo', { kind: 'logistic', params: {} }, ['color']);
    const first = await (await promote({ model: 'promo', gates: { thresholds: { rocAuc: { min: 0.4 } } } })).result();
    expect(first.phase).toBe('promoted');
    expect(first.baseline).toBeUndefined();
    expect(first.evaluation!.gates.map((g) => g.gate)).toEqual(['threshold:rocAuc']);

    const strong = await train('promo', { kind: 'logistic', params: {} });
    const better = await (await promote({ model: 'promo', sliceColumns: ['color', 'x1'] })).result();
    expect(better, better.decision?.reason).toMatchObject({ phase: 'promoted', candidate: strong, baseline: weak });
    expect(better.evaluation!.candidateValue).toBeGreaterThan(better.evaluation!.baselineValue! + 0.1);
    const report = JSON.parse(fs.readFileSync(better.evaluation!.reportUri, 'utf8')) as EvaluationReport;
    expect(report.baseline!.version).toBe(weak);
    expect(report.rows).toBeGreaterThan(800); // the shared test split of the 8000 rows
    expect(report.excluded.join(' ')).toMatch(/trained or validated on/);
    expect(report.slices.filter((s) => s.column === 'color').map((s) => s.value)).toEqual(['blue', 'green', 'red']);
    expect(report.slices.filter((s) => s.column === 'x1')).toHaveLength(4);
    expect(report.agreement!.sameLabel).toBeGreaterThan(0);
    expect(report.candidate.latency.p99Ms).toBeGreaterThan(0);
    expect(fs.readFileSync(better.evaluation!.markdownUri, 'utf8')).toMatch(/Verdict: PASSED[\s\S]*\| improvement \| pass \|/);

    const mid = await train('promo', { kind: 'logistic', params: {} }, ['x2']);
    const worse = await (await promote({ model: 'promo' })).result();
    expect(worse).toMatchObject({ phase: 'rejected', candidate: mid, baseline: strong });
    expect(worse.decision!.reason).toMatch(/gates failed: improvement \(rocAuc/);
    const state = await registryState(env.client, 'promo');
    expect(state.aliases).toEqual({ production: strong });
    const rejection = state.decisions.find((d) => d.action === 'reject' && d.version === mid)!;
    expect(rejection.reason).toMatch(/improvement/);
    expect(rejection.evidenceUri).toBe(worse.evaluation!.markdownUri);

    // An evaluation alone (no promotion) of the rejected version against production: same verdict, nothing changes.
    const alone = await (await startEvaluation(env.client, env.config, { model: 'promo', candidateVersion: mid, options: {} })).result();
    expect(alone).toMatchObject({ passed: false, candidateValue: worse.evaluation!.candidateValue, baselineValue: worse.evaluation!.baselineValue });
    expect((await registryState(env.client, 'promo')).aliases).toEqual({ production: strong });
  });

  it('waits for a person: listed as pending, bad reviews refused, approve promotes and reject rejects', async () => {
    const gbdt = await train('promo', { kind: 'gbdt', params: { nEstimators: 30 } });
    const handle = await promote({ model: 'promo', policy: 'manual' });
    await until('the review phase', async () => ((await handle.query(promotionStatusQuery)).phase === 'waiting-for-review' ? true : undefined));
    const pending = await until('the pending list', async () => (await listPending(env.client)).find((p) => p.workflowId === handle.workflowId));
    expect(pending).toMatchObject({ type: 'promoteModel', model: 'promo', stage: 'promote' });

    await expect(reviewPromotion(env.client, 'approve', { model: 'promo', version: 'ffffffffffffffff', by: 'ana', reason: 'ok' })).rejects.toThrow(
      /No promotion of promo@ffffffffffffffff is running/,
    );
    await expect(handle.executeUpdate('approve', { args: [{ version: 'ffffffffffffffff', by: 'ana', reason: 'ok' }] })).rejects.toThrow();
    await expect(reviewPromotion(env.client, 'approve', { model: 'promo', version: gbdt, by: 'ana', reason: ' ' })).rejects.toThrow(
      /approve refused: reason must be a non-empty text/,
    );
    const afterApprove = await reviewPromotion(env.client, 'approve', { model: 'promo', version: gbdt, by: 'ana', reason: 'report looks right' });
    expect(afterApprove.phase).toBe('promoting');
    const result = await handle.result();
    expect(result.decision).toMatchObject({ outcome: 'promoted', by: 'ana' });
    expect((await registryState(env.client, 'promo')).aliases.production).toBe(gbdt);
    await until('the flag to clear', async () => ((await listPending(env.client)).some((p) => p.workflowId === handle.workflowId) ? undefined : true));

    const other = await train('promo', { kind: 'logistic', params: { C: 0.5 } });
    const second = await promote({ model: 'promo', policy: 'manual' });
    await until('the review phase', async () => ((await second.query(promotionStatusQuery)).phase === 'waiting-for-review' ? true : undefined));
    await reviewPromotion(env.client, 'reject', { model: 'promo', version: other, by: 'ben', reason: 'not this week' });
    expect((await second.result()).decision).toMatchObject({ outcome: 'rejected', by: 'ben', reason: 'not this week' });
    expect((await registryState(env.client, 'promo')).aliases.production).toBe(gbdt);
  });

  it('a review that does not come: rejected on timeout, or escalated and still waiting', async () => {
    await train('promo', { kind: 'logistic', params: { C: 0.25 } });
    const timedOut = await (await promote({ model: 'promo', policy: 'manual', approvalTimeout: '2s' })).result();
    expect(timedOut.decision).toMatchObject({ outcome: 'rejected', by: 'timeout' });

    const late = await train('promo', { kind: 'logistic', params: { C: 0.1 } });
    const handle = await promote({ model: 'promo', policy: 'manual', approvalTimeout: '1s', onTimeout: 'escalate' });
    const escalated = await until('the escalation', async () => {
      const s = await handle.query(promotionStatusQuery);
      return s.escalatedAt ? s : undefined;
    });
    expect(escalated.phase).toBe('waiting-for-review');
    await reviewPromotion(env.client, 'approve', { model: 'promo', version: late, by: 'cy', reason: 'late but fine' });
    expect((await handle.result()).phase).toBe('promoted');
  });

  it('ask-on-failure: promotes on passing gates without asking, asks a person when a gate fails', async () => {
    const failing = await train('promo', { kind: 'logistic', params: {} }, ['x1']);
    const handle = await promote({ model: 'promo', policy: 'ask-on-failure', gates: { minImprovement: 0.5 } });
    const waiting = await until('the review phase', async () => {
      const s = await handle.query(promotionStatusQuery);
      return s.phase === 'waiting-for-review' ? s : undefined;
    });
    expect(waiting.evaluation!.passed).toBe(false);
    await reviewPromotion(env.client, 'reject', { model: 'promo', version: failing, by: 'dee', reason: 'the gate is right' });
    expect((await handle.result()).decision).toMatchObject({ outcome: 'rejected', by: 'dee' });

    const passing = await train('promo', { kind: 'logistic', params: { C: 0.05 } });
    const auto = await (await promote({ model: 'promo', policy: 'ask-on-failure', gates: { minImprovement: -1 } })).result();
    expect(auto.candidate).toBe(passing);
    expect(auto.decision?.by).toBe('promoteModel'); // nobody was asked
  });

  it('rolls production back to the previous version, recorded', async () => {
    const before = await registryState(env.client, 'promo');
    const previous = before.productionHistory[before.productionHistory.length - 2]!;
    const after = await rollbackProduction(env.client, { model: 'promo', by: 'ops', reason: 'alerts after deploy' });
    expect(after.aliases.production).toBe(previous);
    expect(after.decisions.at(-1)).toMatchObject({ action: 'rollback', version: previous, by: 'ops', reason: 'alerts after deploy' });
    await expect(rollbackProduction(env.client, { model: 'promo', by: 'ops', reason: '' })).rejects.toThrow(/rollback refused/);
  });
});

describe('promotion safety', () => {
  it('two candidates promoted at once: one production, every decision logged, none compared with a stale baseline', async () => {
    await train('promo-race', { kind: 'logistic', params: {} }, ['color']);
    await (await promote({ model: 'promo-race' })).result();
    const a = await train('promo-race', { kind: 'logistic', params: {} });
    const b = await train('promo-race', { kind: 'gbdt', params: { nEstimators: 40 } });
    const [ra, rb] = await Promise.all([
      promote({ model: 'promo-race', candidateVersion: a }).then((h) => h.result()),
      promote({ model: 'promo-race', candidateVersion: b }).then((h) => h.result()),
    ]);
    const state = await registryState(env.client, 'promo-race');
    expect(state.aliases.production).toBe(state.productionHistory.at(-1));
    expect([a, b]).toContain(state.aliases.production);
    for (const [version, result] of [
      [a, ra],
      [b, rb],
    ] as const) {
      const decision = state.decisions.find((d) => d.version === version && (d.action === 'reject' || (d.action === 'set-alias' && d.alias === 'production')));
      expect(decision, `a decision about ${version}`).toBeDefined();
      if (result.phase === 'promoted') {
        // It replaced exactly the version it was evaluated against.
        expect(decision!.previous).toBe(result.baseline);
      }
    }
  });

  it('never makes a candidate whose ONNX file was damaged production', async () => {
    const damaged = await train('promo-race', { kind: 'logistic', params: { C: 2 } });
    const production = (await registryState(env.client, 'promo-race')).aliases.production;
    const summary = (await registryState(env.client, 'promo-race')).versions.find((v) => v.version === damaged)!;
    const bytes = fs.readFileSync(summary.onnxUri);
    fs.writeFileSync(summary.onnxUri, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const result = await (await promote({ model: 'promo-race', candidateVersion: damaged })).result();
    expect(result.phase).toBe('rejected');
    expect(result.decision!.reason).toMatch(/changed after registration/);
    expect((await registryState(env.client, 'promo-race')).aliases.production).toBe(production);
  });

  it('a damaged production model fails the promotion without blaming the candidate', async () => {
    const state = await registryState(env.client, 'promo-race');
    const production = state.versions.find((v) => v.version === state.aliases.production)!;
    const candidate = await train('promo-race', { kind: 'logistic', params: { C: 3 } });
    fs.writeFileSync(production.onnxUri, 'not a model');
    const failure = await rootFailure((await promote({ model: 'promo-race', candidateVersion: candidate })).result());
    expect(failure.type).toBe('BaselineLoadError');
    expect(failure.message).toMatch(/The baseline \(production\) Model promo-race@[0-9a-f]+: .* changed after registration.*roll back or repair it/);
    const after = await registryState(env.client, 'promo-race');
    expect(after.aliases).toEqual({ production: production.version, candidate });
    expect(after.decisions.some((d) => d.action === 'reject' && d.version === candidate)).toBe(false);
  });

  it('refuses gates that name a metric the model does not have', async () => {
    const failure = await rootFailure((await promote({ model: 'promo-race', gates: { thresholds: { auc: { min: 0.5 } } } })).result());
    expect(failure.type).toBe('InvalidInput');
    expect(failure.message).toBe('Gates name unknown metric(s) "auc"; a binary model has accuracy, precision, recall, f1, rocAuc, logLoss, brier');
  });
});

describe('trainAndPromote', () => {
  it('runs ingest → train → shadow → promote as child workflows', async () => {
    const handle = await startPipeline(env.client, env.config, {
      ingest: { dataset: 'churn-pipe', source: churnCsv(env, 8000), contract: CHURN_CONTRACT },
      train: { model: 'promo-pipe', dataset: 'churn-pipe', trainer: { kind: 'logistic', params: {} } },
      promote: { gates: { thresholds: { rocAuc: { min: 0.75 } } } },
    });
    expect(handle.workflowId).toMatch(/^pipeline:promo-pipe:[0-9a-f]{8}$/);
    const result = await handle.result();
    expect(result.dataset!.dataset).toBe('churn-pipe');
    expect(result.trained.summary.dataset).toEqual({ name: 'churn-pipe', version: result.dataset!.version });
    expect(result.promotion).toMatchObject({ phase: 'promoted', candidate: result.trained.summary.version });
    expect((await registryState(env.client, 'promo-pipe')).aliases.production).toBe(result.trained.summary.version);
    // Visibility is eventually consistent: wait until all three children are listed.
    const children = await until('the child workflows', async () => {
      const found: string[] = [];
      for await (const wf of env.client.workflow.list({ query: `ParentWorkflowId = "${handle.workflowId}"` })) found.push(`${wf.type} ${wf.workflowId}`);
      return found.length === 3 ? found : undefined;
    });
    expect(children.sort()).toEqual([
      `ingestDataset ${handle.workflowId}/ingest`,
      `promoteModel promote:promo-pipe:${result.trained.summary.version}`,
      `trainModel ${handle.workflowId}/train`,
    ]);
  });
});
