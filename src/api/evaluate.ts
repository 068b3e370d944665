import { stageAttributes } from './search';

/** The `shadowEvaluate` API: `evaluate:<model>:<candidate>:<hash8>` (a shadow evaluation without promotion). */
export function evaluateWorkflowId(model: string, candidateVersion: string, digest: string): string {
  return `evaluate:${model}:${candidateVersion}:${digest}`;
}

export const evaluateSearchAttributes = (model: string) => stageAttributes('evaluate', { model });

export function evaluateSummary(model: string, candidateVersion: string, baselineVersion?: string): string {
  return `Shadow evaluation of ${model}@${candidateVersion} against ${baselineVersion ?? 'production'}`;
}
