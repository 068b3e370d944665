import { z } from 'zod';
import { datasetVersionRef } from '../datasets/ref';
import { datasetName, modelName } from '../store/names';
import { userError } from '../errors';
import { formatIssues } from '../validation';
import { DEFAULT_GBDT_PARAMS } from './gbdt-params';

/** Trainer parameters, one strict schema per built-in trainer: an unknown parameter is an error, not ignored. */
const logisticParams = z
  .object({
    C: z.number().positive().default(1),
    maxIterations: z.number().int().min(1).max(10_000).default(200),
    tolerance: z.number().positive().default(1e-6),
  })
  .strict();

const linearParams = z.object({ alpha: z.number().min(0).default(1) }).strict();

const gbdtParams = z
  .object({
    nEstimators: z.number().int().min(1).max(5000).default(DEFAULT_GBDT_PARAMS.nEstimators),
    learningRate: z.number().positive().max(1).default(DEFAULT_GBDT_PARAMS.learningRate),
    maxDepth: z.number().int().min(1).max(32).default(DEFAULT_GBDT_PARAMS.maxDepth),
    maxLeaves: z.number().int().min(2).max(4096).default(DEFAULT_GBDT_PARAMS.maxLeaves),
    minSamplesLeaf: z.number().int().min(1).default(DEFAULT_GBDT_PARAMS.minSamplesLeaf),
    l2: z.number().min(0).default(DEFAULT_GBDT_PARAMS.l2),
    maxBins: z.number().int().min(2).max(255).default(DEFAULT_GBDT_PARAMS.maxBins),
  })
  .strict();

export const TRAINER_PARAMS = { logistic: logisticParams, linear: linearParams, gbdt: gbdtParams } as const;
export const TRAINER_KINDS = ['logistic', 'linear', 'gbdt', 'command'] as const;

export const BUILT_IN_TRAINERS = ['logistic', 'linear', 'gbdt'] as const;

/** An external trainer: a command run on the exported training data (training/external.ts). */
export const commandTrainerSchema = z
  .object({
    kind: z.literal('command'),
    /** argv: executable then arguments; run in a folder with train/validation Parquet and spec.json. */
    command: z.array(z.string().min(1)).min(1, 'command needs at least the executable'),
    timeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 86_400)
      .default(3600),
    /** Passed through to the command in spec.json. */
    params: z.record(z.string(), z.number()).default({}),
  })
  .strict();

export const trainerConfigSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.enum(BUILT_IN_TRAINERS),
      params: z.record(z.string(), z.number()).default({}),
    })
    .strict(),
  commandTrainerSchema,
]);
export type TrainerConfig = z.infer<typeof trainerConfigSchema>;

export const trainRequestSchema = z
  .object({
    model: modelName,
    dataset: datasetName,
    /** A version id, a unique prefix, or "latest"; resolved once by the workflow. */
    datasetVersion: datasetVersionRef.default('latest'),
    trainer: trainerConfigSchema.default({ kind: 'logistic', params: {} }),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(42),
    label: z.string().min(1).optional(),
    features: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();

export type TrainRequest = z.infer<typeof trainRequestSchema>;
export type TrainRequestInput = z.input<typeof trainRequestSchema>;

/** The trainer's parameters with defaults filled in; names what is wrong when they are not valid. */
export function resolveTrainer(trainer: TrainerConfig): TrainerConfig {
  if (trainer.kind === 'command') return trainer;
  const parsed = TRAINER_PARAMS[trainer.kind].safeParse(trainer.params);
  if (!parsed.success) throw userError('InvalidInput', `Invalid ${trainer.kind} parameters:\n${formatIssues(parsed.error, Object.keys(TRAINER_PARAMS[trainer.kind].shape))}`);
  return { kind: trainer.kind, params: parsed.data as Record<string, number> };
}
