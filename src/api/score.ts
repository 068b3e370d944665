import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { ScoreRun } from '../scoring/runs';

/** Messages of the `scoreBatch` workflow (`score:<model>:<runId>`), shared with clients. */
export function scoreWorkflowId(model: string, runId: string): string {
  return `score:${model}:${runId}`;
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
