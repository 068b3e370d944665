import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rollbackProduction, startPromotion } from '../src/client/promote';
import { startRepair } from '../src/client/ingest';
import { startScoring } from '../src/client/score';
import type { DatasetManifest, DatasetVersionRef } from '../src/datasets/manifest';
import { registryState, startTraining } from '../src/client/train';
import { layout } from '../src/store/layout';
import { ingestChurnData } from './helpers/churn';
import { type TestEnv, startTestEnv } from './helpers/env';
import { rootFailure } from './helpers/failures';

/**
 * Artifacts changed on disk after they were recorded: every consumer checks the sha256 the
 * manifest or card holds, fails with an error that says what changed and what to do, and
 * production stays on the last good version.
 */
let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv('integrity');
  await ingestChurnData(env, { dataset: 'good', rows: 3000 });
});
afterAll(async () => {
  await env?.shutdown();
});

const train = async (model: string, dataset: string, nEstimators?: number) =>
  (
    await startTraining(env.client, env.config, {
      model,
      dataset,
      trainer: nEstimators ? { kind: 'gbdt', params: { nEstimators } } : { kind: 'logistic', params: {} },
    })
  ).result();
const promote = async (model: string, candidateVersion: string) =>
  (await startPromotion(env.client, env.config, { model, candidateVersion, gates: { thresholds: { rocAuc: { min: 0.5 } } } })).result();
const score = (model: string, dataset: string, runId: string) => startScoring(env.client, env.config, { model, dataset, runId }).then((h) => h.result());

/** Flips one byte in the middle: same size, same name, different content. */
function flipByte(file: string): void {
  const bytes = fs.readFileSync(file);
  bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
  fs.writeFileSync(file, bytes);
}

describe('a model file changed after registration', () => {
  it('is never promoted, and a changed production model refuses to score until rolled back', async () => {
    // v1 a weak 3-tree GBDT, v2 the logistic model the data was drawn from: v2 passes the gates.
    const v1 = (await train('guarded', 'good', 3)).summary;
    expect((await promote('guarded', v1.version)).phase).toBe('promoted');
    const v2 = (await train('guarded', 'good')).summary;

    // The candidate is altered between registration and promotion: rejected, production stays v1.
    const v2Bytes = fs.readFileSync(v2.onnxUri);
    flipByte(v2.onnxUri);
    const rejected = await promote('guarded', v2.version);
    expect(rejected.phase).toBe('rejected');
    expect(rejected.decision!.reason).toMatch(/changed after registration \(sha256 [0-9a-f]{12}…, registered [0-9a-f]{12}…\)/);
    expect((await registryState(env.client, 'guarded')).aliases.production).toBe(v1.version);
    fs.writeFileSync(v2.onnxUri, v2Bytes);
    const again = await promote('guarded', v2.version);
    expect(again.phase, again.decision?.reason).toBe('promoted');

    // Production itself is altered: scoring fails before writing anything and says how to recover.
    flipByte(v2.onnxUri);
    await ingestChurnData(env, { dataset: 'live', rows: 500, idOffset: 50_000, unlabeled: true });
    const failure = await rootFailure(score('guarded', 'live', 'after-tamper'));
    expect(failure.type).toBe('ModelLoadError');
    expect(failure.message).toMatch(/guarded@[0-9a-f]+: .*model\.onnx changed after registration.*mlops rollback guarded/);
    expect(fs.existsSync(path.join(env.store.path(...layout.predictionRuns('guarded')), 'after-tamper'))).toBe(false);

    // Rolling back puts the last good version back in service.
    await rollbackProduction(env.client, { model: 'guarded', by: 'test', reason: 'v2 file corrupted' });
    const run = await score('guarded', 'live', 'after-rollback');
    expect(run.run).toMatchObject({ rows: 500, modelVersion: v1.version });
  });
});

describe('a dataset snapshot changed after it was recorded', () => {
  it('is refused by training, evaluation and scoring with the same clear error', async () => {
    const base = (await train('watched', 'good')).summary;
    expect((await promote('watched', base.version)).phase).toBe('promoted');
    const other = (await train('watched', 'good', 8)).summary;
    const bad = await ingestChurnData(env, { dataset: 'bad', rows: 1000, idOffset: 70_000 });
    flipByte(bad.snapshotUri);
    const expected = new RegExp(
      `Dataset bad@${bad.version}: snapshot .*data\\.parquet changed after it was recorded \\(sha256 [0-9a-f]{12}…, manifest [0-9a-f]{12}…\\)\\. Versions are immutable; ` +
        `rebuild it from its raw copy \\(kept until .*\\) with \`mlops datasets repair bad@${bad.version}\`, or ingest the same source again \\(\`mlops ingest bad .*\\.csv --contract <the same contract>\`\\)`,
    );

    const training = await rootFailure(train('tampered', 'bad'));
    expect(training.type).toBe('DatasetIntegrityError');
    expect(training.message).toMatch(expected);
    expect(fs.existsSync(env.store.path('models', 'tampered', 'versions'))).toBe(false);

    const scoring = await rootFailure(score('watched', 'bad', 'on-bad'));
    expect(scoring.message).toMatch(expected);

    const evaluation = await rootFailure(startPromotion(env.client, env.config, { model: 'watched', candidateVersion: other.version, dataset: 'bad' }).then((h) => h.result()));
    expect(evaluation.message).toMatch(expected);
    expect((await registryState(env.client, 'watched')).aliases.production).toBe(base.version);
  });
});

describe('a damaged dataset version', () => {
  const repair = (dataset: string, version = 'latest') => startRepair(env.client, env.config, { dataset, version }).then((h) => h.result());
  const manifestOf = (ref: DatasetVersionRef) => JSON.parse(fs.readFileSync(ref.manifestUri, 'utf8')) as DatasetManifest;

  it('is rebuilt in place when the same source is ingested again, and says so in its manifest', async () => {
    const original = await ingestChurnData(env, { dataset: 'mended', rows: 800, idOffset: 80_000 });
    const recorded = manifestOf(original);
    flipByte(original.snapshotUri);
    expect((await rootFailure(train('on-mended', 'mended'))).type).toBe('DatasetIntegrityError');

    const again = await ingestChurnData(env, { dataset: 'mended', rows: 800, idOffset: 80_000 });
    expect(again).toMatchObject({ version: original.version, reused: true, repaired: { from: 'source', recordedSha256: recorded.snapshot.sha256 } });
    expect(again.repaired!.damage).toMatch(/^changed after it was recorded/);
    const mended = manifestOf(again);
    expect(mended.repairs).toEqual([again.repaired]);
    expect(mended.snapshot.sha256).toBe(again.repaired!.sha256);
    expect(mended.rows).toEqual(recorded.rows);
    expect((await train('on-mended', 'mended')).summary.dataset.version).toBe(original.version);
    // Intact now: ingesting again is the plain reuse it always was.
    const third = await ingestChurnData(env, { dataset: 'mended', rows: 800, idOffset: 80_000 });
    expect(third.repaired).toBeUndefined();
  });

  it('is rebuilt from its raw copy by `repairDataset`; an intact one is left alone', async () => {
    const original = await ingestChurnData(env, { dataset: 'from-raw', rows: 800, idOffset: 90_000 });
    fs.rmSync(original.snapshotUri);
    expect((await rootFailure(train('on-raw', 'from-raw'))).message).toMatch(/data\.parquet is missing\. Versions are immutable; rebuild it from its raw copy/);

    const outcome = await repair('from-raw', original.version.slice(0, 6));
    expect(outcome).toMatchObject({ dataset: 'from-raw', version: original.version, intact: false, repaired: { from: 'raw-copy', damage: 'is missing' } });
    expect(manifestOf(original).repairs).toHaveLength(1);
    expect((await train('on-raw', 'from-raw')).summary.dataset.version).toBe(original.version);
    expect(await repair('from-raw')).toMatchObject({ intact: true });
    expect(manifestOf(original).repairs).toHaveLength(1);
  });

  it('whose raw copy is gone cannot be repaired from it, and the error says what does work', async () => {
    const original = await ingestChurnData(env, { dataset: 'no-raw', rows: 500, idOffset: 95_000 });
    const manifest = manifestOf(original);
    flipByte(original.snapshotUri);
    fs.rmSync(manifest.raw.uri, { recursive: true });
    const refused = await rootFailure(repair('no-raw'));
    expect(refused.type).toBe('DatasetIntegrityError');
    expect(refused.message).toMatch(
      /Cannot repair no-raw@[0-9a-f]+ from its raw copy: .* is gone .*Ingest the same source again \(same contract\), which rebuilds the version in place/,
    );
    const training = await rootFailure(train('on-no-raw', 'no-raw'));
    expect(training.message).toMatch(/its raw copy is gone \(expired .*\): ingest the same source again \(`mlops ingest no-raw .*`\), which rebuilds it in place/);
    // …and that does work.
    expect((await ingestChurnData(env, { dataset: 'no-raw', rows: 500, idOffset: 95_000 })).repaired).toMatchObject({ from: 'source' });
    expect((await train('on-no-raw', 'no-raw')).summary.dataset.version).toBe(original.version);
  });
});
