import { z } from 'zod';
import { gatesSchema } from '../evaluation/gates';
import { PROMOTION_POLICIES } from '../evaluation/request';
import { durationSchema } from '../duration';
import { datasetName, modelName } from '../store/names';
import { trainerConfigSchema } from '../training/request';
import { DEFAULT_TRAINING_WINDOW, TRAINING_WINDOWS } from './training-windows';

export { DEFAULT_TRAINING_WINDOW, TRAINING_WINDOWS, type TrainingWindow } from './training-windows';

/** One way to train a new version; what it leaves out is taken from the production model. */
export const strategySchema = z
  .object({
    trainer: trainerConfigSchema.optional(),
    features: z.array(z.string().min(1)).min(1).optional(),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .optional(),
  })
  .strict();
export type Strategy = z.infer<typeof strategySchema>;

export const windowOptionsSchema = z
  .object({
    /** Leave out scoring runs, and versions of the original data, older than this (e.g. 90d). Default: no limit. */
    maxAge: durationSchema.optional(),
    /** How many of the original dataset's latest versions the window spans (rows by key: the newest version's wins). */
    originalVersions: z.number().int().min(1).max(100).default(1),
    /** Share of the labeled production rows (by a hash of the key) kept out of training to judge candidate and production on. */
    holdoutFraction: z.number().gt(0).lt(1).default(0.3),
    /** Labeled production rows count only when at least this many are left to judge on (neither model trained on them). */
    minJudgingRows: z.number().int().min(1).max(10_000_000).default(200),
  })
  .strict();
export type WindowOptions = z.infer<typeof windowOptionsSchema>;

export const retrainRequestSchema = z
  .object({
    model: modelName,
    /** The original training data (its latest version, or `window.originalVersions` of them). Default: the dataset production was first trained on. */
    dataset: datasetName.optional(),
    /**
     * Where candidate and production are compared (latest version). Default: the labeled production
     * rows neither model trained on, when there are at least `window.minJudgingRows` of them; else
     * the training data, whose test split the candidate did not see.
     */
    evaluationDataset: datasetName.optional(),
    trainingWindow: z.enum(TRAINING_WINDOWS).default(DEFAULT_TRAINING_WINDOW),
    window: windowOptionsSchema.default(windowOptionsSchema.parse({})),
    /** Tried in order, one per attempt, then again from the top. Default: production's config, then variations of it. */
    strategies: z.array(strategySchema).min(1).max(20).optional(),
    maxAttempts: z.number().int().min(1).max(50).default(3),
    maxDuration: durationSchema.default('12h'),
    /** Default: the candidate must beat production's primary metric by at least 0.001 ("improved", not "as good"). */
    gates: gatesSchema.default(gatesSchema.parse({ minImprovement: 0.001 })),
    policy: z.enum(PROMOTION_POLICIES).default('auto'),
    approvalTimeout: durationSchema.default('24h'),
    baselineProof: z
      .object({
        enabled: z.boolean().default(true),
        /** Largest allowed difference of the primary metric between the registered and the reproduced production model. */
        tolerance: z.number().min(0).max(1).default(0.005),
      })
      .strict()
      .default({ enabled: true, tolerance: 0.005 }),
    /** How long an escalation waits for a person before the loop gives up (production stays as is). */
    escalationTimeout: durationSchema.default('7d'),
    reason: z.string().min(1).default('requested'),
    by: z.string().min(1).default('mlops'),
  })
  .strict();
export type RetrainRequest = z.infer<typeof retrainRequestSchema>;
export type RetrainRequestInput = z.input<typeof retrainRequestSchema>;

/** What a person may change when they send `retry`. */
export const retryOverridesSchema = z
  .object({
    maxAttempts: z.number().int().min(1).max(50).optional(),
    maxDuration: durationSchema.optional(),
    strategies: z.array(strategySchema).min(1).max(20).optional(),
    gates: gatesSchema.optional(),
    /** Skip the baseline proof (e.g. an external trainer that cannot be reproduced exactly). */
    skipBaselineProof: z.boolean().optional(),
    trainingWindow: z.enum(TRAINING_WINDOWS).optional(),
  })
  .strict();
export type RetryOverrides = z.infer<typeof retryOverridesSchema>;
