import { rootApplicationFailure } from '../src/errors';
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPromotion } from '../src/client/promote';
import { registryState, startTraining } from '../src/client/train';
import type { DatasetManifest, DatasetVersionRef } from '../src/datasets/manifest';
import type { ModelCard } from '../src/models/card';
import { registryWorkflowId, rollbackUpdate, type SetAliasInput, setAliasUpdate } from '../src/api/registry';
import { type TestEnv, startTestEnv } from './helpers/env';
import { rejectionMessage, rootFailure } from './helpers/failures';
import { ingestChurn } from './helpers/training';

let env: TestEnv;
let dataset: DatasetVersionRef;
beforeAll(async () => {
  env = await startTestEnv('train');
  dataset = await ingestChurn(env);
});
afterAll(async () => {
  await env?.shutdown();
});

describe('trainModel workflow', () => {
  it('trains, writes an ONNX model with its card, and registers it as candidate', async () => {
    const handle = await startTraining(env.client, env.config, { model: 'churn', dataset: 'churn', trainer: { kind: 'logistic', params: {} } });
    expect(handle.workflowId).toMatch(/^train:churn:[0-9a-f]{8}$/);
    const { summary, reused } = await handle.result();
    expect(reused).toBe(false);
    expect(summary.metrics.test.rocAuc).toBeGreaterThan(0.8);
    const card = JSON.parse(fs.readFileSync(summary.cardUri, 'utf8')) as ModelCard;
    expect(card.features.map((f) => f.name)).toEqual(['x1', 'x2', 'color']);
    expect(card.onnx.inputs).toEqual([
      { name: 'x1', type: 'float' },
      { name: 'x2', type: 'float' },
      { name: 'color', type: 'string' },
    ]);
    expect(card.trainingProfile.map((p) => p.name)).toEqual(['x1', 'x2', 'color']);
    expect(card.expectedPredictionRange.min).toBeLessThanOrEqual(card.expectedPredictionRange.p50);
    expect(fs.statSync(summary.onnxUri).size).toBe(card.onnx.bytes);
    // Isotonic calibration on the test split: a least-squares monotone fit, so never a worse Brier score there.
    expect(card.calibration).toMatchObject({ method: 'isotonic', fittedOn: 'test', rows: card.split.test });
    expect(card.calibration!.quality.brierAfter).toBeLessThanOrEqual(card.calibration!.quality.brierBefore);
    const values = card.calibration!.map.value;
    expect(values.every((v, i) => i === 0 || v >= values[i - 1]!)).toBe(true);

    const state = await registryState(env.client, 'churn');
    expect(state.versions.map((v) => v.version)).toEqual([summary.version]);
    expect(state.aliases.candidate).toBe(summary.version);
  });

  it('trains gbdt next to it; the same request again registers nothing new', async () => {
    const gbdt = await (await startTraining(env.client, env.config, { model: 'churn', dataset: 'churn', trainer: { kind: 'gbdt', params: { nEstimators: 30 } } })).result();
    expect(gbdt.summary.metrics.test.rocAuc).toBeGreaterThan(0.8);
    const again = await (await startTraining(env.client, env.config, { model: 'churn', dataset: 'churn', trainer: { kind: 'gbdt', params: { nEstimators: 30 } } })).result();
    expect(again.reused).toBe(true);
    expect(again.summary.version).toBe(gbdt.summary.version);
    const state = await registryState(env.client, 'churn');
    expect(state.versions).toHaveLength(2);
    expect(state.aliases.candidate).toBe(gbdt.summary.version);
    expect(state.decisions.filter((d) => d.action === 'register')).toHaveLength(2);
  });

  it('reports the rows it leaves out and why, in its result and in the model card', async () => {
    // x2 is missing in about a tenth of the rows: as a label, those rows cannot be used.
    const manifest = JSON.parse(fs.readFileSync(dataset.manifestUri, 'utf8')) as DatasetManifest;
    const missing = manifest.profile.find((p) => p.name === 'x2')!.nulls;
    expect(missing).toBeGreaterThan(100);
    const { summary, rows } = await (
      await startTraining(env.client, env.config, { model: 'churn-x2', dataset: 'churn', label: 'x2', features: ['x1', 'color'], trainer: { kind: 'linear', params: {} } })
    ).result();
    const expected = { dataset: manifest.rows.accepted, used: manifest.rows.accepted - missing, dropped: [{ reason: 'label "x2" is missing', rows: missing }] };
    expect(rows).toEqual(expected);
    const card = JSON.parse(fs.readFileSync(summary.cardUri, 'utf8')) as ModelCard;
    expect(card.rows).toEqual(expected);
    expect(card.split.train + card.split.validation + card.split.test).toBe(expected.used);
    // A repeated request answers from the card, with the same account.
    expect(
      (
        await (
          await startTraining(env.client, env.config, { model: 'churn-x2', dataset: 'churn', label: 'x2', features: ['x1', 'color'], trainer: { kind: 'linear', params: {} } })
        ).result()
      ).rows,
    ).toEqual(expected);
  });

  it('refuses bad trainer input with clear errors', async () => {
    await expect(startTraining(env.client, env.config, { model: 'churn', dataset: 'churn', trainer: { kind: 'gbdt', params: { depth: 3 } } })).rejects.toThrow(
      /Invalid gbdt parameters[\s\S]*depth/,
    );
    const linear = await rootFailure(
      (await startTraining(env.client, env.config, { model: 'churn', dataset: 'churn', trainer: { kind: 'linear', params: {} } }, 'linear-on-bool')).result(),
    );
    expect(linear.message).toMatch(/Regression needs a numeric label/);
    // Raised inside the training thread: the failure keeps its type and message.
    const logistic = await rootFailure(
      (
        await startTraining(
          env.client,
          env.config,
          { model: 'churn-x1', dataset: 'churn', label: 'x1', features: ['x2', 'color'], trainer: { kind: 'logistic', params: {} } },
          'logistic-on-double',
        )
      ).result(),
    );
    expect(logistic.type).toBe('InvalidInput');
    expect(logistic.message).toMatch(/logistic trainer needs a categorical label/);
    const missing = await rootFailure((await startTraining(env.client, env.config, { model: 'x', dataset: 'nope' }, 'missing')).result());
    expect(missing.type).toBe('DatasetNotFound');
    await expect(startTraining(env.client, env.config, { model: '../x', dataset: 'churn' })).rejects.toThrow(/model name/);
  });
});

describe('registry updates', () => {
  it('validate their input and keep one production with a decision log', async () => {
    const registry = env.client.workflow.getHandle(registryWorkflowId('churn'));
    const [first, second] = (await registryState(env.client, 'churn')).versions.map((v) => v.version);
    const refused = (input: SetAliasInput) => rejectionMessage(registry.executeUpdate(setAliasUpdate, { args: [input] }));
    expect(await refused({ alias: 'production', version: 'ffffffffffffffff', by: 'ana', reason: 'x' })).toMatch(/no version "ffffffffffffffff"/);
    expect(await refused({ alias: 'production', version: first!, by: 'ana', reason: ' ' })).toMatch(/reason must be a non-empty text/);
    // Production moves by promotion (or rollback, or a forced promotion), not by a bare update.
    expect(await refused({ alias: 'production', version: first!, by: 'ana', reason: 'first model' })).toMatch(/production changes only through a promotion/);
    expect(await rejectionMessage(registry.executeUpdate(rollbackUpdate, { args: [{ by: 'ana', reason: 'oops' }] }))).toMatch(/no earlier production version/);

    const promote = async (version: string) =>
      (
        await (
          await startPromotion(env.client, env.config, { model: 'churn', candidateVersion: version, gates: { minImprovement: -1, maxSliceRegression: 1 }, by: 'ana' })
        ).result()
      ).phase;
    expect(await promote(first!)).toBe('promoted');
    expect(await promote(second!)).toBe('promoted');
    const rolledBack = await registry.executeUpdate(rollbackUpdate, { args: [{ by: 'bo', reason: 'latency regression' }] });
    expect(rolledBack.aliases.production).toBe(first);
    expect(rolledBack.decisions.slice(-1)[0]).toMatchObject({ action: 'rollback', version: first, previous: second, by: 'bo', reason: 'latency regression' });

    // A lost compare-and-set is a catalogued type callers branch on, not a message to search.
    const lost = await registry
      .executeUpdate(setAliasUpdate, { args: [{ alias: 'candidate', version: second!, by: 'ana', reason: 'x', expectedCurrent: 'aaaaaaaaaaaaaaaa' }] })
      .catch((err: unknown) => rootApplicationFailure(err));
    expect(lost).toMatchObject({ type: 'AliasChanged', nonRetryable: true });
  });
});
