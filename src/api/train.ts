import type { TrainRequest } from '../training/request';
import { stageAttributes } from './search';

/** The `trainModel` API: `train:<model>:<run>`, the run a hash of the request unless named. */
export function trainWorkflowId(model: string, run: string): string {
  return `train:${model}:${run}`;
}

export const trainSearchAttributes = (model: string, dataset: string) => stageAttributes('train', { model, dataset });

export function trainSummary(request: Pick<TrainRequest, 'model' | 'trainer' | 'dataset' | 'datasetVersion'>): string {
  return `Train ${request.model} (${request.trainer.kind}) on ${request.dataset}@${request.datasetVersion}`;
}
