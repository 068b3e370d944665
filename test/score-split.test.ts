import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { startPromotion } from '../src/client/promote';
import { startScoring } from '../src/client/score';
import { startTraining } from '../src/client/train';
import type { ScoreRun } from '../src/scoring/runs';
import { openDuckDb, queryRows } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { layout } from '../src/store/layout';
import { ingestChurnData } from './helpers/churn';
import { type TestEnv, startTestEnv } from './helpers/env';
import { killWorker, spawnWorker, stopWorker, waitForWork } from './helpers/worker-process';

/**
 * A run split into parts (one activity per row range, any worker) publishes the same prediction
 * log as the one-activity run: same rows, same predictions, same flags, same summary.
 */
let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv('score-split');
  await ingestChurnData(env, { dataset: 'churn-train', rows: 6000 });
  await (await startTraining(env.client, env.config, { model: 'split', dataset: 'churn-train', trainer: { kind: 'logistic', params: {} } })).result();
  const promoted = await (await startPromotion(env.client, env.config, { model: 'split', gates: { thresholds: { rocAuc: { min: 0.5 } } } })).result();
  expect(promoted.phase).toBe('promoted');
});
afterAll(async () => {
  await env?.shutdown();
});

/** The log's rows with what differs between two runs by design (run id, time) left out, in row order. */
async function logOf(run: ScoreRun): Promise<Array<Record<string, unknown>>> {
  const db = await openDuckDb();
  try {
    const conn = await db.connect();
    return await queryRows<Record<string, unknown>>(conn, `SELECT * EXCLUDE (run_id, scored_at) FROM read_parquet([${run.parts.map(quoteString).join(', ')}]) ORDER BY row_number`);
  } finally {
    db.closeSync();
  }
}

async function activityCounts(handle: WorkflowHandle): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const e of (await handle.fetchHistory()).events ?? []) {
    const type = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (type) counts[type] = (counts[type] ?? 0) + 1;
  }
  return counts;
}

/** The same run, as the one-activity path and the split path each publish it. */
function expectSameRun(split: ScoreRun, whole: ScoreRun): void {
  const comparable = (r: ScoreRun) => ({
    rows: r.rows,
    outOfRange: r.outOfRange,
    notANumber: r.notANumber,
    flaggedShare: r.flaggedShare,
    range: r.range,
    summary: r.summary,
    alert: r.alert,
    min: r.output.min,
    max: r.output.max,
  });
  expect(comparable(split)).toEqual(comparable(whole));
  expect(split.output.mean).toBeCloseTo(whole.output.mean!, 12);
}

describe('a scoring run split into parts', () => {
  it('publishes one log identical to the one-activity run: same rows, predictions and flags', async () => {
    await ingestChurnData(env, { dataset: 'churn-live', rows: 5003, idOffset: 100_000, outliers: 40, unlabeled: true });
    const request = { model: 'split', dataset: 'churn-live', maxFlaggedShare: 1, partRows: 1000, batchSize: 700 };
    const wholeHandle = await startScoring(env.client, env.config, { ...request, runId: 'whole' });
    const splitHandle = await startScoring(env.client, env.config, { ...request, runId: 'in-parts', splitRows: 1000 });
    const [whole, split] = await Promise.all([wholeHandle.result(), splitHandle.result()]);
    expect(await activityCounts(wholeHandle)).toMatchObject({ scoreDatasetVersion: 1 });
    expect(await activityCounts(splitHandle)).toMatchObject({ scoreDatasetPart: 6, finishScoreRun: 1 });
    expect(await activityCounts(splitHandle)).not.toHaveProperty('scoreDatasetVersion');

    expect(split.run!.rows).toBe(5003);
    expect(split.run!.outOfRange).toBeGreaterThanOrEqual(40);
    expectSameRun(split.run!, whole.run!);
    // Parts of at most partRows rows each, numbered across the run as one activity would number them.
    expect(split.run!.parts.map((p) => p.split('/').pop())).toEqual(Array.from({ length: split.run!.parts.length }, (_, i) => `part-${String(i).padStart(5, '0')}.parquet`));
    expect(split.run!.parts.length).toBeGreaterThanOrEqual(6);
    const [splitLog, wholeLog] = await Promise.all([logOf(split.run!), logOf(whole.run!)]);
    expect(splitLog).toHaveLength(5003);
    expect(splitLog).toEqual(wholeLog);
    // run.json and the page were published with the parts; the staging is gone.
    expect(
      fs
        .readdirSync(split.run!.logUri)
        .filter((f) => !f.startsWith('part-'))
        .sort(),
    ).toEqual(['report.html', 'run.json']);
    expect(fs.existsSync(env.store.path(...layout.scoringStaging('split', 'in-parts')))).toBe(false);
  });

  it('a part whose worker is killed mid-part is scored again by another worker, and the log has every row once', async () => {
    await ingestChurnData(env, { dataset: 'churn-big', rows: 120_000, idOffset: 1_000_000, outliers: 10, unlabeled: true });
    const request = { model: 'split', dataset: 'churn-big', maxFlaggedShare: 1, partRows: 5_000 };
    const whole = await (await startScoring(env.client, env.config, { ...request, runId: 'big-whole' })).result();

    const taskQueue = `score-split-${randomBytes(4).toString('hex')}`;
    const config = { ...env.config, taskQueue };
    const first = spawnWorker(config, taskQueue);
    const handle = await startScoring(env.client, config, { ...request, runId: 'big-parts', splitRows: 30_000 });
    // Kill -9 as soon as a part has started scoring into its private folder.
    const tmpRoot = env.store.tmpDir();
    const scoring = () => fs.existsSync(tmpRoot) && fs.readdirSync(tmpRoot).some((d) => d.startsWith('score-split-big-parts-part-'));
    await waitForWork(scoring, first, 'scoring a part');
    await killWorker(first.child);
    expect(fs.existsSync(env.store.path(...layout.predictionRuns('split'), 'big-parts'))).toBe(false);

    const second = spawnWorker(config, taskQueue);
    try {
      const split = await handle.result();
      const events = (await handle.fetchHistory()).events ?? [];
      const partAttempts = events.flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt ?? 1] : []));
      expect(Math.max(...partAttempts)).toBeGreaterThanOrEqual(2);
      expect(await activityCounts(handle)).toMatchObject({ scoreDatasetPart: 4, finishScoreRun: 1 });
      expectSameRun(split.run!, whole.run!);
      const [splitLog, wholeLog] = await Promise.all([logOf(split.run!), logOf(whole.run!)]);
      expect(splitLog).toHaveLength(120_000);
      expect(new Set(splitLog.map((r) => r.row_number)).size).toBe(120_000);
      expect(splitLog).toEqual(wholeLog);
    } finally {
      await stopWorker(second.child);
    }
  }, 240_000);
});
