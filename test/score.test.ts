import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listPending, startPromotion } from '../src/client/promote';
import { acknowledgeAlert, startScoring } from '../src/client/score';
import { startTraining } from '../src/client/train';
import { createLineageViews } from '../src/lineage/views';
import { openDuckDb } from '../src/sql/duckdb';
import { queryRecords, queryRows } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { scoreStatusQuery } from '../src/api/score';
import { ingest } from '../src/client/ingest';
import { ingestChurnData, writeChurnCsv } from './helpers/churn';
import { CHURN_CONTRACT } from './helpers/training';
import { type TestEnv, startTestEnv } from './helpers/env';
import { rootFailure } from './helpers/failures';
import { until } from './helpers/wait';

let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv('score');
  await ingestChurnData(env, { dataset: 'churn-train', rows: 6000 });
});
afterAll(async () => {
  await env?.shutdown();
});

async function productionModel(model: string, trainer: 'logistic' | 'gbdt'): Promise<string> {
  const trained = await (
    await startTraining(env.client, env.config, { model, dataset: 'churn-train', trainer: { kind: trainer, params: trainer === 'gbdt' ? { nEstimators: 20 } : {} } })
  ).result();
  const promoted = await (await startPromotion(env.client, env.config, { model, gates: { thresholds: { rocAuc: { min: 0.5 } } } })).result();
  expect(promoted.phase).toBe('promoted');
  return trained.summary.version;
}

async function logRows(parts: string[], where = 'true') {
  const db = await openDuckDb();
  const conn = await db.connect();
  try {
    return await queryRows<Record<string, unknown>>(conn, `SELECT * FROM read_parquet([${parts.map(quoteString).join(', ')}]) WHERE ${where} ORDER BY row_number`);
  } finally {
    db.closeSync();
  }
}

describe('batch scoring', () => {
  it('scores every row with the production version into a prediction log that explains each prediction', async () => {
    const version = await productionModel('scored', 'logistic');
    const live = await ingestChurnData(env, { dataset: 'churn-live', rows: 3000, idOffset: 100_000, unlabeled: true });
    const status = await (await startScoring(env.client, env.config, { model: 'scored', dataset: 'churn-live', runId: 'day-1', partRows: 1000, batchSize: 700 })).result();
    expect(status).toMatchObject({ phase: 'done', modelVersion: version, dataset: { name: 'churn-live', version: live.version } });
    const run = status.run!;
    expect(run).toMatchObject({ rows: 3000, outOfRange: 0, notANumber: 0, modelVersion: version, datasetVersion: live.version });
    expect(run.alert).toBeUndefined();
    expect(run.parts.length).toBeGreaterThan(1); // parts of at least 1000 rows each
    const rows = await logRows(run.parts);
    expect(rows).toHaveLength(3000);
    const first = rows[0]!;
    expect(first).toMatchObject({ row_number: 0, key: '100000', model: 'scored', model_version: version, run_id: 'day-1', dataset: 'churn-live', flag: null });
    expect(Object.keys(first.features as object)).toEqual(['x1', 'x2', 'color']);
    expect(['false', 'true']).toContain(first.predicted_label);
    // Contributions (log-odds) plus the bias add up to the logit of the output, row by row.
    for (const row of rows.slice(0, 200)) {
      const c = row.contributions as Record<string, number>;
      expect(Object.keys(c)).toEqual(['x1', 'x2', 'color', '(bias)']);
      const p = row.output as number;
      const sum = Object.values(c).reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - Math.log(p / (1 - p)))).toBeLessThan(1e-3);
      expect(row.predicted_label).toBe(p > 0.5 ? 'true' : 'false');
    }
    // Missing x2 is logged as NULL, not as the NaN the model was fed.
    expect(rows.some((r) => (r.features as Record<string, unknown>).x2 === null)).toBe(true);
  });

  it("flags outliers by the acceptable range (default: the card's, widened), raises an alert without losing the batch, and waits for an acknowledgement", async () => {
    await productionModel('ranged', 'logistic');
    await ingestChurnData(env, { dataset: 'churn-odd', rows: 2000, idOffset: 200_000, outliers: 100, unlabeled: true });
    const handle = await startScoring(env.client, env.config, { model: 'ranged', dataset: 'churn-odd', runId: 'odd-1' });
    const pending = await until('the scoring alert', async () => {
      const d = await handle.describe();
      if (d.status.name !== 'RUNNING') throw new Error(`scoring ended: ${JSON.stringify(await handle.result().catch((e: Error) => e.cause ?? e.message))}`);
      return (await listPending(env.client)).find((p) => p.workflowId === handle.workflowId);
    });
    expect(pending).toMatchObject({ type: 'scoreBatch', model: 'ranged', stage: 'score' });
    const status = await handle.query(scoreStatusQuery);
    expect(status.phase).toBe('waiting-for-acknowledgement');
    const run = status.run!;
    expect(run.rows).toBe(2000);
    expect(run.outOfRange).toBeGreaterThanOrEqual(100);
    expect(run.range.source).toBe('model card');
    expect(run.range.max).toBeLessThan(1);
    expect(run.alert).toMatch(/outside the acceptable range \[/);
    const flagged = await logRows(run.parts, 'flag IS NOT NULL');
    expect(flagged.length).toBe(run.outOfRange);
    // Every outlier row (x1 ≈ 500) is among the flagged ones.
    const outlierKeys = new Set(Array.from({ length: 100 }, (_, i) => String(200_000 + i)));
    expect(flagged.filter((r) => outlierKeys.has(r.key as string))).toHaveLength(100);

    await expect(acknowledgeAlert(env.client, { model: 'ranged', runId: 'odd-1', by: ' ', reason: 'ok' })).rejects.toThrow(/acknowledge refused: .*by/);
    const done = await acknowledgeAlert(env.client, { model: 'ranged', runId: 'odd-1', by: 'ana', reason: 'known test outliers' });
    expect(done.acknowledgement).toMatchObject({ by: 'ana', reason: 'known test outliers' });
    expect((await handle.result()).phase).toBe('done');
    await expect(acknowledgeAlert(env.client, { model: 'ranged', runId: 'odd-1', by: 'ana', reason: 'again' })).rejects.toThrow(/no open alert|not running|No scoring run/);
  });

  it('scores a file by ingesting it first, and refuses data that lacks a feature', async () => {
    const file = await writeChurnCsv(env, { dataset: 'churn-file', rows: 500, idOffset: 500_000, unlabeled: true });
    const status = await (
      await startScoring(env.client, env.config, {
        model: 'scored',
        dataset: 'churn-file',
        ingest: { dataset: 'churn-file', source: file, contract: { ...CHURN_CONTRACT, columns: CHURN_CONTRACT.columns.filter((c) => c.name !== 'churned'), label: undefined } },
        runId: 'from-file',
      })
    ).result();
    expect(status.run).toMatchObject({ rows: 500, dataset: 'churn-file' });
    expect(status.dataset!.version).toBe(status.run!.datasetVersion);
    // A run id names one run: starting it again is refused rather than answered with the old run.
    await expect(startScoring(env.client, env.config, { model: 'scored', dataset: 'churn-file', runId: 'from-file' })).rejects.toThrow(/already/i);

    await ingestChurnData(env, { dataset: 'churn-partial', rows: 300, idOffset: 600_000, unlabeled: true });
    const failure = await rootFailure(
      (async () => {
        const handle = await startScoring(env.client, env.config, { model: 'scored', dataset: 'churn-partial', runId: 'partial', range: { min: 0, max: 1 } });
        // Same contract as the training data: scores fine; now a dataset without x2.
        await handle.result();
        const other = await ingestWithout('x2');
        return (await startScoring(env.client, env.config, { model: 'scored', dataset: other, runId: 'no-x2' })).result();
      })(),
    );
    expect(failure.type).toBe('SchemaMismatch');
    expect(failure.message).toMatch(/needs column "x2"/);
  });

  it("the `predictions` SQL view keeps each model's features and contributions its own", async () => {
    // A second model on other features than `scored` (x1, x2, color), logging into the same store.
    await startTraining(env.client, env.config, { model: 'narrow', dataset: 'churn-train', features: ['x1'], trainer: { kind: 'logistic', params: {} } }).then((h) => h.result());
    expect((await (await startPromotion(env.client, env.config, { model: 'narrow', gates: { thresholds: { rocAuc: { min: 0.5 } } } })).result()).phase).toBe('promoted');
    await (await startScoring(env.client, env.config, { model: 'narrow', dataset: 'churn-live', runId: 'narrow-1' })).result();

    const db = await openDuckDb();
    try {
      const conn = await db.connect();
      await createLineageViews(conn, env.store);
      const shapes = await queryRecords<{ model: string; contributions: string[]; features: string[] }>(
        conn,
        "SELECT DISTINCT model, map_keys(contributions) AS contributions, json_keys(features) AS features FROM predictions WHERE model IN ('scored', 'narrow') ORDER BY model",
      );
      expect(shapes).toEqual([
        { model: 'narrow', contributions: ['x1', '(bias)'], features: ['x1'] },
        { model: 'scored', contributions: ['x1', 'x2', 'color', '(bias)'], features: ['x1', 'x2', 'color'] },
      ]);
      const [one] = await queryRecords<{ x1: number; c: number; features: Record<string, unknown>; contributions: Record<string, number> }>(
        conn,
        "SELECT CAST(features->>'x1' AS DOUBLE) AS x1, contributions['x1'] AS c, features, contributions FROM predictions WHERE model = 'narrow' AND row_number = 0",
      );
      expect(typeof one!.x1).toBe('number');
      expect(typeof one!.c).toBe('number');
      // Read back as plain objects, with only this model's names in them.
      expect(Object.keys(one!.features)).toEqual(['x1']);
      expect(Object.keys(one!.contributions)).toEqual(['x1', '(bias)']);
    } finally {
      db.closeSync();
    }
  });

  it('an unknown model is a clear error naming the models there are', async () => {
    await expect(startScoring(env.client, env.config, { model: 'scord', dataset: 'churn-live' })).rejects.toThrow(
      /^No model named "scord"; did you mean .*"scored".*\? \(models: .*scored/,
    );
  });
});

/** A dataset with the churn columns but one left out. */
async function ingestWithout(column: string): Promise<string> {
  const file = await writeChurnCsv(env, { dataset: `churn-no-${column}`, rows: 200, idOffset: 700_000, unlabeled: true });
  const columns = CHURN_CONTRACT.columns.filter((c) => c.name !== 'churned');
  const db = await openDuckDb();
  const conn = await db.connect();
  const out = file.replace(/\.csv$/, `-no-${column}.csv`);
  await conn.run(`COPY (SELECT * EXCLUDE (${column}) FROM read_csv(${quoteString(file)})) TO ${quoteString(out)} (HEADER)`);
  db.closeSync();
  await ingest(env.client, env.config, { dataset: `churn-no-${column}`, source: out, contract: { columns: columns.filter((c) => c.name !== column), key: ['id'] } });
  return `churn-no-${column}`;
}
