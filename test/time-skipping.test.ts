import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acknowledgeUpdate, scoreStatusQuery } from '../src/api/score';
import { servingAlert } from '../src/workflows/serving-alert';
import { type TimeSkippingEnv, startTimeSkippingEnv } from './helpers/time-skipping';

/**
 * Timeouts and escalations at the lengths people set them (days), on Temporal's time-skipping
 * test server with the real worker: a timer fires as soon as nothing else runs, so a week-long
 * wait takes about a second. The real-server tests of the same paths (score, promote, retrain)
 * stay, with waits of a second or two.
 */
let env: TimeSkippingEnv;
beforeAll(async () => {
  env = await startTimeSkippingEnv('time-skipping');
});
afterAll(async () => {
  await env?.shutdown();
});

const DAY = 86_400_000;

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
