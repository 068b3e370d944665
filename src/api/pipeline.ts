import { stageAttributes } from './search';

/** The `trainAndPromote` API: `pipeline:<model>:<run>`; its children are `<id>/ingest`, `<id>/train` and the promotion's own id. */
export function pipelineWorkflowId(model: string, run: string): string {
  return `pipeline:${model}:${run}`;
}

/** The dataset is known to the workflow (what it ingests or trains on); a start names the model only. */
export const pipelineSearchAttributes = (model: string, dataset?: string) => stageAttributes('pipeline', { model, dataset });

export function pipelineSummary(model: string): string {
  return `Ingest → train → shadow → promote for model ${model}`;
}
