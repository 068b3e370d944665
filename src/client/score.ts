import { type Client, WorkflowIdReusePolicy } from '@temporalio/client';
import type { MlopsConfig } from '../config';
import { userError } from '../errors';
import { type ScoreRequestInput, scoreRequestSchema } from '../scoring/request';
import { parseInput } from '../validation';
import type { scoreBatch } from '../workflows';
import { acknowledgeUpdate, type ScoreStatus, scoreSearchAttributes, scoreSummary, scoreWorkflowId } from '../api/score';
import { normalizeIngestRequest } from './ingest';
import { assertModelExists } from './train';
import { refusalAsUserError } from '../temporal/updates';

/** A run id people can read and sort: <dataset>-<UTC timestamp>. */
export function defaultRunId(dataset: string, now = new Date()): string {
  return `${dataset}-${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`;
}

/** Starts scoreBatch: `score:<model>:<runId>`. A run id names one run: using it again is refused. */
export async function startScoring(client: Client, config: MlopsConfig, input: Omit<ScoreRequestInput, 'runId'> & { runId?: string }) {
  const ingest = input.ingest ? normalizeIngestRequest(input.ingest) : undefined;
  const request = parseInput(scoreRequestSchema, { ...input, ...(ingest ? { ingest } : {}), runId: input.runId ?? defaultRunId(input.dataset) }, 'score request');
  await assertModelExists(client, request.model);
  return client.workflow.start<typeof scoreBatch>('scoreBatch', {
    taskQueue: config.taskQueue,
    workflowId: scoreWorkflowId(request.model, request.runId),
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    args: [request],
    typedSearchAttributes: scoreSearchAttributes(request.model),
    staticSummary: scoreSummary(request),
  });
}

/** Acknowledges, then returns the run as the acknowledgement left it: done, with who answered. */
export async function acknowledgeAndFinish(client: Client, input: { model: string; runId: string; by: string; reason: string }): Promise<ScoreStatus> {
  await acknowledgeAlert(client, input);
  return client.workflow.getHandle(scoreWorkflowId(input.model, input.runId)).result() as Promise<ScoreStatus>;
}

export async function acknowledgeAlert(client: Client, input: { model: string; runId: string; by: string; reason: string }): Promise<ScoreStatus> {
  const update = client.workflow.getHandle(scoreWorkflowId(input.model, input.runId)).executeUpdate(acknowledgeUpdate, { args: [{ by: input.by, reason: input.reason }] });
  return refusalAsUserError(update, 'InvalidInput', 'acknowledge refused: ').catch((err: Error) => {
    if (err.name === 'WorkflowNotFoundError') throw userError('InvalidInput', `No scoring run ${input.runId} of ${input.model} is running`);
    throw err;
  });
}
