import * as fs from 'node:fs';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPromotion } from '../src/client/promote';
import { decideRetrain, requestRetrain, startLabels } from '../src/client/retrain';
import { startScoring } from '../src/client/score';
import { registryState, startTraining } from '../src/client/train';
import { resolveVersion } from '../src/datasets/catalog';
import { readVerifiedManifest } from '../src/datasets/integrity';
import type { DatasetManifest, DatasetVersionRef } from '../src/datasets/manifest';
import type { EvaluationReport } from '../src/evaluation/report';
import { readModelCard } from '../src/models/cards';
import { type WindowOptions, windowOptionsSchema } from '../src/retraining/request';
import { planRetrainingData } from '../src/retraining/window';
import { openDuckDb, queryRows } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { type RetrainStatus, retrainStatusQuery, retrainWorkflowId } from '../src/api/retrain';
import { ingestChurnData, writeChurnCsv } from './helpers/churn';
import { cliFor } from './helpers/cli';
import { type TestEnv, startTestEnv } from './helpers/env';
import { until } from './helpers/wait';

/**
 * A drift with a known answer: production learned that churn rises with x1 (concept a); in
 * production the relation reversed (concept c), the scored rows' outcomes arrived late, and 2000
 * of the 6000 live customers are also in the original training data. Retraining on the original
 * data cannot learn the reversal; a window with the labeled production rows can, and it must be
 * judged on labeled production rows neither model trained on.
 */
let env: TestEnv;
let original: DatasetVersionRef;
let live: DatasetVersionRef;
let db: DuckDBInstance;
let conn: DuckDBConnection;
const LIVE = { dataset: 'win-live', rows: 6000, idOffset: 2000, seed: 3, concept: 'c' as const };
const GATES = { minImprovement: 0.005 };

beforeAll(async () => {
  env = await startTestEnv('retrain-window');
  db = await openDuckDb();
  conn = await db.connect();
  original = await ingestChurnData(env, { dataset: 'win', rows: 4000 });
  live = await ingestChurnData(env, { ...LIVE, unlabeled: true });
  await (await startLabels(env.client, env.config, { dataset: 'win-live', source: await writeChurnCsv(env, LIVE), label: 'churned' })).result();
});
afterAll(async () => {
  db?.closeSync();
  await env?.shutdown();
});

/** A production model trained on the original data, which has scored the live snapshot. */
async function productionThatScored(model: string): Promise<string> {
  const trained = await (await startTraining(env.client, env.config, { model, dataset: 'win' })).result();
  const promoted = await (await startPromotion(env.client, env.config, { model, gates: { thresholds: { rocAuc: { min: 0.5 } } } })).result();
  expect(promoted.phase).toBe('promoted');
  await (await startScoring(env.client, env.config, { model, dataset: 'win-live', runId: `score-${model}`, maxFlaggedShare: 1 })).result();
  return trained.summary.version;
}

/** Waits until the loop is done or asks a person (a loop that cannot improve would otherwise wait for days). */
async function settled(model: string): Promise<RetrainStatus> {
  return until(
    `the retraining loop of ${model} to finish or escalate`,
    async () => {
      const s = await env.client.workflow.getHandle(retrainWorkflowId(model)).query(retrainStatusQuery);
      return s.phase === 'done' || s.phase === 'escalated' ? s : undefined;
    },
    { timeoutMs: 180_000, retryErrors: true },
  );
}

const keysOf = (uri: string) => `(SELECT CAST(id AS VARCHAR) AS id FROM read_parquet(${quoteString(uri)}))`;
async function count(sql: string): Promise<number> {
  const [row] = await queryRows<{ n: number }>(conn, `SELECT count(*) AS n FROM (${sql})`);
  return row!.n;
}
const manifestOf = (ref: { dataset: string; version: string }) => resolveVersion(env.store, `${ref.dataset}@${ref.version}`);
const reportOf = (markdownUri: string) => JSON.parse(fs.readFileSync(markdownUri.replace(/\.md$/, '.json'), 'utf8')) as EvaluationReport;

describe('retraining on labeled production data', () => {
  it('trained on the original data alone, the loop cannot improve on the new rows and says which rows judged; a person can switch the window', async () => {
    const production = await productionThatScored('kept');
    await requestRetrain(
      env.client,
      env.config.taskQueue,
      { model: 'kept', trainingWindow: 'original', strategies: [{ trainer: { kind: 'logistic', params: { C: 10 } } }], maxAttempts: 1, gates: GATES },
      { reason: 'drift', by: 'test' },
    );
    const s = await settled('kept');
    expect(s.phase, JSON.stringify(s.attempts)).toBe('escalated');
    const a = s.attempts[0]!;
    expect(a.outcome).toBe('rejected');
    expect(a.data).toMatchObject({
      window: 'original',
      trainedOn: { dataset: 'win', version: original.version, originalRows: 4000, productionRows: 0 },
      // Every labeled production row whose customer is not in the training data: 6000 − 2000.
      judgedOn: { dataset: 'kept.judging', rows: 4000, labeledProduction: true },
      labeledProduction: { dataset: 'kept.production', rows: 6000 },
    });
    // The old relation ranks the new rows worse than chance, and retraining on old rows changes nothing.
    expect(a.baselineValue!).toBeLessThan(0.5);
    expect(Math.abs(a.candidateValue! - a.baselineValue!)).toBeLessThan(0.005);
    const judged = reportOf(a.reportUri!).data!.judged;
    expect(judged).toMatchObject({ dataset: 'kept.judging', kind: 'judging-set', rowsJudged: 4000 });
    expect(await count(`SELECT id FROM ${keysOf((await manifestOf(judged)).snapshot.uri)} INTERSECT SELECT id FROM ${keysOf(original.snapshotUri)}`)).toBe(0);
    expect((await registryState(env.client, 'kept')).aliases.production).toBe(production);

    // A person switches the window: the next attempt trains on the labeled production rows too.
    await decideRetrain(env.client, {
      model: 'kept',
      decision: 'retry',
      by: 'ana',
      reason: 'use the labeled rows',
      overrides: { trainingWindow: 'original+production', maxAttempts: 1 },
    });
    const retried = await settled('kept');
    expect(retried.outcome, JSON.stringify(retried.attempts.at(-1))).toBe('improved');
    expect(retried.attempts.at(-1)!.data).toMatchObject({
      window: 'original+production',
      trainedOn: { dataset: 'kept.window' },
      judgedOn: { dataset: 'kept.judging', labeledProduction: true },
    });
    expect((await registryState(env.client, 'kept')).aliases.production).toBe(retried.attempts.at(-1)!.version);
  });

  it('by default trains on the original plus the labeled production rows, is judged on held-out production rows neither model saw, and improves', async () => {
    const production = await productionThatScored('learns');
    await requestRetrain(env.client, env.config.taskQueue, { model: 'learns', maxAttempts: 3, gates: GATES }, { reason: 'drift', by: 'test' });
    const s = await settled('learns');
    expect(s.outcome, JSON.stringify(s.attempts)).toBe('improved');
    const a = s.attempts.at(-1)!;
    const data = a.data!;
    expect(data).toMatchObject({
      window: 'original+production',
      trainedOn: { dataset: 'learns.window' },
      judgedOn: { dataset: 'learns.judging', labeledProduction: true },
      labeledProduction: { dataset: 'learns.production', rows: 6000 },
    });
    expect(a.candidateValue!).toBeGreaterThan(a.baselineValue! + 0.1);

    // The labeled production data: the scored snapshot joined with its late labels, with lineage, verifiable.
    const labeled = await manifestOf(data.labeledProduction!);
    await readVerifiedManifest(env.store, `${env.store.datasetVersionDir(labeled.dataset, labeled.version)}/manifest.json`);
    expect(labeled.lineage).toMatchObject({
      kind: 'labeled-production',
      model: 'learns',
      originalDataset: 'win',
      sources: [{ kind: 'labeled-production', dataset: 'win-live', version: live.version, rows: 6000 }],
      labelBatches: [{ dataset: 'win-live', rows: 6000 }],
      scoringRuns: [{ runId: 'score-learns', modelVersion: production, dataset: 'win-live', datasetVersion: live.version }],
    });
    expect(labeled.rows).toEqual({ read: 6000, accepted: 6000, rejected: 0 });
    expect(labeled.profile.find((p) => p.name === 'churned')!.count).toBe(6000);

    // The window and the judging rows: disjoint, and the judging rows are in neither model's training data.
    const window = await manifestOf(data.trainedOn);
    const judging = await manifestOf(data.judgedOn);
    const [w, j, o, p] = [window, judging, { snapshot: { uri: original.snapshotUri } }, labeled].map((m) => keysOf(m.snapshot.uri));
    expect(await count(`SELECT id FROM ${j} INTERSECT SELECT id FROM ${w}`)).toBe(0);
    expect(await count(`SELECT id FROM ${j} INTERSECT SELECT id FROM ${o}`)).toBe(0);
    // Every labeled production row trained, or judges, or is held out but its customer is in the original data.
    expect(await count(`(SELECT id FROM ${p} EXCEPT SELECT id FROM ${w}) EXCEPT SELECT id FROM ${j}`)).toBe(0);
    expect(await count(`SELECT id FROM ${p} EXCEPT SELECT id FROM ${w}`)).toBe(judging.rows.accepted);
    const { originalRows, productionRows } = data.trainedOn;
    expect(originalRows + productionRows).toBe(window.rows.accepted);
    // 2000 customers are in both; for those that trained, the window holds their production row.
    expect(await count(`SELECT id FROM ${w} INTERSECT SELECT id FROM ${p}`)).toBe(productionRows + originalRows - 2000);
    const sameX1 = (other: string) =>
      count(
        `SELECT w.id FROM read_parquet(${quoteString(window.snapshot.uri)}) w JOIN read_parquet(${quoteString(other)}) x USING (id) WHERE w.id BETWEEN 2000 AND 3999 AND w.x1 = x.x1 AND w.x2 IS NOT DISTINCT FROM x.x2`,
      );
    expect(await sameX1(live.snapshotUri)).toBe(4000 - originalRows);
    expect(await sameX1(original.snapshotUri)).toBe(2000 - (4000 - originalRows));
    expect(judging.rows.accepted).toBe(data.judgedOn.rows);
    // About 30% held out, of which the customers not in the original data judge.
    expect(1 - productionRows / 6000).toBeGreaterThan(0.25);
    expect(1 - productionRows / 6000).toBeLessThan(0.35);

    // The report says which rows trained and which judged.
    const report = reportOf(a.reportUri!);
    expect(report.dataset).toEqual({ name: 'learns.judging', version: judging.version });
    expect(report.data!.judged).toMatchObject({
      kind: 'judging-set',
      rowsJudged: judging.rows.accepted,
      sources: [{ kind: 'labeled-production', dataset: 'win-live', version: live.version, rows: judging.rows.accepted }],
      labelBatches: [{ dataset: 'win-live', rows: judging.rows.accepted }],
      scoringRuns: [{ runId: 'score-learns' }],
    });
    const [candidate, baseline] = report.data!.trained;
    expect(candidate).toMatchObject({
      model: 'candidate',
      dataset: 'learns.window',
      kind: 'training-window',
      sources: [
        { kind: 'ingested', dataset: 'win', version: original.version, rows: data.trainedOn.originalRows },
        { kind: 'labeled-production', dataset: 'win-live', version: live.version, rows: data.trainedOn.productionRows },
      ],
    });
    expect(baseline).toMatchObject({ model: 'baseline', modelVersion: production, dataset: 'win', kind: 'ingested', sources: [{ kind: 'ingested', dataset: 'win', rows: 4000 }] });
    const markdown = fs.readFileSync(a.reportUri!, 'utf8');
    expect(markdown).toContain(`(labeled production rows neither model trained on; see Data)`);
    expect(markdown).toMatch(
      new RegExp(
        `## Data[\\s\\S]*\\*\\*Judged on\\*\\* ${judging.rows.accepted} rows of learns\\.judging@${judging.version}[\\s\\S]*win-live@${live.version}: ${judging.rows.accepted} labeled production rows`,
      ),
    );

    // The new production model's card names the window, and `retrain-status` shows the rows.
    const state = await registryState(env.client, 'learns');
    expect(state.aliases.production).toBe(a.version);
    expect(state.versions.find((v) => v.version === a.version)!.dataset).toEqual({ name: 'learns.window', version: window.version });
    const shown = await cliFor(env.config)('retrain-status', 'learns');
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/original\+production/);
    expect(shown.stdout).toContain(
      `trained on learns.window@${window.version.slice(0, 8)} (${data.trainedOn.originalRows} original + ${data.trainedOn.productionRows} labeled production rows)`,
    );
    expect(shown.stdout).toContain(`judged on learns.judging@${judging.version.slice(0, 8)} (${judging.rows.accepted} labeled production rows neither model trained on)`);
    const lineage = await cliFor(env.config)('datasets', 'show', `learns.production@${labeled.version}`);
    expect(lineage.stdout).toContain('lineage (labeled-production of model learns)');
    expect(lineage.stdout).toContain(`win-live@${live.version}: 6000 labeled production rows (scored `);
    expect(lineage.stdout).toMatch(/scored by 1 run\(s\): score-learns/);
    const sql = await cliFor(env.config)('sql', "SELECT derived_as, count(*) AS n FROM datasets WHERE dataset LIKE 'learns.%' GROUP BY ALL ORDER BY 1", '--json');
    expect(JSON.parse(sql.stdout), sql.stderr).toEqual([
      { derived_as: 'judging-set', n: 1 },
      { derived_as: 'labeled-production', n: 1 },
      { derived_as: 'training-window', n: 1 },
    ]);
  });

  // From here on, production of `kept` was trained on a window: the original data is found through its lineage.
  describe("window options (the activity's data step on the real store)", () => {
    const plan = async (o: { trainingWindow?: 'original' | 'original+production' | 'production'; window?: Partial<WindowOptions>; now?: Date }) => {
      const state = await registryState(env.client, 'kept');
      const production = await readModelCard(
        env.store,
        state.versions.find((v) => v.version === state.aliases.production)!,
      );
      return planRetrainingData({
        conn,
        store: env.store,
        production,
        trainingWindow: o.trainingWindow ?? 'original+production',
        window: windowOptionsSchema.parse(o.window ?? {}),
        now: o.now ?? new Date(),
      });
    };

    it('is content-addressed: the same inputs give the same versions', async () => {
      const first = await plan({});
      const again = await plan({});
      expect(again.trainedOn.version).toBe(first.trainedOn.version);
      expect(again.judgedOn.version).toBe(first.judgedOn.version);
      expect(again.labeledProduction!.version).toBe(first.labeledProduction!.version);
      expect(first.window).toBe('original+production');
    });

    it('trains on labeled production rows alone with `production`, and refuses it without them', async () => {
      const only = await plan({ trainingWindow: 'production' });
      expect(only.trainedOn).toMatchObject({ dataset: 'kept.window', originalRows: 0 });
      expect(only.trainedOn.productionRows).toBe(only.trainedOn.rows);
      // Judged on the held-out rows that production's training data does not have either.
      const judging = await manifestOf(only.judgedOn);
      expect(await count(`SELECT id FROM ${keysOf(judging.snapshot.uri)} INTERSECT SELECT id FROM ${keysOf(original.snapshotUri)}`)).toBe(0);

      // Scoring runs older than maxAge do not count: nothing labeled is left.
      const later = new Date(Date.now() + 3 * 3600_000);
      const refused = await plan({ trainingWindow: 'production', window: { maxAge: '1h' }, now: later }).catch((e: Error) => e);
      expect(refused).toMatchObject({
        type: 'InvalidInput',
        message: expect.stringContaining('trainingWindow "production" needs labeled production rows: no labeled production data'),
      });
      const nothing = await plan({ trainingWindow: 'original', window: { maxAge: '1h' }, now: later }).catch((e: Error) => e);
      expect(nothing).toMatchObject({ type: 'DatasetNotFound', message: expect.stringContaining('No version of win is younger than window.maxAge 1h') });
    });

    it('falls back to the original data and its test split when too few labeled rows are left to judge on', async () => {
      const few = await plan({ window: { minJudgingRows: 100_000 } });
      expect(few).toMatchObject({
        window: 'original',
        trainedOn: { dataset: 'win', version: original.version, productionRows: 0 },
        judgedOn: { dataset: 'win', version: original.version, labeledProduction: false },
      });
      expect(few.notes.join('\n')).toMatch(/trained on the original data only: only \d+ labeled production rows to judge on .*minJudgingRows = 100000/);
      expect(few.notes.join('\n')).toMatch(/judged on the test split of win@/);
    });

    it('spans several versions of the original data, one row per key, the newest first', async () => {
      const newer = await ingestChurnData(env, { dataset: 'win', rows: 1000, idOffset: 3500, seed: 9 });
      const spanning = await plan({ trainingWindow: 'original', window: { originalVersions: 2 } });
      const window: DatasetManifest = await manifestOf(spanning.trainedOn);
      // 4000 + 1000 rows, 500 customers in both: 4500 rows.
      expect(spanning.trainedOn).toMatchObject({ dataset: 'kept.window', originalRows: 4500, productionRows: 0, rows: 4500 });
      expect(window.lineage!.sources).toHaveLength(2);
      expect(window.lineage!.sources).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ kind: 'ingested', dataset: 'win', version: newer.version, rows: 1000 }),
          expect.objectContaining({ kind: 'ingested', dataset: 'win', version: original.version, rows: 3500 }),
        ]),
      );
      // The rows of the customers in both versions are the newer version's.
      const [row] = await queryRows<{ x1: number }>(conn, `SELECT x1 FROM read_parquet(${quoteString(window.snapshot.uri)}) WHERE id = 3600`);
      const [fromNewer] = await queryRows<{ x1: number }>(conn, `SELECT x1 FROM read_parquet(${quoteString(newer.snapshotUri)}) WHERE id = 3600`);
      expect(row!.x1).toBe(fromNewer!.x1);

      // With the labeled production rows too: every production row that trains wins over both versions.
      const both = await plan({ window: { originalVersions: 2 } });
      const mixed = await manifestOf(both.trainedOn);
      expect(mixed.lineage!.sources.map((s) => s.kind).sort()).toEqual(['ingested', 'ingested', 'labeled-production']);
      expect(both.trainedOn.originalRows + both.trainedOn.productionRows).toBe(mixed.rows.accepted);
      const asScored = await count(
        `SELECT w.id FROM read_parquet(${quoteString(mixed.snapshot.uri)}) w JOIN read_parquet(${quoteString(live.snapshotUri)}) x USING (id) WHERE w.x1 = x.x1 AND w.x2 IS NOT DISTINCT FROM x.x2`,
      );
      expect(asScored).toBe(both.trainedOn.productionRows);
      expect(await count(`SELECT id FROM ${keysOf((await manifestOf(both.judgedOn)).snapshot.uri)} INTERSECT SELECT id FROM ${keysOf(mixed.snapshot.uri)}`)).toBe(0);
    });

    it('leaves a damaged scored snapshot out, saying so, and retrains on the rest', async () => {
      const saved = fs.readFileSync(live.snapshotUri);
      fs.appendFileSync(live.snapshotUri, 'x');
      try {
        const damaged = await plan({});
        expect(damaged).toMatchObject({ window: 'original', trainedOn: { dataset: 'win', productionRows: 0 }, judgedOn: { labeledProduction: false } });
        expect(damaged.labeledProduction).toBeUndefined();
        expect(damaged.notes.join('\n')).toContain(`Dataset win-live@${live.version}: snapshot ${live.snapshotUri} changed after it was recorded`);
        expect(damaged.notes.join('\n')).toMatch(/its rows are left out/);
      } finally {
        fs.writeFileSync(live.snapshotUri, saved);
      }
    });

    it('refuses a window it does not know, naming the ones it does', async () => {
      const cli = await cliFor(env.config)('retrain', 'kept', '--window', 'recent');
      expect(cli.code).toBe(1);
      expect(cli.stderr).toMatch(/trainingWindow[\s\S]*"original"[\s\S]*"original\+production"[\s\S]*"production"/);
      const holdout = await cliFor(env.config)('retrain', 'kept', '--holdout', '1');
      expect(holdout.code).toBe(1);
      expect(holdout.stderr).toMatch(/window\.holdoutFraction/);
    });
  });
});
