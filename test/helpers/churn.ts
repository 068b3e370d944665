import * as path from 'node:path';
import { ingest } from '../../src/client/ingest';
import type { DatasetVersionRef } from '../../src/datasets/manifest';
import { openDuckDb } from '../../src/sql/duckdb';
import { quoteString } from '../../src/sql/quote';
import type { TestEnv } from './env';
import { CHURN_CONTRACT } from './training';

/**
 * Churn-like data with knobs for monitoring tests. `concept` 'a' is ingestChurn's relation
 * (x1 up, x2 down); 'b' adds a strong color effect, so a model trained on 'a' gets worse on 'b',
 * retraining on 'b' data helps, and a color-only model is still worse than the old one. 'c' reverses
 * x1's effect (churn now falls with x1): no amount of retraining on 'a' data predicts it.
 * `x2Shift` moves x2 (drift), `outliers` gives that many rows an x1 far outside the training range.
 */
export interface ChurnOptions {
  dataset: string;
  rows: number;
  idOffset?: number;
  concept?: 'a' | 'b' | 'c';
  x2Shift?: number;
  /** Multiplies x1 and x2 (default 1): below 1 moves rows towards the decision boundary, where the model is unsure. */
  shrink?: number;
  outliers?: number;
  /** Leave the label column out (data scored before its labels are known). */
  unlabeled?: boolean;
  seed?: number;
}

export async function writeChurnCsv(env: TestEnv, o: ChurnOptions): Promise<string> {
  const file = path.join(
    env.inputDir,
    `${o.dataset}-${o.idOffset ?? 0}-${o.rows}-${o.concept ?? 'a'}-${o.x2Shift ?? 0}-${o.shrink ?? 1}-${o.outliers ?? 0}-${o.unlabeled ? 'u' : 'l'}-${o.seed ?? 0}.csv`,
  );
  const s = o.seed ?? 0;
  const x1Effect = o.concept === 'c' ? -2 : 2;
  const logit = `${x1Effect} * x1 - 1.5 * coalesce(x2, 0)${o.concept === 'b' ? ` + CASE color WHEN 'red' THEN 2 WHEN 'blue' THEN -2 ELSE 0 END` : ''}`;
  const db = await openDuckDb();
  const conn = await db.connect();
  await conn.run(
    `COPY (SELECT id, x1, x2, color${o.unlabeled ? '' : ', churned'} FROM (
       SELECT id, x1, x2, color, (hash(id, 5, ${s}) % 1000000) / 1000000.0 < 1 / (1 + exp(-(${logit}))) AS churned FROM (
         SELECT i AS id,
                CASE WHEN i - ${o.idOffset ?? 0} < ${o.outliers ?? 0} THEN 500 + i % 7 ELSE (((hash(i, 1, ${s}) % 10000) / 10000.0) * 4 - 2) * ${o.shrink ?? 1} END AS x1,
                CASE WHEN hash(i, 2, ${s}) % 10 = 0 THEN NULL ELSE (((hash(i, 3, ${s}) % 10000) / 10000.0) * 4 - 2) * ${o.shrink ?? 1} + ${o.x2Shift ?? 0} END AS x2,
                ['red', 'green', 'blue'][(1 + hash(i, 4, ${s}) % 3)::INTEGER] AS color
         FROM range(${o.idOffset ?? 0}, ${(o.idOffset ?? 0) + o.rows}) t(i))))
     TO ${quoteString(file)} (HEADER)`,
  );
  db.closeSync();
  return file;
}

/** Writes and ingests churn data into `dataset` through the real workflow. */
export async function ingestChurnData(env: TestEnv, o: ChurnOptions): Promise<DatasetVersionRef> {
  const file = await writeChurnCsv(env, o);
  const contract = o.unlabeled ? { ...CHURN_CONTRACT, columns: CHURN_CONTRACT.columns.filter((c) => c.name !== 'churned'), label: undefined } : CHURN_CONTRACT;
  return ingest(env.client, env.config, { dataset: o.dataset, source: file, contract });
}
