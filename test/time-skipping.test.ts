import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promotionStatusQuery } from '../src/api/promote';
import { retrainStatusQuery } from '../src/api/retrain';
import { acknowledgeUpdate, scoreStatusQuery } from '../src/api/score';
import { reviewPromotion, startPromotion } from '../src/client/promote';
import { requestRetrain } from '../src/client/retrain';
import { registryState, startTraining } from '../src/client/train';
import type { TrainRequestInput } from '../src/training/request';
import { servingAlert } from '../src/workflows/serving-alert';
import { type TimeSkippingEnv, startTimeSkippingEnv } from './helpers/time-skipping';
import { ingestChurn } from './helpers/training';
import { until } from './helpers/wait';

/**
 * Timeouts and escalations at the lengths people set them (days), on Temporal's time-skipping
 * test server with the real worker: a timer fires as soon as nothing else runs, so a week-long
 * wait takes about a second. The real-server tests of the same paths (score, promote, retrain)
 * stay, with waits of a second or two.
 */
let env: TimeSkippingEnv;
beforeAll(async () => {
  env = await startTimeSkippingEnv('time-skipping');
  await ingestChurn(env, 3000);
});
afterAll(async () => {
  await env?.shutdown();
});

const DAY = 86_400_000;

async function train(model: string, trainer: TrainRequestInput['trainer']): Promise<string> {
  return (await (await startTraining(env.steadyClient, env.config, { model, dataset: 'churn', trainer })).result()).summary.version;
}

function startAlert(runId: string) {
  return env.client.workflow.start(servingAlert, {
    taskQueue: env.config.taskQueue,
    workflowId: `score:m:${runId}`,
    args: [{ model: 'm', runId, modelVersion: 'abc', alert: 'too many flagged predictions', acknowledgeTimeout: '7d' }],
  });
}

describe('an alert nobody answers, in workflow time', () => {
  it('closes unacknowledged after its 7-day timeout, recorded as such', async () => {
    const from = await env.temporal.currentTimeMs();
    const result = await (await startAlert('week')).result();
    expect(result).toMatchObject({ phase: 'done', acknowledgement: { timedOut: true } });
    expect((await env.temporal.currentTimeMs()) - from).toBeGreaterThanOrEqual(7 * DAY);
  });

  it('an acknowledgement on day 3 closes it then, and a second one is refused', async () => {
    const handle = await startAlert('day3');
    const from = await env.temporal.currentTimeMs();
    await env.temporal.sleep('3d');
    expect((await handle.query(scoreStatusQuery)).phase).toBe('waiting-for-acknowledgement');
    await expect(handle.executeUpdate(acknowledgeUpdate, { args: [{ by: 'ops', reason: ' ' }] })).rejects.toThrow();
    await handle.executeUpdate(acknowledgeUpdate, { args: [{ by: 'ops', reason: 'seen, a feed was late' }] });
    const result = await handle.result();
    expect(result.acknowledgement).toMatchObject({ by: 'ops', reason: 'seen, a feed was late' });
    // Answered in workflow time on day 3, not at the timeout.
    const took = Date.parse((result.acknowledgement as { at: string }).at) - from;
    expect(took).toBeGreaterThanOrEqual(3 * DAY);
    expect(took).toBeLessThan(4 * DAY);
    await expect(handle.executeUpdate(acknowledgeUpdate, { args: [{ by: 'ops', reason: 'again' }] })).rejects.toThrow();
  });
});

describe('a promotion review nobody gives, in workflow time', () => {
  // With a registry running, time moves only by explicit sleeps (see steadyClient).
  it('is rejected by timeout after the default 24 hours, not before', async () => {
    await train('late', { kind: 'logistic', params: {} });
    const handle = await startPromotion(env.steadyClient, env.config, { model: 'late', policy: 'manual' });
    await until('the review wait', async () => ((await handle.query(promotionStatusQuery)).phase === 'waiting-for-review' ? true : undefined));
    await env.temporal.sleep('23h');
    expect((await handle.query(promotionStatusQuery)).phase).toBe('waiting-for-review');
    await env.temporal.sleep('2h');
    const result = await handle.result();
    expect(result.decision).toMatchObject({ outcome: 'rejected', by: 'timeout' });
    expect((await registryState(env.steadyClient, 'late')).aliases.production).toBeUndefined();
  });

  it('escalated at 24 hours, still waiting, then approved on day 2', async () => {
    const version = await train('late', { kind: 'logistic', params: { C: 0.5 } });
    const handle = await startPromotion(env.steadyClient, env.config, { model: 'late', policy: 'manual', onTimeout: 'escalate' });
    await until('the review wait', async () => ((await handle.query(promotionStatusQuery)).phase === 'waiting-for-review' ? true : undefined));
    const from = await env.temporal.currentTimeMs();
    await env.temporal.sleep('36h');
    const status = await handle.query(promotionStatusQuery);
    expect(status.phase).toBe('waiting-for-review');
    expect(Date.parse(status.escalatedAt!) - from).toBeGreaterThanOrEqual(DAY - 60_000);
    expect(Date.parse(status.escalatedAt!) - from).toBeLessThan(DAY + 3_600_000);
    await reviewPromotion(env.steadyClient, 'approve', { model: 'late', version, by: 'cy', reason: 'seen on day 2' });
    expect((await handle.result()).phase).toBe('promoted');
    expect((await registryState(env.steadyClient, 'late')).aliases.production).toBe(version);
  });
});

describe('a retraining loop nobody answers, in workflow time', () => {
  it('escalates, waits out the default 7-day escalation timeout, then gives up with production unchanged', async () => {
    const production = await train('stale', { kind: 'logistic', params: {} });
    expect((await (await startPromotion(env.steadyClient, env.config, { model: 'stale', gates: { thresholds: { rocAuc: { min: 0.5 } } } })).result()).phase).toBe('promoted');
    const handle = await requestRetrain(
      env.steadyClient,
      env.config.taskQueue,
      { model: 'stale', strategies: [{ features: ['color'] }], maxAttempts: 1, gates: { minImprovement: 0.005 } },
      { reason: 'weekly', by: 'schedule' },
    );
    const escalated = await until(
      'the escalation',
      async () => {
        const s = await handle.query(retrainStatusQuery);
        return s.phase === 'escalated' ? s : undefined;
      },
      { timeoutMs: 120_000, retryErrors: true },
    );
    expect(escalated.escalation!.reason).toMatch(/no improvement after 1 attempt/);
    await env.temporal.sleep('6d');
    expect((await handle.query(retrainStatusQuery)).phase).toBe('escalated');
    await env.temporal.sleep('2d');
    const result = await handle.result();
    expect(result).toMatchObject({ phase: 'done', outcome: 'gave-up', production, decision: { action: 'timeout', by: 'timeout' } });
    expect((await registryState(env.steadyClient, 'stale')).aliases.production).toBe(production);
  });
});
