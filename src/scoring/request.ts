import { z } from 'zod';
import { durationSchema } from '../duration';
import { ingestRequestSchema } from '../datasets/request';
import { datasetVersionRef } from '../datasets/ref';
import { datasetName, modelName, resourceName } from '../store/names';
import { DEFAULT_SPLIT_ROWS } from './parts';

/** What `scoreBatch` is asked to do; validated by the client and at activity entry. */
export const scoreRequestSchema = z
  .object({
    model: modelName,
    /** Names the run: its prediction log folder and workflow id (score:<model>:<runId>). */
    runId: resourceName('run'),
    dataset: datasetName,
    /** "latest" or a version id (prefix); ignored when `ingest` is given. */
    datasetVersion: datasetVersionRef.default('latest'),
    /** A file to ingest first; its version is what gets scored. */
    ingest: ingestRequestSchema.optional(),
    /** Acceptable output range; default: the model card's expected range widened by `rangeMargin`. */
    range: z
      .object({ min: z.number(), max: z.number() })
      .strict()
      .refine((r) => r.min < r.max, 'range.min must be below range.max')
      .optional(),
    /** Fraction of the expected range's width added on each side (0.1 = 10 %). */
    rangeMargin: z.number().min(0).max(10).default(0.1),
    /** Above this share of flagged rows the run raises an alert and waits for a person. */
    maxFlaggedShare: z.number().min(0).max(1).default(0.01),
    batchSize: z.number().int().min(1).max(1_000_000).default(16_384),
    /** Rows per Parquet part file; the staged part is what memory holds (about 0.5 GB per 500k rows of 20 features). */
    partRows: z.number().int().min(1_000).max(5_000_000).default(500_000),
    /**
     * Rows per scoring part above which the run is split: each part (a row range of the snapshot)
     * is its own activity, taken by any worker, and one prediction log is published at the end.
     */
    splitRows: z.number().int().min(1_000).max(1_000_000_000).default(DEFAULT_SPLIT_ROWS),
    /** How long the prediction log is kept (the retention sweep deletes it after). */
    retentionDays: z.number().int().min(1).max(36_500).default(90),
    /** How long an alert waits for `acknowledge` before the run closes with it unacknowledged. */
    acknowledgeTimeout: durationSchema.default('7d'),
  })
  .strict();

export type ScoreRequest = z.infer<typeof scoreRequestSchema>;
export type ScoreRequestInput = z.input<typeof scoreRequestSchema>;
