import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPromotion } from '../src/client/promote';
import { decideRetrain, retrainStatus, startLabels, startMonitor } from '../src/client/retrain';
import { modelScheduleId, scheduleModelWorkflow } from '../src/client/schedules';
import { startScoring } from '../src/client/score';
import { startTraining } from '../src/client/train';
import type { MonitoringReport } from '../src/monitoring/monitor';
import { ingestChurnData, writeChurnCsv } from './helpers/churn';
import { type TestEnv, startTestEnv } from './helpers/env';
import { rootFailure } from './helpers/failures';
import { openDuckDb } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { until } from './helpers/wait';

let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv('monitor');
  await ingestChurnData(env, { dataset: 'mon', rows: 6000 });
  await (await startTraining(env.client, env.config, { model: 'watched', dataset: 'mon' })).result();
  expect((await (await startPromotion(env.client, env.config, { model: 'watched', gates: { thresholds: { rocAuc: { min: 0.5 } } } })).result()).phase).toBe('promoted');
});
afterAll(async () => {
  await env?.shutdown();
});

async function scoreAndMonitor(dataset: string, runId: string, options: { retrainOnTrigger?: boolean; retrain?: { maxAttempts: number } } = {}) {
  // Shifted inputs push outputs out of range too; this test is about drift, so no scoring alert.
  await (await startScoring(env.client, env.config, { model: 'watched', dataset, runId: `score-${runId}`, maxFlaggedShare: 1 })).result();
  return (
    await startMonitor(env.client, env.config, {
      model: 'watched',
      dataset,
      runId,
      retrainOnTrigger: options.retrainOnTrigger ?? false,
      ...(options.retrain ? { retrain: options.retrain } : {}),
    })
  ).result();
}

describe('monitoring', () => {
  it('finds no drift in fresh rows of the training distribution, and exactly the feature that moved when one does', async () => {
    await ingestChurnData(env, { dataset: 'mon-live', rows: 4000, idOffset: 100_000, seed: 7, unlabeled: true });
    const calm = await scoreAndMonitor('mon-live', 'calm');
    expect(calm.triggered, calm.reasons.join('; ')).toBe(false);
    expect(calm.driftedFeatures).toEqual([]);
    expect(calm.predictionPsi).toBeLessThan(0.1);
    expect(calm.notes.join(' ')).toMatch(/no labels yet/);
    const report = JSON.parse(fs.readFileSync(calm.reportUri, 'utf8')) as MonitoringReport;
    expect(report.features.map((f) => f.feature)).toEqual(['x1', 'x2', 'color']);
    expect(fs.readFileSync(calm.markdownUri, 'utf8')).toMatch(/no threshold crossed/);

    // x2 shifted by 1.5 (of a [-2, 2] range): only x2 drifts; the model's outputs move with it.
    await ingestChurnData(env, { dataset: 'mon-live', rows: 4000, idOffset: 200_000, seed: 8, x2Shift: 1.5, unlabeled: true });
    const drifted = await scoreAndMonitor('mon-live', 'shifted', { retrainOnTrigger: true, retrain: { maxAttempts: 1 } });
    expect(drifted.triggered).toBe(true);
    expect(drifted.driftedFeatures).toEqual(['x2']);
    expect(drifted.reasons.join('; ')).toMatch(/feature drift in x2 \(PSI/);
    expect(drifted.predictionPsi).toBeGreaterThan(0.1);

    // The crossing started the retraining loop with the reason (signal-with-start).
    expect(drifted.retrain?.workflowId).toBe('retrain:watched');
    const loop = await retrainStatus(env.client, 'watched');
    expect(loop.triggers[0]!.reason).toMatch(/^monitoring shifted: feature drift in x2/);
    // A second crossing joins the same loop instead of starting another one.
    const again = await (await startMonitor(env.client, env.config, { model: 'watched', dataset: 'mon-live', runId: 'shifted-again', retrain: { maxAttempts: 1 } })).result();
    expect(again.retrain?.workflowId).toBe('retrain:watched');
    const joined = await retrainStatus(env.client, 'watched');
    expect(joined.triggers.map((t) => t.by)).toEqual(['monitor:watched:shifted', 'monitor:watched:shifted-again']);
    // Retraining on unchanged training data cannot beat production: the loop escalates; end it.
    await waitFor('the escalation', async () => ((await retrainStatus(env.client, 'watched')).phase === 'escalated' ? true : undefined)).catch(async (e) => {
      console.log(JSON.stringify(await retrainStatus(env.client, 'watched')));
      throw e;
    });
    const ended = await decideRetrain(env.client, { model: 'watched', decision: 'accept-current', by: 'test', reason: 'drift understood' });
    expect(ended.decision?.action).toBe('acceptCurrent');
    await env.client.workflow.getHandle('retrain:watched').result();
    // The same crossing the next day does not ask the person again within the quiet period.
    const quiet = await (await startMonitor(env.client, env.config, { model: 'watched', dataset: 'mon-live', runId: 'shifted-next-day' })).result();
    expect(quiet.triggered).toBe(true);
    expect(quiet.retrain?.suppressed).toMatch(/ended accepted-current .*drift understood.*quiet until/);
    expect((await env.client.workflow.getHandle('retrain:watched').describe()).status.name).toBe('COMPLETED');
    // A run id names one pass: using it again is refused.
    await expect(startMonitor(env.client, env.config, { model: 'watched', dataset: 'mon-live', runId: 'shifted' })).rejects.toThrow(/already/i);
  });

  it('turns labels that arrive later into live metrics against the training baseline', async () => {
    const o = { dataset: 'mon-late', rows: 3000, idOffset: 300_000, seed: 9 };
    await ingestChurnData(env, { ...o, unlabeled: true });
    const before = await scoreAndMonitor('mon-late', 'late-before');
    expect(before.live).toBeUndefined();

    // The same rows, now with their outcome — keys written zero-padded by another system.
    const labels = await zeroPadded(await writeChurnCsv(env, o));
    const batch = await (await startLabels(env.client, env.config, { dataset: 'mon-late', source: labels, label: 'churned' })).result();
    expect(batch).toMatchObject({ rows: 3000, rejected: 0, duplicateKeys: 0 });
    const after = await (await startMonitor(env.client, env.config, { model: 'watched', dataset: 'mon-late', runId: 'late-after', retrainOnTrigger: false })).result();
    expect(after.live).toMatchObject({ rows: 3000, primaryMetric: 'rocAuc' });
    // Same distribution as training: the live AUC is close to the card's test AUC.
    expect(Math.abs(after.live!.value! - after.live!.baseline!)).toBeLessThan(0.05);
    expect(after.triggered).toBe(false);

    // Labels for a later batch that follows another relation: live metrics move, and the drop is flagged.
    const changed = { dataset: 'mon-late', rows: 3000, idOffset: 400_000, seed: 10, concept: 'b' as const };
    await ingestChurnData(env, { ...changed, unlabeled: true });
    await (await startScoring(env.client, env.config, { model: 'watched', dataset: 'mon-late', runId: 'score-late-b', maxFlaggedShare: 1 })).result();
    await (await startLabels(env.client, env.config, { dataset: 'mon-late', source: await writeChurnCsv(env, changed), label: 'churned' })).result();
    const later = await (
      await startMonitor(env.client, env.config, { model: 'watched', dataset: 'mon-late', runId: 'late-b', retrainOnTrigger: false, maxMetricDrop: 0.02 })
    ).result();
    expect(later.live!.rows).toBe(6000);
    expect(later.live!.value!).toBeLessThan(after.live!.value! - 0.02);
    expect(later.reasons.join('; ')).toMatch(/live rocAuc .*worse by/);

    // A label file without the key is refused, saying what it needs.
    const bad = path.join(env.inputDir, 'bad-labels.csv');
    fs.writeFileSync(bad, 'churned\ntrue\n');
    const refused = await rootFailure((await startLabels(env.client, env.config, { dataset: 'mon-late', source: bad, label: 'churned' })).result());
    expect(refused.type).toBe('SchemaMismatch');
    expect(refused.message).toContain('needs column(s) "id"');
  });

  it('schedules monitoring as a Temporal Schedule that runs the pass', async () => {
    const id = await scheduleModelWorkflow(env.client, env.config, { kind: 'monitor', model: 'watched', every: '1d', monitor: { dataset: 'mon-live', retrainOnTrigger: false } });
    expect(id).toBe(modelScheduleId('monitor', 'watched'));
    const handle = env.client.schedule.getHandle(id);
    try {
      const described = await handle.describe();
      expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'monitorModel' });
      expect(described.spec.intervals?.[0]?.every).toBe(86_400_000);
      await handle.trigger();
      const run = await waitFor('the scheduled run', async () => (await handle.describe()).info.recentActions[0]?.action.workflow);
      const result = await env.client.workflow.getHandle(run.workflowId).result();
      expect(result.dataset).toBe('mon-live');
      expect(path.basename(result.reportUri)).toMatch(/^scheduled-/);
      const retrainId = await scheduleModelWorkflow(env.client, env.config, { kind: 'retrain', model: 'watched', every: '7d' });
      const retrainSchedule = env.client.schedule.getHandle(retrainId);
      expect((await retrainSchedule.describe()).action).toMatchObject({ workflowType: 'scheduledRetrain' });
      // A scheduled run only asks: it signal-with-starts the model's one loop.
      await retrainSchedule.trigger();
      const asked = await waitFor('the scheduled retrain', async () => (await retrainSchedule.describe()).info.recentActions[0]?.action.workflow);
      expect(await env.client.workflow.getHandle(asked.workflowId).result()).toEqual({ workflowId: 'retrain:watched' });
      const loop = await retrainStatus(env.client, 'watched');
      expect(loop.triggers.at(-1)).toMatchObject({ reason: 'scheduled retraining' });
      await settleRetrain('watched');
      await retrainSchedule.delete();
    } finally {
      await handle.delete();
    }
  });
});

/** Queries of the retraining loop can race its continue-as-new: a failed probe is polled again. */
const waitFor = <T>(what: string, probe: () => Promise<T | undefined>) => until(what, probe, { timeoutMs: 60_000, retryErrors: true });

/** The file with its id column written as zero-padded text ("00300000"). */
async function zeroPadded(file: string): Promise<string> {
  const out = file.replace(/\.csv$/, '-padded.csv');
  const db = await openDuckDb();
  const conn = await db.connect();
  await conn.run(`COPY (SELECT printf('%08d', id) AS id, * EXCLUDE (id) FROM read_csv(${quoteString(file)})) TO ${quoteString(out)} (HEADER, FORCE_QUOTE (id))`);
  db.closeSync();
  return out;
}

/** Ends the loop: by now the model's scored rows have late labels, so it may improve on them; if it asks a person instead, the answer is abort. */
async function settleRetrain(model: string): Promise<void> {
  const settled = await waitFor('the loop to finish or escalate', async () => {
    const s = await retrainStatus(env.client, model);
    return s.phase === 'done' || s.phase === 'escalated' ? s : undefined;
  });
  if (settled.phase === 'escalated') await decideRetrain(env.client, { model, decision: 'abort', by: 'test', reason: 'schedule test' });
}
