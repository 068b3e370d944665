import { type Client, WorkflowIdConflictPolicy, WorkflowNotFoundError } from '@temporalio/client';
import { userError } from '../errors';
import { didYouMean } from '../suggest';
import type { MlopsConfig } from '../config';
import { trainSearchAttributes, trainSummary, trainWorkflowId as trainIdOf } from '../api/train';
import { requestDigest } from '../store/hash';
import { resolveTrainer, type TrainRequest, type TrainRequestInput, trainRequestSchema } from '../training/request';
import { withAbsoluteCommandPaths } from '../training/command-paths';
import { parseInput } from '../validation';
import { parseRegistryWorkflowId, type RegistryState, registryStateQuery, registryWorkflowId } from '../api/registry';
import type { trainModel } from '../workflows';

/** `train:<model>:<run>`; the run defaults to a hash of the request, so the same request is one run. */
export function trainWorkflowId(request: TrainRequest, run?: string): string {
  return trainIdOf(request.model, run ?? requestDigest(request));
}

export async function startTraining(client: Client, config: MlopsConfig, input: TrainRequestInput, run?: string) {
  const parsed = parseInput(trainRequestSchema, input, 'train request');
  const request = { ...parsed, trainer: withAbsoluteCommandPaths(parsed.trainer) };
  resolveTrainer(request.trainer);
  return client.workflow.start<typeof trainModel>('trainModel', {
    taskQueue: config.taskQueue,
    workflowId: trainWorkflowId(request, run),
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    args: [request],
    typedSearchAttributes: trainSearchAttributes(request.model, request.dataset),
    staticSummary: trainSummary(request),
  });
}

export async function registryState(client: Client, model: string): Promise<RegistryState> {
  await assertModelExists(client, model);
  return client.workflow.getHandle(registryWorkflowId(model)).query(registryStateQuery);
}

/**
 * A model exists while its registry runs. Asked of the server (no worker needed) before a command
 * relies on one, so a mistyped name gets "no model named …" with the names that do exist.
 */
export async function assertModelExists(client: Client, model: string): Promise<void> {
  const running = await client.workflow
    .getHandle(registryWorkflowId(model))
    .describe()
    .then((d) => d.status.name === 'RUNNING')
    .catch((err: Error) => {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    });
  if (running) return;
  const known = await listModels(client);
  throw userError('InvalidInput', `No model named "${model}"${didYouMean(model, known, 'models')}; a model comes into being with \`mlops train ${model} --dataset …\``);
}

/** Names of the models that have a registry, from Temporal visibility. */
export async function listModels(client: Client): Promise<string[]> {
  const names: string[] = [];
  for await (const wf of client.workflow.list({ query: `WorkflowType = "modelRegistry" AND ExecutionStatus = "Running"` })) {
    const model = parseRegistryWorkflowId(wf.workflowId);
    if (model !== undefined) names.push(model);
  }
  return [...new Set(names)].sort();
}
