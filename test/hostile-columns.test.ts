import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../src/client/ingest';
import { startPromotion } from '../src/client/promote';
import { startScoring } from '../src/client/score';
import { startTraining } from '../src/client/train';
import { openDuckDb, queryRows } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { type TestEnv, startTestEnv } from './helpers/env';

/**
 * Column names an attacker or an unlucky spreadsheet might use, through the whole loop: ingest,
 * training (ONNX input names), shadow evaluation, promotion and scoring, where the prediction log
 * keeps each feature and its contribution under its exact name.
 */
const FEATURES = ['a"b', "it's", '"; DROP TABLE x; --', '名前', 'x y', 'SELECT', 'n'.repeat(200)];
let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv('hostile-columns');
});
afterAll(async () => {
  await env?.shutdown();
});

/** RFC 4180 quoting for the header. */
const csvField = (s: string) => `"${s.replaceAll('"', '""')}"`;

describe('hostile column names', () => {
  it('keep their exact names from the CSV header to the prediction log', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => {
      const xs = FEATURES.map((_, j) => Math.sin(i * (j + 1) * 0.37).toFixed(4));
      const logit = Number(xs[0]) * 3 - Number(xs[3]) * 2;
      return [i, ...xs, Math.sin(i * 12.9898) * 0.5 + 0.5 < 1 / (1 + Math.exp(-logit))].join(',');
    });
    const file = path.join(env.inputDir, 'hostile.csv');
    fs.writeFileSync(file, `id,${FEATURES.map(csvField).join(',')},label\n${rows.join('\n')}\n`);
    const contract = {
      columns: [{ name: 'id', type: 'integer' as const }, ...FEATURES.map((name) => ({ name, type: 'double' as const })), { name: 'label', type: 'boolean' as const }],
      key: ['id'],
      label: 'label',
    };
    const ref = await ingest(env.client, env.config, { dataset: 'hostile', source: file, contract });
    expect(ref.rows.accepted).toBe(3000);

    await (await startTraining(env.client, env.config, { model: 'hostile', dataset: 'hostile', trainer: { kind: 'gbdt', params: { nEstimators: 10 } } })).result();
    const promoted = await (await startPromotion(env.client, env.config, { model: 'hostile', gates: { thresholds: { rocAuc: { min: 0.5 } } } })).result();
    expect(promoted.phase, promoted.decision?.reason).toBe('promoted');
    const scored = await (await startScoring(env.client, env.config, { model: 'hostile', dataset: 'hostile', runId: 'r1', maxFlaggedShare: 1 })).result();
    expect(scored.run?.rows).toBe(3000);

    const db = await openDuckDb();
    try {
      const [first] = await queryRows<{ features: Record<string, number>; contributions: Record<string, number> }>(
        await db.connect(),
        `SELECT features, contributions FROM read_parquet([${scored.run!.parts.map(quoteString).join(', ')}]) ORDER BY row_number LIMIT 1`,
      );
      expect(Object.keys(first!.features)).toEqual(FEATURES);
      expect(Object.keys(first!.contributions)).toEqual([...FEATURES, '(bias)']);
      expect(first!.features['名前']).toBeCloseTo(Math.sin(0), 4);
    } finally {
      db.closeSync();
    }
  }, 180_000);
});
