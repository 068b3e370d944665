import { randomBytes } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rootApplicationFailure } from '../src/errors';
import { registryWorkflowId } from '../src/api/registry';
import { type TestEnv, startTestEnv } from './helpers/env';

/**
 * Workflows started straight from a Temporal client, skipping the checks our client makes: each
 * must check its input with the same schema and fail at once — visibly, non-retryably, naming the
 * field — instead of running on a default, or failing its workflow task over and over while it
 * looks Running.
 */
let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv('workflow-input');
});
afterAll(async () => {
  await env?.shutdown();
});

const start = (type: string, args: unknown[], workflowId = `raw-${type}-${randomBytes(4).toString('hex')}`) =>
  env.client.workflow.start(type, { taskQueue: env.config.taskQueue, workflowId, args });

/** The failure the workflow ended with; fails the test if it is still running after 20 s. */
async function failureOf(handle: WorkflowHandle): Promise<{ type?: string; nonRetryable: boolean; message: string; taskFailures: number }> {
  const outcome = await Promise.race([
    handle.result().then(
      () => 'completed' as const,
      (err: unknown) => err,
    ),
    new Promise<'running'>((r) => setTimeout(() => r('running'), 20_000)),
  ]);
  const events = (await handle.fetchHistory()).events ?? [];
  const taskFailures = events.filter((e) => e.workflowTaskFailedEventAttributes).length;
  if (outcome === 'running') {
    await handle.terminate('test: still running after 20 s');
    throw new Error(`${handle.workflowId} still runs after 20 s (${taskFailures} failed workflow tasks)`);
  }
  if (outcome === 'completed') throw new Error(`${handle.workflowId} completed`);
  const root = rootApplicationFailure(outcome);
  if (!root) throw outcome as Error;
  return { type: root.type ?? undefined, nonRetryable: root.nonRetryable === true, message: root.message, taskFailures };
}

const cases: Array<[string, unknown[], RegExp]> = [
  ['promoteModel', [{ model: 'm', policy: 'yolo' }], /policy: Invalid option: expected one of "auto"\|"manual"\|"ask-on-failure"\|"canary"/],
  ['promoteModel', [{ model: 'm', approvalTimeout: 'forever' }], /approvalTimeout: a duration such as 30s, 15m, 24h, 7d/],
  ['promoteModel', [{ model: 'm', approvalTimeout: '99999999999999999999d' }], /approvalTimeout: at most/],
  ['ingestDataset', [{ dataset: 'd' }], /source: /],
  ['repairDataset', [{ dataset: 'd', version: 'latest; rm' }], /version: /],
  ['retentionSweep', [{ asOf: 'yesterday' }], /asOf: /],
  ['trainModel', [{ model: 'm', dataset: 'd', trainer: { kind: 'gbdt', params: { nEstimators: -1 } } }], /nEstimators: /],
  ['shadowEvaluate', [{ model: 'm', options: { batchSize: 0 } }], /options\.batchSize: /],
  ['scoreBatch', [{ model: 'm', runId: 'r', dataset: 'd', acknowledgeTimeout: 'forever' }], /acknowledgeTimeout: a duration/],
  ['retrainUntilImproved', [{ model: 'm', maxDuration: 'forever' }], /maxDuration: a duration/],
  ['monitorModel', [{ model: 'm', retrainQuietPeriod: 'soon' }], /retrainQuietPeriod: a duration/],
  ['monitorModel', [{ model: 'm', retrain: { maxAttempts: 0 } }], /retrain\.maxAttempts: /],
  ['recordLabelsWorkflow', [{ dataset: 'd' }], /source: /],
  ['scheduledRetrain', [{ model: 'm', retrain: { escalationTimeout: 'never' } }], /retrain\.escalationTimeout: a duration/],
  ['trainAndPromote', [{ train: { model: 'm', dataset: 'd' }, promote: { policy: 'yolo' } }], /promote\.policy: /],
  ['modelRegistry', [{ model: '../x' }], /model: model name must be 1-100 characters/],
];

describe('workflows started with invalid input', () => {
  it.each(cases)('%s %j fails at once, non-retryable, naming the field', async (type, args, field) => {
    const failure = await failureOf(await start(type, args));
    expect(failure.type).toBe('InvalidInput');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(field);
    expect(failure.taskFailures).toBe(0);
  });

  it('a registry refuses a state it did not carry over itself, and a name that is not its id', async () => {
    const forged = { model: 'forged', versions: [], aliases: { production: 'ffffffffffffffff' }, productionHistory: [], decisions: [] };
    const carried = await failureOf(await start('modelRegistry', [{ model: 'forged', state: forged }], registryWorkflowId('forged')));
    expect(carried.message).toMatch(/A registry's state is carried over by the registry itself \(continue-as-new\); start it with \{ model \} only/);
    const misnamed = await failureOf(await start('modelRegistry', [{ model: 'other' }], registryWorkflowId('forged')));
    expect(misnamed.message).toMatch(/Workflow registry:forged cannot hold model "other": the registry of "other" is registry:other/);
  });

  it('a retraining loop refuses a status it did not carry over itself', async () => {
    const status = {
      model: 'm',
      phase: 'escalated',
      attempts: [{ n: 1, at: '', strategy: {}, version: 'ffffffffffffffff', outcome: 'rejected', reason: '' }],
      attemptsMade: 1,
      maxAttempts: 3,
      budgetFrom: 0,
      budgetStartedAt: '',
      startedAt: '',
      triggers: [],
      runs: 1,
    };
    const failure = await failureOf(await start('retrainUntilImproved', [{ model: 'm' }, status]));
    expect(failure.type).toBe('InvalidInput');
    expect(failure.message).toMatch(/carried over by the loop itself/);
  });
});
