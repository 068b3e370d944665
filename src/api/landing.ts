import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { stageAttributes } from './search';

/**
 * The landing workflows' API: `scanLanding` (a schedule's runs, `landing-scan:<model>:<dataset>`
 * plus the time Temporal appends) and `landedFile`, one chain per file:
 * `landed:<model>:<dataset>:<sha256 first 16>`, so a file's chain has one id however often it is found.
 */
export function landingScanWorkflowId(model: string, dataset: string): string {
  return `landing-scan:${model}:${dataset}`;
}

export function landedFileWorkflowId(model: string, dataset: string, sha256: string): string {
  return `landed:${model}:${dataset}:${sha256.slice(0, 16)}`;
}

/** The run id a chain's scoring and monitoring runs carry (`landed-<sha12>`). */
export function landedRunId(sha256: string): string {
  return `landed-${sha256.slice(0, 12)}`;
}

export const landingScanSearchAttributes = (model: string, dataset: string) => stageAttributes('landing-scan', { model, dataset });
export const landedFileSearchAttributes = (model: string, dataset: string) => stageAttributes('landed', { model, dataset });

export function landedFileSummary(model: string, dataset: string, name: string, role: string): string {
  return role === 'live' ? `New file ${name} of ${dataset}: ingest, score with ${model}, monitor` : `New file ${name} of ${dataset}: ingest, ask to retrain ${model}`;
}

export type LandedPhase = 'ingesting' | 'scoring' | 'monitoring' | 'requesting-retrain' | 'done' | 'waiting-for-a-person' | 'dismissed' | 'failed';

export interface LandedStatus {
  model: string;
  dataset: string;
  file: string;
  sha256: string;
  phase: LandedPhase;
  /** The dataset version the file became. */
  version?: string;
  scoringWorkflowId?: string;
  monitoringWorkflowId?: string;
  retrainWorkflowId?: string;
  /** Why the chain stopped, naming the file and the step (kept after a retry succeeded, as history). */
  failure?: { step: string; phase: LandedPhase; message: string; at: string };
  /** How many times a person asked to run the failed step again. */
  retries: number;
  /** Who dismissed the failed file, and why; or that nobody answered in time. */
  answer?: { by: string; reason: string; at: string } | { timedOut: true; at: string };
}

/** Who answers a failed chain, and why (the same shape as an alert's acknowledgement). */
export interface LandedAnswerInput {
  by: string;
  reason: string;
}

export const landedStatusQuery = defineQuery<LandedStatus>('status');
/** Runs the failed step again (the data or the system was fixed); accepted only while the chain waits. */
export const retryLandedUpdate = defineUpdate<LandedStatus, [LandedAnswerInput]>('retry');
/** Gives up on the file: the chain ends `dismissed`, the failure on record. */
export const dismissLandedUpdate = defineUpdate<LandedStatus, [LandedAnswerInput]>('dismiss');

/** The commands that answer a chain waiting for a person. */
export function landedAnswerCommands(workflowId: string): string[] {
  return [`mlops landed retry ${workflowId} --reason …`, `mlops landed dismiss ${workflowId} --reason …`];
}
