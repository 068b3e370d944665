import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { reviewPromotion, startEvaluation, startPromotion } from '../src/client/promote';
import { registryState, startTraining } from '../src/client/train';
import type { ModelCard, ModelVersionSummary } from '../src/models/card';
import { type PromotionEvidence, registerVersionUpdate, registryWorkflowId, type SetAliasInput, setAliasUpdate } from '../src/api/registry';
import { promoteWorkflowId, promotionStatusQuery } from '../src/api/promote';
import { retrainWorkflowId } from '../src/api/retrain';
import { type TestEnv, startTestEnv } from './helpers/env';
import { rejectionMessage } from './helpers/failures';
import { ingestChurn } from './helpers/training';
import { until } from './helpers/wait';

/**
 * A Temporal client that skips the promotion path: registers a version whose files lie outside
 * the store, then sends the registry `setAlias production` (as first reported: accepted, and
 * `mlops score` used it). Only a promotion (gates passed, or a person's approval), a rollback or a
 * forced promotion may move production, and only versions that are the store's files register.
 */
let env: TestEnv;
let v1: ModelVersionSummary;
let v2: ModelVersionSummary;
let v1Report = '';
beforeAll(async () => {
  env = await startTestEnv('promotion-bypass');
  await ingestChurn(env);
  const train = async (params: Record<string, number>) =>
    (await (await startTraining(env.client, env.config, { model: 'churn', dataset: 'churn', trainer: { kind: 'logistic', params } })).result()).summary;
  v1 = await train({});
  const first = await (await startPromotion(env.client, env.config, { model: 'churn', candidateVersion: v1.version })).result();
  expect(first.phase).toBe('promoted');
  v1Report = first.evaluation!.reportUri;
  v2 = await train({ C: 0.01 });
});
afterAll(async () => {
  await env?.shutdown();
});

const registry = () => env.client.workflow.getHandle(registryWorkflowId('churn'));
const setProduction = (version: string, evidence?: PromotionEvidence, by = 'mallory') =>
  rejectionMessage(
    registry().executeUpdate(setAliasUpdate, { args: [{ alias: 'production', version, by, reason: 'trust me', ...(evidence ? { evidence } : {}) } satisfies SetAliasInput] }),
  );

/** A copy of v2's version folder under a new id at `dir` (the card rewritten to match), as a forger would make it. */
function forgeVersion(dir: string, version: string): ModelVersionSummary {
  const from = path.dirname(v2.cardUri);
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(from, 'model.onnx'), path.join(dir, 'model.onnx'));
  const card = JSON.parse(fs.readFileSync(v2.cardUri, 'utf8')) as ModelCard;
  fs.writeFileSync(path.join(dir, 'card.json'), JSON.stringify({ ...card, version, onnx: { ...card.onnx, uri: path.join(dir, 'model.onnx') } }));
  return { ...v2, version, cardUri: path.join(dir, 'card.json'), onnxUri: path.join(dir, 'model.onnx') };
}
const register = (summary: ModelVersionSummary) => rejectionMessage(registry().executeUpdate(registerVersionUpdate, { args: [{ summary, asCandidate: true, by: 'mallory' }] }));

describe('registerVersion sent straight to a registry', () => {
  it('refuses files outside the store, files that do not match their card, and links out of the store', async () => {
    const outside = forgeVersion(path.join(env.inputDir, 'evil'), 'eeeeeeeeeeeeeeee');
    expect(await register(outside)).toMatch(
      /Version churn@eeeeeeeeeeeeeeee must be registered from .*models\/churn\/versions\/eeeeeeeeeeeeeeee \(card\.json, model\.onnx\), where training publishes it/,
    );

    // In the right place, but the model is not the one its card describes.
    const planted = forgeVersion(env.store.modelVersionDir('churn', 'dddddddddddddddd'), 'dddddddddddddddd');
    const bytes = fs.readFileSync(planted.onnxUri);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 1, bytes.length - 1);
    fs.writeFileSync(planted.onnxUri, bytes);
    expect(await register(planted)).toMatch(/Model file .*model\.onnx has sha256 [0-9a-f]{12}…; its card says [0-9a-f]{12}…/);

    // In the right place, but a link to a file outside.
    const linked = forgeVersion(env.store.modelVersionDir('churn', 'cccccccccccccccc'), 'cccccccccccccccc');
    fs.rmSync(linked.onnxUri);
    fs.symlinkSync(path.join(env.inputDir, 'evil', 'model.onnx'), linked.onnxUri);
    expect(await register(linked)).toMatch(/Model file .*model\.onnx is outside the artifact store's/);

    // The store's files, but a registration that claims another hash.
    const copy = forgeVersion(env.store.modelVersionDir('churn', 'abababababababab'), 'abababababababab');
    expect(await register({ ...copy, onnxSha256: '0'.repeat(64) })).toMatch(/the registration 000000000000…/);
    // Files in the store are trusted (only workers write there); what is kept is their card, not the sender's claims.
    await registry().executeUpdate(registerVersionUpdate, {
      args: [{ summary: { ...copy, metrics: { validation: {}, test: { rocAuc: 0.999 } } }, asCandidate: false, by: 'ops' }],
    });
    const state = await registryState(env.client, 'churn');
    expect(state.versions.map((v) => v.version).sort()).toEqual([v1.version, v2.version, 'abababababababab'].sort());
    expect(state.versions.find((v) => v.version === 'abababababababab')!.metrics).toEqual(v2.metrics);
  });
});

describe('setAlias production sent straight to a registry', () => {
  it('is refused without evidence of a promotion, or with evidence that does not hold', async () => {
    expect(await setProduction(v2.version)).toMatch(
      /production changes only through a promotion \(`mlops promote`: gates passed, or a person's approval\), `mlops rollback`, or a retraining loop's force-promote/,
    );

    const copied = path.join(env.inputDir, 'report.json');
    fs.copyFileSync(v1Report, copied);
    expect(await setProduction(v2.version, { kind: 'gates-passed', reportUri: copied })).toMatch(/Evaluation report .*report\.json is outside the artifact store's/);
    expect(await setProduction(v2.version, { kind: 'gates-passed', reportUri: v1Report })).toMatch(new RegExp(`evaluated ${v1.version}, not ${v2.version}`));

    // A real evaluation of v2 against production that failed its gates.
    const strict = await (
      await startEvaluation(env.client, env.config, { model: 'churn', candidateVersion: v2.version, options: { gates: { thresholds: { rocAuc: { min: 0.9999 } } } } })
    ).result();
    expect(strict.passed).toBe(false);
    expect(await setProduction(v2.version, { kind: 'gates-passed', reportUri: strict.reportUri })).toMatch(/failed its gates \(threshold:rocAuc/);

    expect(await setProduction(v2.version, { kind: 'approved', reportUri: strict.reportUri, promotion: promoteWorkflowId('churn', v2.version) })).toMatch(
      new RegExp(`no workflow promote:churn:${v2.version} made that decision`),
    );
    expect(await setProduction(v2.version, { kind: 'forced', loop: retrainWorkflowId('churn') })).toMatch(/no workflow retrain:churn made that decision/);
    expect(await setProduction(v2.version, { kind: 'yolo' } as unknown as PromotionEvidence)).toMatch(/carries no evidence of one/);
    expect((await registryState(env.client, 'churn')).aliases.production).toBe(v1.version);
  });

  it("takes a person's approval only once it is recorded in the promotion, then moves", async () => {
    const handle = await startPromotion(env.client, env.config, { model: 'churn', candidateVersion: v2.version, policy: 'manual' });
    const waiting = await until('the promotion to wait for a review', async () => {
      const status = await handle.query(promotionStatusQuery);
      return status.phase === 'waiting-for-review' ? status : undefined;
    });
    expect(await setProduction(v2.version, { kind: 'approved', reportUri: waiting.evaluation!.reportUri, promotion: handle.workflowId })).toMatch(/records no approval of/);
    await reviewPromotion(env.client, 'approve', { model: 'churn', version: v2.version, by: 'ana', reason: 'report reviewed' });
    expect((await handle.result()).phase).toBe('promoted');
    const state = await registryState(env.client, 'churn');
    expect(state.aliases.production).toBe(v2.version);
    expect(state.decisions.filter((d) => d.by === 'mallory')).toEqual([]);
  });
});

describe('a client without the payload key, against an encrypted worker', () => {
  let sealed: TestEnv;
  let mallory: Client;
  beforeAll(async () => {
    sealed = await startTestEnv('promotion-bypass-sealed', { MLOPS_PAYLOAD_KEY: randomBytes(32).toString('base64') });
    await ingestChurn(sealed);
    await (await startTraining(sealed.client, sealed.config, { model: 'sealed', dataset: 'churn', trainer: { kind: 'logistic', params: {} } })).result();
    mallory = new Client({ connection: await Connection.connect({ address: inject('temporalAddress') }) });
  });
  afterAll(async () => {
    await mallory?.connection.close();
    await sealed?.shutdown();
  });

  it('is refused like any other: its plain payloads are read, the evidence does not hold', async () => {
    const [version] = (await registryState(sealed.client, 'sealed')).versions;
    const handle = mallory.workflow.getHandle(registryWorkflowId('sealed'));
    // Mallory cannot read the (encrypted) answer; the registry's state says what happened.
    await expect(handle.executeUpdate(setAliasUpdate, { args: [{ alias: 'production', version: version!.version, by: 'mallory', reason: 'no key needed' }] })).rejects.toThrow();
    await expect(
      handle.executeUpdate(registerVersionUpdate, {
        args: [{ summary: { ...version!, version: 'eeeeeeeeeeeeeeee', cardUri: '/tmp/card.json', onnxUri: '/tmp/model.onnx' }, asCandidate: true, by: 'mallory' }],
      }),
    ).rejects.toThrow();
    const state = await registryState(sealed.client, 'sealed');
    expect(state.aliases.production).toBeUndefined();
    expect(state.versions.map((v) => v.version)).toEqual([version!.version]);
    expect(state.decisions.filter((d) => d.by === 'mallory')).toEqual([]);
    // With the key, the refusal reads as it does anywhere.
    expect(
      await rejectionMessage(
        sealed.client.workflow
          .getHandle(registryWorkflowId('sealed'))
          .executeUpdate(setAliasUpdate, { args: [{ alias: 'production', version: version!.version, by: 'mallory', reason: 'x' }] }),
      ),
    ).toMatch(/production changes only through a promotion/);
  });
});
