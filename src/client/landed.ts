import type { Client } from '@temporalio/client';
import { dismissLandedUpdate, type LandedAnswerInput, type LandedStatus, landedStatusQuery, retryLandedUpdate } from '../api/landing';
import { userError } from '../errors';
import { refusalAsUserError } from '../temporal/updates';

export interface LandedChain {
  workflowId: string;
  status: string;
  startedAt: string;
  /** The chain's own status (its query), for chains that still answer one. */
  landed?: LandedStatus;
}

/** The landing chains of a model (or all), newest first: the files taken, where each got to, which wait for a person. */
export async function listLandedChains(client: Client, options: { model?: string; limit?: number } = {}): Promise<LandedChain[]> {
  const model = options.model ? ` AND MlopsModel = '${options.model.replace(/'/g, "''")}'` : '';
  const chains: LandedChain[] = [];
  for await (const wf of client.workflow.list({ query: `WorkflowType = 'landedFile'${model}`, pageSize: 100 })) {
    const landed =
      wf.status.name === 'RUNNING'
        ? await client.workflow
            .getHandle(wf.workflowId)
            .query(landedStatusQuery)
            .catch(() => undefined)
        : undefined;
    chains.push({ workflowId: wf.workflowId, status: wf.status.name, startedAt: wf.startTime.toISOString(), ...(landed ? { landed } : {}) });
    if (chains.length >= (options.limit ?? 50)) break;
  }
  return chains.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

/** Sends `retry` or `dismiss` to a failed chain; its validator refuses one that is not waiting. */
export async function answerLandedChain(client: Client, workflowId: string, answer: 'retry' | 'dismiss', input: LandedAnswerInput): Promise<LandedStatus> {
  if (!workflowId.startsWith('landed:')) throw userError('InvalidInput', `${workflowId} is not a landing chain (their ids start with landed:; see \`mlops landed list\`)`);
  const update = client.workflow.getHandle(workflowId).executeUpdate(answer === 'retry' ? retryLandedUpdate : dismissLandedUpdate, { args: [input] });
  return refusalAsUserError(update, 'InvalidInput', `${answer} refused: `).catch((err: Error) => {
    if (err.name === 'WorkflowNotFoundError') throw userError('InvalidInput', `No landing chain ${workflowId} is running`);
    throw err;
  });
}
