import { stageAttributes } from './search';

/** The `recordLabelsWorkflow` API: labels that arrived late for a dataset (`labels:<dataset>:<hash8>`). */
export function labelsWorkflowId(dataset: string, digest: string): string {
  return `labels:${dataset}:${digest}`;
}

export const labelsSearchAttributes = (dataset: string) => stageAttributes('labels', { dataset });

export function labelsSummary(dataset: string, source: string): string {
  return `Labels for ${dataset} from ${source}`;
}
