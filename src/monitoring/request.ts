import { z } from 'zod';
import { durationSchema } from '../duration';
import { datasetVersionRef } from '../datasets/ref';
import { datasetName, modelName, resourceName } from '../store/names';

/** Kept apart from monitor.ts (DuckDB): workflow code parses its input with these, so they must stay pure. */
export interface DriftThresholds {
  /** PSI at or above which a feature counts as drifted (0.2: the usual "significant shift"). */
  psi: number;
  /** …provided the test also rejects "same distribution" at this level (large samples make any difference significant). */
  pValue: number;
}

export const DEFAULT_DRIFT_THRESHOLDS: DriftThresholds = { psi: 0.2, pValue: 0.01 };

/**
 * One monitoring pass over the production model: feature drift of a dataset version against the
 * training profile, drift of the model's outputs on it (from its prediction logs), and live
 * metrics wherever labels have arrived for logged predictions, against the card's test metrics.
 */
export const monitorRequestSchema = z
  .object({
    model: modelName,
    /** Names the report and the workflow (monitor:<model>:<runId>); scheduled runs take it from their workflow id. */
    runId: resourceName('run'),
    /** The data to check; default: the production model's training dataset. */
    dataset: datasetName.optional(),
    datasetVersion: datasetVersionRef.default('latest'),
    drift: z
      .object({ psi: z.number().positive().default(DEFAULT_DRIFT_THRESHOLDS.psi), pValue: z.number().gt(0).lt(1).default(DEFAULT_DRIFT_THRESHOLDS.pValue) })
      .strict()
      .default(DEFAULT_DRIFT_THRESHOLDS),
    /** Live primary metric this much worse than the card's test value (absolute) counts as degraded. */
    maxMetricDrop: z.number().min(0).default(0.05),
    /**
     * Estimated accuracy or ROC AUC (CBPE, from calibrated probabilities on unlabeled rows) this much below
     * the card's test value (absolute) counts as degraded, before any label arrives. Binary models only.
     */
    maxEstimatedDrop: z.number().min(0).default(0.05),
    /** Live metrics are judged only with at least this many labeled predictions. */
    minLabeledRows: z.number().int().min(1).default(200),
    primaryMetric: z.string().optional(),
    /** Start (signal-with-start) the retraining loop when a threshold is crossed. */
    retrainOnTrigger: z.boolean().default(true),
    /** After a person accepted the current model or aborted the loop (or it gave up), do not start it again for this long. */
    retrainQuietPeriod: durationSchema.default('7d'),
  })
  .strict();
export type MonitorRequest = z.infer<typeof monitorRequestSchema>;
export type MonitorRequestInput = z.input<typeof monitorRequestSchema>;

/** Late labels (`mlops labels <dataset> <file>`). */
export const labelsRequestSchema = z
  .object({
    dataset: datasetName,
    /** A local path or glob, as the worker sees it. */
    source: z.string().min(1, 'source path must not be empty'),
    /** The label column in the file; default: the dataset contract's label. */
    label: z.string().min(1).optional(),
  })
  .strict();
export type LabelsRequest = z.infer<typeof labelsRequestSchema>;
