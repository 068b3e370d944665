import { z } from 'zod';
import { durationSchema } from '../duration';
import { datasetName, modelName } from '../store/names';
import { gatesSchema } from './gates';

const versionId = z.string().regex(/^[0-9a-f]{16}$/, 'a 16-hex-digit version id');

/** How promotions proceed once the gates have spoken. */
export const PROMOTION_POLICIES = ['auto', 'manual', 'ask-on-failure'] as const;
export type PromotionPolicy = (typeof PROMOTION_POLICIES)[number];

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
     * when they fail.
     */
    policy: z.enum(PROMOTION_POLICIES).default('auto'),
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
