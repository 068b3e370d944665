import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { EvaluationOutcome } from '../evaluation/outcome';
import type { PromotionPolicy } from '../evaluation/request';
import type { CanaryStatus, OnlineShadowSummary } from './online';
import { stageAttributes } from './search';

/**
 * The `promoteModel` API (`promote:<model>:<version>`): id, start attributes and summary, its
 * messages; shared by clients, the pipeline and the retraining loop that start it as a child.
 */
export function promoteWorkflowId(model: string, version: string): string {
  return `promote:${model}:${version}`;
}

export function parsePromoteWorkflowId(workflowId: string): { model: string; version: string } | undefined {
  const match = /^promote:([^:]+):([^:]+)$/.exec(workflowId);
  return match ? { model: match[1]!, version: match[2]! } : undefined;
}

export const promoteSearchAttributes = (model: string) => stageAttributes('promote', { model });

export function promoteSummary(model: string, version: string, policy: PromotionPolicy, canarySteps?: readonly number[]): string {
  const canary = policy === 'canary' ? `, then live traffic in steps ${(canarySteps ?? [5, 25, 100]).map((s) => `${s}%`).join(' → ')}` : '';
  return `Promote ${model}@${version} (${policy}) after a shadow evaluation against production${canary}`;
}

export interface ReviewInput {
  /** The candidate version being reviewed (guards against approving the wrong one). */
  version: string;
  by: string;
  reason: string;
}

/** `canary`: model servers answer a share of live requests with the candidate (status.canary says how much). */
export type PromotionPhase = 'evaluating' | 'waiting-for-review' | 'canary' | 'promoting' | 'promoted' | 'rejected';

export interface PromotionStatus {
  model: string;
  candidate: string;
  baseline?: string;
  phase: PromotionPhase;
  /**
   * The latest evaluation's verdict; the full report is at reportUri. The page (htmlUri) is
   * optional here because promotions started before pages were written lack it.
   */
  evaluation?: Pick<EvaluationOutcome, 'reportUri' | 'markdownUri' | 'rows' | 'passed' | 'gates' | 'primaryMetric' | 'candidateValue' | 'baselineValue'> &
    Partial<Pick<EvaluationOutcome, 'htmlUri'>>;
  waitingSince?: string;
  escalatedAt?: string;
  /** A person's approval of the latest evaluation: the registry asks for it before production moves. */
  approval?: { by: string; reason: string; at: string };
  decision?: { outcome: 'promoted' | 'rejected'; by: string; reason: string; at: string };
  /** Policy canary: its steps, the current one and each one's verdict. */
  canary?: CanaryStatus;
  /** What model servers saw while they shadowed the candidate on live requests (also in the report). */
  onlineShadow?: OnlineShadowSummary;
}

export const approveUpdate = defineUpdate<PromotionStatus, [ReviewInput]>('approve');
export const rejectUpdate = defineUpdate<PromotionStatus, [ReviewInput]>('reject');
export const promotionStatusQuery = defineQuery<PromotionStatus>('status');
