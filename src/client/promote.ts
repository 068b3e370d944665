import { type Client, WorkflowIdConflictPolicy } from '@temporalio/client';
import type { MlopsConfig } from '../config';
import type { IngestRequestInput } from '../datasets/request';
import { userError } from '../errors';
import { type EvaluationOptionsInput, evaluationOptionsSchema, type PromoteRequestInput, promoteRequestSchema } from '../evaluation/request';
import { evaluateSearchAttributes, evaluateSummary, evaluateWorkflowId } from '../api/evaluate';
import { pipelineSearchAttributes, pipelineSummary, pipelineWorkflowId } from '../api/pipeline';
import { requestDigest } from '../store/hash';
import { resolveTrainer, type TrainRequestInput, trainRequestSchema } from '../training/request';
import { withAbsoluteCommandPaths } from '../training/command-paths';
import { parseInput } from '../validation';
import type { promoteModel, shadowEvaluate, trainAndPromote } from '../workflows';
import { rollbackUpdate, type RegistryState, registryWorkflowId } from '../api/registry';
import { approveUpdate, type PromotionStatus, promoteSearchAttributes, promoteSummary, promoteWorkflowId, promotionStatusQuery, rejectUpdate } from '../api/promote';
import { normalizeIngestRequest } from './ingest';
import { resultOrState } from './settle';
import { assertModelExists, registryState } from './train';
import { refusalAsUserError } from '../temporal/updates';
import { abortCanaryUpdate, advanceCanaryUpdate, type CanaryStatus, pauseCanaryUpdate } from '../api/online';

export type CanaryAction = 'pause' | 'advance' | 'abort';
const CANARY_UPDATES = { pause: pauseCanaryUpdate, advance: advanceCanaryUpdate, abort: abortCanaryUpdate } as const;

/**
 * pause / advance / abort the model's running canary (found among its running promotions, or the
 * promotion of `version`); the workflow's validator refuses one that does not fit its state.
 */
export async function steerCanary(
  client: Client,
  action: CanaryAction,
  input: { model: string; version?: string; by: string; reason: string },
): Promise<{ workflowId: string; canary: CanaryStatus }> {
  await assertModelExists(client, input.model);
  let workflowId = input.version ? promoteWorkflowId(input.model, input.version) : undefined;
  if (!workflowId) {
    const running: Array<{ workflowId: string; phase: string }> = [];
    for await (const wf of client.workflow.list({ query: `WorkflowType = "promoteModel" AND MlopsModel = "${input.model}" AND ExecutionStatus = "Running"` })) {
      const status = await client.workflow.getHandle(wf.workflowId, wf.runId).query(promotionStatusQuery);
      running.push({ workflowId: wf.workflowId, phase: status.phase });
    }
    const inCanary = running.filter((r) => r.phase === 'canary');
    if (inCanary.length > 1) throw userError('InvalidInput', `Model "${input.model}" has ${inCanary.length} canaries running; name the version (--version)`);
    workflowId = (inCanary[0] ?? (running.length === 1 ? running[0] : undefined))?.workflowId;
    if (!workflowId) {
      throw userError(
        'InvalidInput',
        running.length
          ? `No canary of "${input.model}" is running (its promotions: ${running.map((r) => `${r.workflowId} ${r.phase}`).join(', ')}); name one with --version`
          : `No promotion of "${input.model}" is running; start one with \`mlops promote ${input.model} --policy canary\``,
      );
    }
  }
  const update = client.workflow.getHandle(workflowId).executeUpdate(CANARY_UPDATES[action], { args: [{ by: input.by, reason: input.reason }] });
  const canary = await refusalAsUserError(update, 'InvalidInput', `canary ${action} refused: `).catch((err: Error) => {
    if (err.name === 'WorkflowNotFoundError') throw userError('InvalidInput', `No promotion ${workflowId} is running`);
    throw err;
  });
  return { workflowId, canary };
}

/** Starts promoteModel for the given version, or for the registry's current candidate. */
export async function startPromotion(client: Client, config: MlopsConfig, input: PromoteRequestInput) {
  const request = parseInput(promoteRequestSchema, input, 'promotion request');
  await assertModelExists(client, request.model);
  const candidateVersion = request.candidateVersion ?? (await registryState(client, request.model)).aliases.candidate;
  if (!candidateVersion) throw userError('InvalidInput', `Model "${request.model}" has no candidate; train one or pass the version`);
  return client.workflow.start<typeof promoteModel>('promoteModel', {
    taskQueue: config.taskQueue,
    workflowId: promoteWorkflowId(request.model, candidateVersion),
    // A promotion of this version already running: attach to it rather than evaluate twice.
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    args: [{ ...request, candidateVersion }],
    typedSearchAttributes: promoteSearchAttributes(request.model),
    staticSummary: promoteSummary(request.model, candidateVersion, request.policy, request.canary?.steps),
  });
}

/** Starts a shadow evaluation without promotion: `evaluate:<model>:<candidate>:<hash8>`. */
export async function startEvaluation(
  client: Client,
  config: MlopsConfig,
  input: { model: string; candidateVersion?: string; baselineVersion?: string; options: EvaluationOptionsInput },
) {
  const options = parseInput(evaluationOptionsSchema, input.options, 'evaluation options');
  await assertModelExists(client, input.model);
  const candidateVersion = input.candidateVersion ?? (await registryState(client, input.model)).aliases.candidate;
  if (!candidateVersion) throw userError('InvalidInput', `Model "${input.model}" has no candidate; pass --version`);
  const args = { model: input.model, candidateVersion, ...(input.baselineVersion ? { baselineVersion: input.baselineVersion } : {}), options };
  return client.workflow.start<typeof shadowEvaluate>('shadowEvaluate', {
    taskQueue: config.taskQueue,
    workflowId: evaluateWorkflowId(input.model, candidateVersion, requestDigest(args)),
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    args: [args],
    typedSearchAttributes: evaluateSearchAttributes(input.model),
    staticSummary: evaluateSummary(input.model, candidateVersion, input.baselineVersion),
  });
}

/** approve / reject sent to a waiting promotion; a refusal by its validator becomes a clear error. */
export async function reviewPromotion(
  client: Client,
  decision: 'approve' | 'reject',
  input: { model: string; version: string; by: string; reason: string },
): Promise<PromotionStatus> {
  const handle = client.workflow.getHandle(promoteWorkflowId(input.model, input.version));
  const update = handle.executeUpdate(decision === 'approve' ? approveUpdate : rejectUpdate, { args: [{ version: input.version, by: input.by, reason: input.reason }] });
  return refusalAsUserError(update, 'InvalidInput', `${decision} refused: `).catch((err: Error) => {
    if (err.name === 'WorkflowNotFoundError') throw userError('InvalidInput', `No promotion of ${input.model}@${input.version} is running`);
    throw err;
  });
}

/**
 * What a review produced: the promotion's end (promoted, or rejected — also when an approved
 * candidate fails its load check), or a new question when production changed meanwhile and the
 * candidate was evaluated again.
 */
export async function reviewOutcome(
  client: Client,
  decision: 'approve' | 'reject',
  input: { model: string; version: string; by: string; reason: string },
): Promise<PromotionStatus> {
  await reviewPromotion(client, decision, input);
  const handle = client.workflow.getHandle(promoteWorkflowId(input.model, input.version));
  const settled = await resultOrState<PromotionStatus, PromotionStatus>(handle, promotionStatusQuery, (s) => s.phase === 'waiting-for-review');
  return settled.done ? settled.result : settled.state;
}

export async function rollbackProduction(client: Client, input: { model: string; by: string; reason: string }): Promise<RegistryState> {
  await assertModelExists(client, input.model);
  const update = client.workflow.getHandle(registryWorkflowId(input.model)).executeUpdate(rollbackUpdate, { args: [{ by: input.by, reason: input.reason }] });
  return refusalAsUserError(update, 'InvalidInput', 'rollback refused: ');
}

export interface PendingItem {
  workflowId: string;
  type: string;
  model?: string;
  stage?: string;
  startedAt: string;
}

/** Everything that waits for a person: running workflows with MlopsNeedsAttention = true (a visibility query). */
export async function listPending(client: Client): Promise<PendingItem[]> {
  const items: PendingItem[] = [];
  for await (const wf of client.workflow.list({ query: `MlopsNeedsAttention = true AND ExecutionStatus = "Running"` })) {
    const attrs = wf.searchAttributes as Record<string, unknown[] | undefined>;
    items.push({
      workflowId: wf.workflowId,
      type: wf.type,
      model: attrs.MlopsModel?.[0] as string | undefined,
      stage: attrs.MlopsStage?.[0] as string | undefined,
      startedAt: wf.startTime.toISOString(),
    });
  }
  return items.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

export interface PipelineInput {
  ingest?: IngestRequestInput;
  train: TrainRequestInput;
  promote: Omit<PromoteRequestInput, 'model' | 'candidateVersion'>;
}

/** Starts trainAndPromote (`pipeline:<model>:<hash8>` unless a run id is given). */
export async function startPipeline(client: Client, config: MlopsConfig, input: PipelineInput, run?: string) {
  const parsedTrain = parseInput(trainRequestSchema, input.train, 'train request');
  const train = { ...parsedTrain, trainer: withAbsoluteCommandPaths(parsedTrain.trainer) };
  resolveTrainer(train.trainer);
  const { model: _m, candidateVersion: _c, ...promote } = parseInput(promoteRequestSchema, { ...input.promote, model: train.model }, 'promotion options');
  const ingest = input.ingest ? normalizeIngestRequest(input.ingest) : undefined;
  const args = { ...(ingest ? { ingest } : {}), train, promote };
  return client.workflow.start<typeof trainAndPromote>('trainAndPromote', {
    taskQueue: config.taskQueue,
    workflowId: pipelineWorkflowId(train.model, run ?? requestDigest(args)),
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    args: [args],
    typedSearchAttributes: pipelineSearchAttributes(train.model),
    staticSummary: pipelineSummary(train.model),
  });
}
