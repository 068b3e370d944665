import { userError } from '../errors';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { executeChild, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { DatasetVersionRef } from '../datasets/manifest';
import type { ModelVersionSummary } from '../models/card';
import { type PipelineRequest, pipelineRequestSchema } from '../pipeline/request';
import { pipelineSearchAttributes } from '../api/pipeline';
import { childWorkflowId } from '../api/search';
import { parseInput } from '../validation';
import { ingestDataset } from './ingest';
import { promoteModel } from './promote';
import { type PromotionStatus, promoteWorkflowId } from '../api/promote';
import { trainModel } from './train';

export type TrainAndPromoteInput = PipelineRequest;

export interface TrainAndPromoteResult {
  dataset?: DatasetVersionRef;
  trained: { summary: ModelVersionSummary; reused: boolean };
  promotion: PromotionStatus;
}

/**
 * The end-to-end pipeline: ingest → train → shadow evaluation and promotion, each a child
 * workflow with its own history in the Web UI. The promotion child keeps the id
 * promote:<model>:<version>, so `mlops approve` finds it like any other promotion.
 */
export async function trainAndPromote(raw: TrainAndPromoteInput): Promise<TrainAndPromoteResult> {
  const input = parseInput(pipelineRequestSchema, raw, 'pipeline request');
  const { model } = input.train;
  const id = workflowInfo().workflowId;
  upsertSearchAttributes(pipelineSearchAttributes(model, input.ingest?.dataset ?? input.train.dataset));
  let train = input.train;
  let dataset: DatasetVersionRef | undefined;
  if (input.ingest) {
    dataset = await executeChild(ingestDataset, { args: [input.ingest], workflowId: childWorkflowId(id, 'ingest') });
    train = { ...train, dataset: dataset.dataset, datasetVersion: dataset.version };
  }
  const trained = await executeChild(trainModel, { args: [train], workflowId: childWorkflowId(id, 'train') });
  const version = trained.summary.version;
  const promotionId = promoteWorkflowId(model, version);
  const promotion = await executeChild(promoteModel, { args: [{ ...input.promote, model, candidateVersion: version }], workflowId: promotionId }).catch((err: unknown) => {
    // The same version is already being promoted (e.g. from `mlops promote`): say where, rather than fail obscurely.
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw userError('InvalidInput', `A promotion of ${model}@${version} is already running (workflow ${promotionId}); follow or review it there`);
    }
    throw err;
  });
  return { ...(dataset ? { dataset } : {}), trained, promotion };
}
