import { z } from 'zod';
import { durationSchema } from '../duration';
import { datasetName, modelName } from '../store/names';
import { gatesSchema } from './gates';

const versionId = z.string().regex(/^[0-9a-f]{16}$/, 'a 16-hex-digit version id');

/** How promotions proceed once the gates have spoken. */
export const PROMOTION_POLICIES = ['auto', 'manual', 'ask-on-failure', 'canary'] as const;
export type PromotionPolicy = (typeof PROMOTION_POLICIES)[number];

/**
 * Policy `canary`: after the offline gates pass, model servers (`mlops serve`) answer a growing
 * share of live requests with the candidate, one step at a time; each step is held for `hold`
 * and judged by these online gates, and production moves only once the last step passed.
 */
export const canarySchema = z
  .object({
    /** Percent of requests the candidate answers in each step, rising, ending at 100. */
    steps: z
      .array(z.number().gt(0).max(100))
      .min(1)
      .max(10)
      .refine((s) => s.every((p, i) => i === 0 || p > s[i - 1]!), 'steps must rise (e.g. 5,25,100)')
      .refine((s) => s[s.length - 1] === 100, 'the last step must be 100 (the candidate answers everything before it becomes production)')
      .default([5, 25, 100]),
    /** How long each step is held before it is judged passed. */
    hold: durationSchema.default('10m'),
    /** How often the gates are judged during a step (a failing one rolls back at once). */
    checkEvery: durationSchema.default('30s'),
    /** Rows the candidate must have answered in a step before it is judged at all. */
    minRows: z.number().int().min(1).default(100),
    /** Most rows of the candidate's outside its acceptable range (or not numbers). */
    maxFlaggedShare: z.number().min(0).max(1).default(0.05),
    /** Candidate p99 model latency at most this times production's (plus 1 ms of slack). */
    maxLatencyRatio: z.number().positive().default(2),
    /** Share of the candidate's requests that may fail (they are answered by production instead). */
    maxErrorShare: z.number().min(0).max(1).default(0),
    /** Labeled online predictions each side needs (since the canary began) before live metrics are compared. */
    minLabeledRows: z.number().int().min(1).default(100),
    /** The candidate's live primary metric at most this much worse than production's on the labeled online rows. */
    maxLiveMetricDrop: z.number().min(0).default(0.02),
  })
  .strict();
export type CanaryOptions = z.infer<typeof canarySchema>;

export const evaluationOptionsSchema = z
  .object({
    /** Dataset to evaluate on; default: the candidate's training dataset. */
    dataset: datasetName.optional(),
    /** "latest" or a version (prefix); default latest. */
    datasetVersion: z.string().min(1).default('latest'),
    sliceColumns: z.array(z.string().min(1)).max(20).default([]),
    batchSize: z.number().int().min(1).max(1_000_000).default(16_384),
    gates: gatesSchema.default(gatesSchema.parse({})),
  })
  .strict();

export const promoteRequestSchema = evaluationOptionsSchema
  .extend({
    model: modelName,
    /** Default: the registry's `candidate` alias at the time the promotion starts. */
    candidateVersion: versionId.optional(),
    /**
     * auto: promote when the gates pass, reject when they fail. manual: a person approves or
     * rejects (the report is the evidence). ask-on-failure: promote when they pass, ask a person
     * when they fail. canary: when they pass, serve live traffic with it in steps (see canarySchema)
     * and promote after the last one.
     */
    policy: z.enum(PROMOTION_POLICIES).default('auto'),
    /** Policy `canary`'s steps and online gates (defaults when absent). */
    canary: canarySchema.optional(),
    /** How long to wait for a person, e.g. "24h"; then `onTimeout`. */
    approvalTimeout: durationSchema.default('24h'),
    /** reject: give up on the candidate; escalate: record it, keep waiting and keep the flag raised. */
    onTimeout: z.enum(['reject', 'escalate']).default('reject'),
    by: z.string().min(1).default('promoteModel'),
  })
  .strict();

/** `shadowEvaluate` (`mlops evaluate`): a comparison without promotion. */
export const shadowEvaluateRequestSchema = z
  .object({
    model: modelName,
    /** Default: the `candidate` alias. */
    candidateVersion: versionId.optional(),
    /** A version to compare with; default: the `production` alias (none: thresholds only). */
    baselineVersion: versionId.optional(),
    options: evaluationOptionsSchema,
  })
  .strict();
export type ShadowEvaluateRequest = z.infer<typeof shadowEvaluateRequestSchema>;

export type PromoteRequest = z.infer<typeof promoteRequestSchema>;
export type PromoteRequestInput = z.input<typeof promoteRequestSchema>;
export type EvaluationOptions = z.infer<typeof evaluationOptionsSchema>;
export type EvaluationOptionsInput = z.input<typeof evaluationOptionsSchema>;
