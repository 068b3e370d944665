import { z } from 'zod';
import { durationSchema, everySchema } from '../duration';
import { ingestRequestSchema } from '../datasets/request';
import { monitorRequestSchema } from '../monitoring/request';
import { retrainRequestSchema } from '../retraining/request';
import { scoreRequestSchema } from '../scoring/request';
import { datasetName, modelName } from '../store/names';
import { isS3Url, parseS3Url } from '../store/s3-url';

/**
 * Where new files of a dataset land, and when a file counts as complete: its modification time
 * at least `stableFor` ago (writers that write in place), or a marker file beside it
 * (`data.csv` + `data.csv.done`, for writers that can say when they are done).
 */
export const landingSchema = z
  .object({
    /**
     * A folder the worker can read (within MLOPS_INGEST_ALLOWED_ROOTS), relative to the spec file's
     * folder; or an S3 prefix, s3://bucket/prefix/, read with the S3 store's endpoint and credentials.
     */
    path: z
      .string()
      .min(1, 'landing.path must not be empty')
      .superRefine((p, ctx) => {
        if (!isS3Url(p)) return;
        try {
          parseS3Url(p, 'landing.path');
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      })
      .describe("A folder (relative to the spec file's) or an S3 prefix, s3://bucket/prefix/ (read with the S3 store's endpoint and credentials)"),
    /** File names to take (a glob over names, not paths: * and ?). */
    pattern: z.string().min(1).default('*'),
    /** How often the folder is looked at (a Temporal Schedule). */
    every: everySchema.default('1m'),
    ready: z
      .union([z.object({ stableFor: durationSchema }).strict(), z.object({ marker: z.string().regex(/^\.[A-Za-z0-9_.-]+$/, 'a suffix such as .done') }).strict()])
      .default({ stableFor: '30s' }),
    /** How long a file whose chain failed waits for a person (retry or dismiss) before its chain fails. */
    waitOnFailure: durationSchema.default('7d'),
  })
  .strict();
export type Landing = z.infer<typeof landingSchema>;

export const DATASET_ROLES = ['training', 'live'] as const;
export type DatasetRole = (typeof DATASET_ROLES)[number];

/** What ingesting a landed file takes besides the file: the dataset's ingest options. */
const ingestField = ingestRequestSchema.shape;
export const landingIngestSchema = z
  .object({
    contract: ingestField.contract,
    contractRef: ingestField.contractRef,
    format: ingestField.format,
    csv: ingestField.csv,
    retentionDays: ingestField.retentionDays,
    maxRejectedFraction: ingestField.maxRejectedFraction,
  })
  .strict();

/** How a live dataset's new versions are scored: the scoring request's range and alert options. */
export const landingScoringSchema = scoreRequestSchema.pick({ range: true, rangeMargin: true, maxFlaggedShare: true, retentionDays: true, acknowledgeTimeout: true }).strict();

/** One scan of a landing folder: what the schedule's runs are given. */
export const scanLandingRequestSchema = z
  .object({
    model: modelName,
    dataset: datasetName,
    role: z.enum(DATASET_ROLES),
    /** An absolute folder, as the worker sees it. */
    landing: landingSchema,
    ingest: landingIngestSchema.partial().default({}),
    /** live: how the new version is scored and monitored. */
    scoring: landingScoringSchema.partial().default({}),
    monitoring: monitorRequestSchema.omit({ model: true, runId: true, dataset: true, datasetVersion: true }).partial().default({}),
    /** training: the retraining loop the new version asks for (live: the one a monitoring crossing starts). */
    retrain: retrainRequestSchema.omit({ model: true }).partial().optional(),
  })
  .strict();
export type ScanLandingRequest = z.infer<typeof scanLandingRequestSchema>;
export type ScanLandingRequestInput = z.input<typeof scanLandingRequestSchema>;

/** A file found complete and not yet taken. */
export const landedFileSchema = z
  .object({
    file: z.string().min(1),
    name: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in hex'),
    size: z.number().int().nonnegative(),
    /** Modification time; on S3 the object's Last-Modified. */
    mtimeMs: z.number(),
    /** S3 only: the object's ETag when it was listed. */
    etag: z.string().optional(),
  })
  .strict();
export type LandedFile = z.infer<typeof landedFileSchema>;

/** The chain one landed file runs: ingest, then score + monitor (live) or ask for retraining (training). */
export const landedFileRequestSchema = scanLandingRequestSchema.extend({ landed: landedFileSchema }).strict();
export type LandedFileRequest = z.infer<typeof landedFileRequestSchema>;
export type LandedFileRequestInput = z.input<typeof landedFileRequestSchema>;
