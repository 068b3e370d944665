import type { SearchAttributePair } from '@temporalio/common';
import { MlopsDataset, MlopsModel, MlopsStage } from '../temporal/search-attributes';

/**
 * The search attributes a workflow is started with and upserts itself, in the order the Web UI
 * shows them: model, dataset, stage (each only where the workflow has one).
 */
export function stageAttributes(stage: string, of: { model?: string; dataset?: string }): SearchAttributePair[] {
  return [
    ...(of.model !== undefined ? [{ key: MlopsModel, value: of.model }] : []),
    ...(of.dataset !== undefined ? [{ key: MlopsDataset, value: of.dataset }] : []),
    { key: MlopsStage, value: stage },
  ];
}

/** A child workflow's id: its parent's, then the step (`<pipeline id>/train`, `<loop id>/attempt-3/train`). */
export function childWorkflowId(parentWorkflowId: string, ...steps: string[]): string {
  return [parentWorkflowId, ...steps].join('/');
}
