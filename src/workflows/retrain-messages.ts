import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { RetryOverrides, Strategy, TrainingWindow } from '../retraining/request';

/** Messages of the `retrainUntilImproved` loop (`retrain:<model>`), shared with clients. */
export function retrainWorkflowId(model: string): string {
  return `retrain:${model}`;
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

/** A dataset version and how many rows of it count. */
export interface RowsRef {
  dataset: string;
  version: string;
  rows: number;
}

/** The data of one attempt, as the retraining activity prepared it (every version is concrete). */
export interface AttemptData {
  /** The window trained on: the one asked for, or `original` when there were too few labeled production rows (see notes). */
  window: TrainingWindow;
  trainedOn: RowsRef & { originalRows: number; productionRows: number };
  /** `labeledProduction`: labeled production rows neither model trained on; else the training data's test split (or the dataset asked for). */
  judgedOn: RowsRef & { labeledProduction: boolean };
  /** All labeled production rows found for the model (a dataset version with lineage). */
  labeledProduction?: RowsRef;
  notes: string[];
}

export interface BaselineProof {
  /** The production version that was retrained from its own training data. */
  version: string;
  primaryMetric: string;
  registered: number | null;
  reproduced: number | null;
  tolerance: number;
  passed: boolean;
  at: string;
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
