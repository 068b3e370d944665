import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { ScoreRequest } from '../scoring/request';
import type { ScoreRun } from '../scoring/runs';
import { stageAttributes } from './search';

/** The `scoreBatch` API (`score:<model>:<runId>`): id, start attributes, summary and messages. */
export function scoreWorkflowId(model: string, runId: string): string {
  return `score:${model}:${runId}`;
}

/** The dataset is known to the workflow (it may ingest first); a start names the model only. */
export const scoreSearchAttributes = (model: string, dataset?: string) => stageAttributes('score', { model, dataset });

export function scoreSummary(request: Pick<ScoreRequest, 'model' | 'runId' | 'dataset' | 'datasetVersion' | 'ingest'>): string {
  return `Score ${request.ingest ? request.ingest.source : `${request.dataset}@${request.datasetVersion}`} with production ${request.model} (run ${request.runId})`;
}

export type ScorePhase = 'resolving' | 'scoring' | 'waiting-for-acknowledgement' | 'done';

export interface ScoreStatus {
  model: string;
  runId: string;
  phase: ScorePhase;
  /** The production version resolved at the start, used for every row. */
  modelVersion?: string;
  dataset?: { name: string; version: string };
  run?: ScoreRun;
  /** Who looked at the alert, or that nobody did in time. */
  acknowledgement?: { by: string; reason: string; at: string } | { timedOut: true; at: string };
}

export interface AcknowledgeInput {
  by: string;
  reason: string;
}

export const acknowledgeUpdate = defineUpdate<ScoreStatus, [AcknowledgeInput]>('acknowledge');
export const scoreStatusQuery = defineQuery<ScoreStatus>('status');
