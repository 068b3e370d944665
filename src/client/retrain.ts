import * as path from 'node:path';
import { type Client, WorkflowIdReusePolicy } from '@temporalio/client';
import type { MlopsConfig } from '../config';
import { userError } from '../errors';
import { type MonitorRequestInput, monitorRequestSchema } from '../monitoring/request';
import { type RetrainRequestInput, retrainRequestSchema, type RetryOverrides, retryOverridesSchema } from '../retraining/request';
import { datasetName } from '../store/names';
import { labelsSearchAttributes, labelsSummary, labelsWorkflowId } from '../api/labels';
import { monitorSearchAttributes, monitorSummary, monitorWorkflowId } from '../api/monitor';
import { withAbsoluteStrategyPaths } from '../training/command-paths';
import { parseInput } from '../validation';
import type { monitorModel, recordLabelsWorkflow, retrainUntilImproved } from '../workflows';
import {
  abortUpdate,
  RETRAIN_WORKFLOW_TYPE,
  acceptCurrentUpdate,
  forcePromoteUpdate,
  type RetrainStatus,
  retrainRequestedSignal,
  retrainStartOptions,
  retrainStatusQuery,
  retrainWorkflowId,
  retryUpdate,
} from '../api/retrain';
import { requestDigest } from '../store/hash';
import { defaultRunId } from './score';
import { resultOrState } from './settle';
import { assertModelExists } from './train';
import { refusalAsUserError } from '../temporal/updates';

/**
 * Starts the model's retraining loop, or adds the trigger to the one already running
 * (signal-with-start on `retrain:<model>`): one loop per model, however many triggers.
 */
export async function requestRetrain(client: Client, taskQueue: string, input: RetrainRequestInput, trigger: { reason: string; by: string }) {
  const parsed = parseInput(retrainRequestSchema, { ...input, reason: trigger.reason, by: trigger.by }, 'retrain request');
  const request = { ...parsed, ...(parsed.strategies ? { strategies: withAbsoluteStrategyPaths(parsed.strategies) } : {}) };
  await assertModelExists(client, request.model);
  return client.workflow.signalWithStart<typeof retrainUntilImproved, [{ reason: string; by: string }]>(RETRAIN_WORKFLOW_TYPE, {
    ...retrainStartOptions(request.model),
    taskQueue,
    args: [request],
    signal: retrainRequestedSignal,
    signalArgs: [trigger],
  });
}

export type RetrainDecision = 'retry' | 'accept-current' | 'force-promote' | 'abort';

export async function decideRetrain(
  client: Client,
  input: { model: string; decision: RetrainDecision; by: string; reason: string; version?: string; overrides?: RetryOverrides },
): Promise<RetrainStatus> {
  const handle = client.workflow.getHandle(retrainWorkflowId(input.model));
  const base = { by: input.by, reason: input.reason };
  let update: Promise<RetrainStatus>;
  switch (input.decision) {
    case 'retry': {
      const parsed = input.overrides ? parseInput(retryOverridesSchema, input.overrides, 'retry overrides') : undefined;
      const overrides = parsed?.strategies ? { ...parsed, strategies: withAbsoluteStrategyPaths(parsed.strategies) } : parsed;
      update = handle.executeUpdate(retryUpdate, { args: [{ ...base, ...(overrides ? { overrides } : {}) }] });
      break;
    }
    case 'accept-current':
      update = handle.executeUpdate(acceptCurrentUpdate, { args: [base] });
      break;
    case 'force-promote':
      if (!input.version) throw userError('InvalidInput', 'force-promote needs the version to promote (--version)');
      update = handle.executeUpdate(forcePromoteUpdate, { args: [{ ...base, version: input.version }] });
      break;
    case 'abort':
      update = handle.executeUpdate(abortUpdate, { args: [base] });
      break;
  }
  return refusalAsUserError(update, 'InvalidInput', `${input.decision} refused: `).catch((err: Error) => {
    if (err.name === 'WorkflowNotFoundError') throw userError('InvalidInput', `No retraining loop of ${input.model} is running`);
    throw err;
  });
}

/**
 * A decision and the state it produced: `retry` goes on attempting with the new budget (the
 * update's answer); the others end the loop — or, when a force-promote fails, the loop asks again.
 */
export async function decideAndSettle(client: Client, input: Parameters<typeof decideRetrain>[1]): Promise<RetrainStatus> {
  const answered = await decideRetrain(client, input);
  if (input.decision === 'retry') return answered;
  const settled = await resultOrState<RetrainStatus, RetrainStatus>(client.workflow.getHandle(retrainWorkflowId(input.model)), retrainStatusQuery, (s) => s.phase === 'escalated');
  return settled.done ? settled.result : settled.state;
}

export async function retrainStatus(client: Client, model: string): Promise<RetrainStatus> {
  return client.workflow
    .getHandle(retrainWorkflowId(model))
    .query(retrainStatusQuery)
    .catch((err: Error) => {
      if (err.name === 'WorkflowNotFoundError') throw userError('InvalidInput', `Model ${model} has no retraining loop (start one with \`mlops retrain ${model}\`)`);
      throw err;
    });
}

/** One monitoring pass: `monitor:<model>:<runId>`. */
export async function startMonitor(
  client: Client,
  config: MlopsConfig,
  input: Omit<MonitorRequestInput, 'runId'> & { runId?: string; retrain?: Omit<RetrainRequestInput, 'model'> },
) {
  const { retrain: given, ...rest } = input;
  const request = parseInput(monitorRequestSchema, { ...rest, runId: rest.runId ?? defaultRunId(rest.dataset ?? 'production') }, 'monitor request');
  const strategies = given ? parseInput(retrainRequestSchema, { ...given, model: request.model }, 'retrain options').strategies : undefined;
  const retrain = given && strategies ? { ...given, strategies: withAbsoluteStrategyPaths(strategies) } : given;
  await assertModelExists(client, request.model);
  return client.workflow.start<typeof monitorModel>('monitorModel', {
    taskQueue: config.taskQueue,
    workflowId: monitorWorkflowId(request.model, request.runId),
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    args: [{ ...request, ...(retrain ? { retrain } : {}) }],
    typedSearchAttributes: monitorSearchAttributes(request.model),
    staticSummary: monitorSummary(request.model),
  });
}

/** Labels that arrived late, for `dataset`: `labels:<dataset>:<hash8>`. */
export async function startLabels(client: Client, config: MlopsConfig, input: { dataset: string; source: string; label?: string }) {
  parseInput(datasetName, input.dataset, 'dataset name');
  const source = path.resolve(input.source);
  return client.workflow.start<typeof recordLabelsWorkflow>('recordLabelsWorkflow', {
    taskQueue: config.taskQueue,
    workflowId: labelsWorkflowId(input.dataset, requestDigest({ source, at: Date.now() })),
    args: [{ dataset: input.dataset, source, ...(input.label ? { label: input.label } : {}) }],
    typedSearchAttributes: labelsSearchAttributes(input.dataset),
    staticSummary: labelsSummary(input.dataset, source),
  });
}
