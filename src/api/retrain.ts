import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AttemptData, BaselineProof } from '../retraining/attempt';
import type { RetryOverrides, Strategy } from '../retraining/request';
import { stageAttributes } from './search';

export type { AttemptData, BaselineProof, RowsRef } from '../retraining/attempt';

/**
 * The `retrainUntilImproved` loop's API (`retrain:<model>`): its id, what it is started with, its
 * messages — shared by the client, the monitoring activity that signal-with-starts it, and the loop.
 */
export const RETRAIN_WORKFLOW_TYPE = 'retrainUntilImproved';

export function retrainWorkflowId(model: string): string {
  return `retrain:${model}`;
}

/** The retrain schedule's runs (`mlops schedule retrain`): they only ask the loop, by signal-with-start. */
export function retrainScheduleWorkflowId(model: string): string {
  return `retrain-schedule:${model}`;
}

export const retrainSearchAttributes = (model: string) => stageAttributes('retrain', { model });
export const retrainScheduleSearchAttributes = (model: string) => stageAttributes('retrain-schedule', { model });

/** Id, search attributes and summary of a loop start, wherever it is started from. */
export function retrainStartOptions(model: string) {
  return {
    workflowId: retrainWorkflowId(model),
    typedSearchAttributes: retrainSearchAttributes(model),
    staticSummary: `Retrain ${model} until a candidate beats production (or a person decides)`,
  };
}

export interface AttemptRecord {
  n: number;
  at: string;
  datasetVersion?: string;
  strategy: Strategy;
  version?: string;
  /** The production version it was compared with. */
  baselineVersion?: string;
  outcome: 'promoted' | 'rejected' | 'same-as-production' | 'failed';
  reason: string;
  primaryMetric?: string;
  candidateValue?: number | null;
  baselineValue?: number | null;
  reportUri?: string;
  /** Which rows trained the candidate and which judged it (absent in attempts made before training windows). */
  data?: AttemptData;
}

export interface Trigger {
  at: string;
  reason: string;
  by: string;
}

export type RetrainPhase = 'proving-baseline' | 'attempting' | 'escalated' | 'done';
export type RetrainOutcome = 'improved' | 'accepted-current' | 'force-promoted' | 'aborted' | 'gave-up';

export interface RetrainStatus {
  model: string;
  phase: RetrainPhase;
  outcome?: RetrainOutcome;
  production?: string;
  /** Attempts of this loop, oldest first (the most recent 20). */
  attempts: AttemptRecord[];
  attemptsMade: number;
  /** Attempts allowed before escalating, counted from `budgetFrom`. */
  maxAttempts: number;
  budgetFrom: number;
  /** Attempt count when the current strategy list took effect (strategies rotate from there). */
  strategyFrom?: number;
  budgetStartedAt: string;
  startedAt: string;
  triggers: Trigger[];
  proof?: BaselineProof;
  /** Why the loop is waiting for a person. */
  escalation?: { at: string; reason: string };
  decision?: { action: 'retry' | 'acceptCurrent' | 'forcePromote' | 'abort' | 'timeout'; by: string; reason: string; at: string; version?: string };
  /** Runs of this loop so far (continue-as-new starts a new one after each attempt). */
  runs: number;
  /** The attempt under way, once its data is prepared: what it trains and is judged on. */
  current?: { n: number; data: AttemptData };
}

export interface DecisionInput {
  by: string;
  reason: string;
}

export const retrainRequestedSignal = defineSignal<[Omit<Trigger, 'at'>]>('retrainRequested');
export const retryUpdate = defineUpdate<RetrainStatus, [DecisionInput & { overrides?: RetryOverrides }]>('retry');
export const acceptCurrentUpdate = defineUpdate<RetrainStatus, [DecisionInput]>('acceptCurrent');
export const forcePromoteUpdate = defineUpdate<RetrainStatus, [DecisionInput & { version: string }]>('forcePromote');
export const abortUpdate = defineUpdate<RetrainStatus, [DecisionInput]>('abort');
export const retrainStatusQuery = defineQuery<RetrainStatus>('status');
