import { WithStartWorkflowOperation, WorkflowIdConflictPolicy } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryState, startTraining } from '../src/client/train';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startPromotion } from '../src/client/promote';
import { type ModelCard, type ModelVersionSummary, summaryOf as cardSummary } from '../src/models/card';
import { registerVersionUpdate, registryWorkflowId, setAliasUpdate } from '../src/api/registry';
import { KEPT_VERSIONS, type modelRegistry } from '../src/workflows/registry';
import { type TestEnv, startTestEnv } from './helpers/env';
import { rejectionMessage } from './helpers/failures';
import { MAX_PAYLOAD_BYTES, payloadsOf } from './helpers/histories';
import { ingestChurn } from './helpers/training';

/**
 * A registry that lives for years (a model retrained daily) must keep its carried state, and so
 * every payload it sends, bounded. 160 versions are registered; the state keeps the latest 100
 * plus whatever production and the rollback history still name.
 */
let env: TestEnv;
let real: ModelVersionSummary;
beforeAll(async () => {
  env = await startTestEnv('registry-bounds');
  await ingestChurn(env);
  real = (await (await startTraining(env.client, env.config, { model: 'daily', dataset: 'churn', trainer: { kind: 'gbdt', params: { nEstimators: 5 } } })).result()).summary;
});
afterAll(async () => {
  await env?.shutdown();
});

/**
 * The trained version again under another version id, as files in the store (the registry checks
 * them), with its card rewritten to match: a realistic size per version, without 160 trainings.
 */
const versionId = (i: number) => i.toString(16).padStart(16, '0');
function summaryOf(i: number): ModelVersionSummary {
  const version = versionId(i);
  const dir = env.store.modelVersionDir('daily', version);
  const onnxUri = path.join(dir, 'model.onnx');
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(real.onnxUri, onnxUri);
    const card = JSON.parse(fs.readFileSync(real.cardUri, 'utf8')) as ModelCard;
    const createdAt = new Date(Date.UTC(2026, 0, 1) + i * 86_400_000).toISOString();
    fs.writeFileSync(path.join(dir, 'card.json'), JSON.stringify({ ...card, version, createdAt, onnx: { ...card.onnx, uri: onnxUri } }));
  }
  return cardSummary(JSON.parse(fs.readFileSync(path.join(dir, 'card.json'), 'utf8')) as ModelCard, path.join(dir, 'card.json'));
}

async function register(i: number) {
  const startWorkflowOperation = new WithStartWorkflowOperation<typeof modelRegistry>('modelRegistry', {
    workflowId: registryWorkflowId('daily'),
    taskQueue: env.config.taskQueue,
    args: [{ model: 'daily' }],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
  });
  return env.client.workflow.executeUpdateWithStart(registerVersionUpdate, { args: [{ summary: summaryOf(i), asCandidate: true, by: 'test' }], startWorkflowOperation });
}

describe('a long-lived registry', () => {
  it(`keeps its state to ${KEPT_VERSIONS} versions plus the pinned ones, and every payload under 256 KB`, async () => {
    const registry = env.client.workflow.getHandle(registryWorkflowId('daily'));
    // Production moves by promotion: a shadow evaluation whose gates pass.
    const promote = async (i: number) => (await (await startPromotion(env.client, env.config, { model: 'daily', candidateVersion: versionId(i), by: 'test' })).result()).phase;
    await register(1);
    expect(await promote(1)).toBe('promoted');
    for (let i = 2; i <= 160; i++) await register(i);

    const state = await registryState(env.client, 'daily');
    expect(state.versions).toHaveLength(KEPT_VERSIONS);
    // Production is the oldest version and stays; the oldest unpinned ones left.
    expect(state.aliases.production).toBe(versionId(1));
    expect(state.versions[0]!.version).toBe(versionId(1));
    expect(state.versions[1]!.version).toBe(versionId(62));
    expect(state.versions.at(-1)!.version).toBe(versionId(160));
    expect(state.retiredVersions).toBe(60 + 1); // and the real one trained first
    expect(state.decisions).toHaveLength(200);

    const setProduction = (i: number) =>
      registry.executeUpdate(setAliasUpdate, {
        args: [{ alias: 'production', version: versionId(i), by: 'test', reason: 'daily promotion', evidence: { kind: 'gates-passed', reportUri: '' } }],
      });
    expect(await rejectionMessage(setProduction(10))).toMatch(/no version "000000000000000a".*keeps the latest 100 versions; train the same request again/);
    // Registering a retired version again brings it back.
    await register(10);
    expect(await promote(10)).toBe('promoted');
    expect((await registryState(env.client, 'daily')).aliases.production).toBe(versionId(10));

    const history = await registry.fetchHistory();
    const largest = Math.max(...payloadsOf(history).map((p) => p.data?.length ?? 0));
    expect(largest).toBeGreaterThan(50_000); // the state really is carried in payloads
    expect(largest).toBeLessThan(MAX_PAYLOAD_BYTES);
  }, 180_000);
});
