import { z } from 'zod';
import { durationSchema, everySchema } from '../duration';
import { gatesSchema } from '../evaluation/gates';
import { PROMOTION_POLICIES } from '../evaluation/request';
import { monitorRequestSchema } from '../monitoring/request';
import { retrainRequestSchema } from '../retraining/request';
import { modelName } from '../store/names';

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

export const modelSpecSchema = z
  .object({
    apiVersion: z.literal(SPEC_API_VERSION),
    kind: z.literal('Model'),
    /** The model the spec is for (its registry, schedules and loops carry this name). */
    name: modelName.describe('The model: letters, digits, _ - . (its registry, schedules and loops carry this name)'),
    promotion: promotionSpecSchema.optional().describe("How the retraining loop's candidates are promoted"),
    monitoring: monitoringSpecSchema.optional().describe('A monitoring pass on a schedule; a crossing starts the retraining loop'),
    retraining: retrainingSpecSchema.optional().describe('Limits and strategies of the retraining loop; with `every`, retraining on a schedule too'),
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
