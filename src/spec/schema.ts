import { z } from 'zod';
import { durationSchema, everySchema } from '../duration';
import { gatesSchema } from '../evaluation/gates';
import { PROMOTION_POLICIES } from '../evaluation/request';
import { monitorRequestSchema } from '../monitoring/request';
import { retrainRequestSchema } from '../retraining/request';
import { DATASET_ROLES, landingIngestSchema, landingSchema, landingScoringSchema } from '../landing/request';
import { datasetName, modelName } from '../store/names';
import { notifySpecSchema } from '../notifications/channels';

/**
 * A model's declarative spec (`mlops apply -f churn.yaml`): how its loop runs, in one file instead
 * of flags repeated per call. Each section is made of the request schemas the commands already
 * validate with, so a spec accepts exactly what the matching command would, with the same defaults.
 */
export const SPEC_API_VERSION = 'mlops/v1';

/** How the retraining loop's candidates are promoted. */
export const promotionSpecSchema = z
  .object({
    policy: z.enum(PROMOTION_POLICIES).default('auto'),
    /** With `manual` (or a failed gate under `ask-on-failure`): how long to wait for a person. */
    approvalTimeout: durationSchema.default('24h'),
    /** Default: the candidate must beat production's primary metric by at least 0.001. */
    gates: gatesSchema.optional(),
  })
  .strict();

/** A monitoring pass on an interval (a Temporal Schedule); a crossing starts the retraining loop. */
export const monitoringSpecSchema = monitorRequestSchema.omit({ model: true, runId: true }).extend({ every: everySchema }).strict();

/** The retraining loop's limits and strategies; with `every`, also asked for on an interval. */
export const retrainingSpecSchema = retrainRequestSchema
  .omit({ model: true, policy: true, approvalTimeout: true, gates: true, reason: true, by: true })
  .extend({ every: everySchema.optional() })
  .strict();

/**
 * A dataset of the model and where its new files land. `training`: each new version asks the
 * retraining loop to run; `live`: each new version is scored with production, then monitored.
 */
export const datasetSpecSchema = landingIngestSchema
  .omit({ contract: true, contractRef: true })
  .extend({
    role: z.enum(DATASET_ROLES),
    landing: landingSchema,
    /** The contract file (relative to the spec file); default: the contract of the dataset's latest version. */
    contract: z.string().min(1).optional(),
  })
  .strict();

/** How a live dataset's new versions are scored. */
export const scoringSpecSchema = landingScoringSchema;

export const modelSpecSchema = z
  .object({
    apiVersion: z.literal(SPEC_API_VERSION),
    kind: z.literal('Model'),
    /** The model the spec is for (its registry, schedules and loops carry this name). */
    name: modelName.describe('The model: letters, digits, _ - . (its registry, schedules and loops carry this name)'),
    datasets: z
      .record(datasetName, datasetSpecSchema)
      .optional()
      .describe('Datasets by name, with their role and landing folder or S3 prefix: a new file there starts the chain (ingest, then score + monitor, or retrain)'),
    scoring: scoringSpecSchema.optional().describe("How a live dataset's new versions are scored (range, flagged share)"),
    promotion: promotionSpecSchema.optional().describe("How the retraining loop's candidates are promoted"),
    monitoring: monitoringSpecSchema.optional().describe('A monitoring pass on a schedule; a crossing starts the retraining loop'),
    retraining: retrainingSpecSchema.optional().describe('Limits and strategies of the retraining loop; with `every`, retraining on a schedule too'),
    notify: notifySpecSchema.optional().describe('Where flags (a workflow waiting for a person) are sent: webhooks, Slack incoming webhooks and email over SMTP'),
  })
  .strict();

export type ModelSpec = z.infer<typeof modelSpecSchema>;
export type ModelSpecInput = z.input<typeof modelSpecSchema>;

/** The schema for editors (`# yaml-language-server: $schema=…` or VS Code's json.schemas). */
export function modelSpecJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://temporal-mlops.dev/schemas/model-spec.v1.json',
    title: 'temporal-mlops model spec',
    ...z.toJSONSchema(modelSpecSchema, { io: 'input', unrepresentable: 'any' }),
  };
}
