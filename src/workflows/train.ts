import { proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { activityOptions } from './activity-options';
import { trainSearchAttributes } from '../api/train';
import { resolveTrainer, type TrainRequest, trainRequestSchema } from '../training/request';
import type { TrainedVersion } from '../training/train';
import { parseInput } from '../validation';

const { resolveDatasetVersion, registerModelVersion } = proxyActivities<Activities>(activityOptions.quick);

const { trainModelVersion } = proxyActivities<Activities>(activityOptions.modelWork);

/**
 * Dataset version + trainer config → a model version registered as `candidate` in the model's
 * registry. Training is idempotent (content-addressed version id) and registration is too, so a
 * crash anywhere ends with exactly one registered version.
 */
export async function trainModel(raw: TrainRequest): Promise<TrainedVersion> {
  const request = parseInput(trainRequestSchema, raw, 'train request');
  resolveTrainer(request.trainer);
  upsertSearchAttributes(trainSearchAttributes(request.model, request.dataset));
  const dataset = await resolveDatasetVersion({ dataset: request.dataset, version: request.datasetVersion });
  const result = await trainModelVersion.executeWithOptions({ summary: `Train ${request.trainer.kind} on ${request.dataset}@${dataset.version.slice(0, 8)}` }, [
    { request: { ...request, datasetVersion: dataset.version }, manifestUri: dataset.manifestUri },
  ]);
  await registerModelVersion({ summary: result.summary, asCandidate: true, by: `workflow ${workflowInfo().workflowId}` });
  return result;
}
