import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import { userError } from '../errors';
import type { Activities } from '../activities';
import { activityOptions } from './activity-options';
import type { EvaluationOutcome } from '../evaluation/outcome';
import { type ShadowEvaluateRequest, shadowEvaluateRequestSchema } from '../evaluation/request';
import { evaluateSearchAttributes } from '../api/evaluate';
import { versionOf } from '../api/registry';
import { parseInput } from '../validation';

const { readRegistry } = proxyActivities<Activities>(activityOptions.quick);
const { evaluateCandidate } = proxyActivities<Activities>(activityOptions.modelWork);

export type ShadowEvaluateInput = ShadowEvaluateRequest;

/** A shadow evaluation on its own, without promotion (`mlops evaluate`): the report and its verdict. */
export async function shadowEvaluate(raw: ShadowEvaluateInput): Promise<EvaluationOutcome & { candidate: string; baseline?: string }> {
  const input = parseInput(shadowEvaluateRequestSchema, raw, 'evaluation request');
  upsertSearchAttributes(evaluateSearchAttributes(input.model));
  const state = await readRegistry({ model: input.model });
  const candidateVersion = input.candidateVersion ?? state.aliases.candidate;
  if (!candidateVersion) throw userError('InvalidInput', `Model "${input.model}" has no candidate; pass the version to evaluate`);
  const find = (version: string) => {
    const v = versionOf(state, version);
    if (!v) throw userError('InvalidInput', `Model "${input.model}" has no version ${version}`);
    return v;
  };
  const candidate = find(candidateVersion);
  const baselineVersion = input.baselineVersion ?? state.aliases.production;
  if (baselineVersion === candidateVersion) {
    throw userError('InvalidInput', `${candidateVersion} is ${input.baselineVersion ? 'the version to compare with' : 'production'} itself; choose another baseline`);
  }
  const baseline = baselineVersion ? find(baselineVersion) : undefined;
  const outcome = await evaluateCandidate({ candidate, baseline, options: input.options });
  return { ...outcome, candidate: candidateVersion, ...(baseline ? { baseline: baseline.version } : {}) };
}
