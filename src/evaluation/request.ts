import { z } from 'zod';
import { datasetName, modelName } from '../store/names';
import { gatesSchema } from './gates';

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
    candidateVersion: z.string().regex(/^[0-9a-f]{16}$/, 'a 16-hex-digit version id').optional(),
    /**
     * auto: promote when the gates pass, reject when they fail. manual: a person approves or
     * rejects (the report is the evidence). ask-on-failure: promote when they pass, ask a person
     * when they fail.
     */
    policy: z.enum(PROMOTION_POLICIES).default('auto'),
    /** How long to wait for a person, e.g. "24h"; then `onTimeout`. */
    approvalTimeout: z.string().regex(/^\d+(ms|s|m|h|d)$/, 'a duration such as 30s, 15m, 24h, 7d').default('24h'),
    /** reject: give up on the candidate; escalate: record it, keep waiting and keep the flag raised. */
    onTimeout: z.enum(['reject', 'escalate']).default('reject'),
    by: z.string().min(1).default('promoteModel'),
  })
  .strict();

export type PromoteRequest = z.infer<typeof promoteRequestSchema>;
export type PromoteRequestInput = z.input<typeof promoteRequestSchema>;
export type EvaluationOptions = z.infer<typeof evaluationOptionsSchema>;
export type EvaluationOptionsInput = z.input<typeof evaluationOptionsSchema>;
