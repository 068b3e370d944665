import { z } from 'zod';
import { contractSchema } from '../contract/schema';
import { datasetName } from '../store/names';
import { datasetVersionRef } from './ref';
import { csvOptionsSchema, SOURCE_FORMATS } from './source';

/**
 * An inline contract rides in the ingest's workflow input and in both of its activities' inputs,
 * all kept in history: a 10,001-column one made 509 KB payloads. Above this size (about 700
 * columns) a contract travels by reference instead.
 */
export const INLINE_CONTRACT_MAX_CHARS = 32_000;

/** A contract file the worker reads (within MLOPS_INGEST_ALLOWED_ROOTS), pinned by its bytes' sha256. */
export const contractRefSchema = z
  .object({
    /** A local path, as the worker sees it. */
    uri: z.string().min(1, 'contractRef.uri must not be empty'),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'the sha256 of the file, 64 hex digits'),
  })
  .strict();
export type ContractRef = z.infer<typeof contractRefSchema>;

/** What a user asks `ingestDataset` to do; validated by the client and again at activity entry. */
export const ingestRequestSchema = z
  .object({
    dataset: datasetName,
    /** A local path or glob, as the worker sees it, or one object: s3://bucket/key (read with the S3 store's settings). */
    source: z.string().min(1, 'source path must not be empty'),
    /** The sha256 the source's bytes must have (a landed file's, from its scan); other bytes fail with SourceChanged. */
    sourceSha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'a sha256 in hex')
      .optional(),
    contract: contractSchema.optional(),
    /**
     * No contract given: use the one of the dataset's latest version, so a new file of a known
     * dataset keeps its key and types (labels join by that key); a new dataset is inferred.
     */
    reuseContract: z.boolean().optional(),
    /** For a contract inferred from the data: its key columns and label. */
    infer: z
      .object({ key: z.array(z.string().min(1)).optional(), label: z.string().min(1).optional() })
      .strict()
      .optional(),
    /** A large contract, by reference (see INLINE_CONTRACT_MAX_CHARS). */
    contractRef: contractRefSchema.optional(),
    format: z.enum(SOURCE_FORMATS).optional(),
    csv: csvOptionsSchema.optional(),
    retentionDays: z.number().int().min(0).max(36_500).default(30),
    maxRejectedFraction: z.number().min(0).max(1).default(0.05),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.contract && r.contractRef) ctx.addIssue({ code: 'custom', path: ['contractRef'], message: 'give contract or contractRef, not both' });
    const chars = r.contract ? JSON.stringify(r.contract).length : 0;
    if (chars > INLINE_CONTRACT_MAX_CHARS) {
      ctx.addIssue({
        code: 'custom',
        path: ['contract'],
        message:
          `${Math.round(chars / 1000)} KB inline (${r.contract!.columns.length} columns) would ride in every payload of the ingest, kept in history; ` +
          `above ${INLINE_CONTRACT_MAX_CHARS / 1000} KB pass it as a file the worker can read: contractRef {uri, sha256} (mlops ingest --contract does this itself)`,
      });
    }
  });

export type IngestRequest = z.infer<typeof ingestRequestSchema>;
export type IngestRequestInput = z.input<typeof ingestRequestSchema>;

/** `mlops datasets repair`: a version to check and, when its snapshot is damaged, rebuild from its raw copy. */
export const repairRequestSchema = z
  .object({
    dataset: datasetName,
    version: datasetVersionRef,
  })
  .strict();
export type RepairRequest = z.infer<typeof repairRequestSchema>;

export const retentionSweepRequestSchema = z
  .object({
    /** Treat this instant as now (ISO 8601); default: the workflow's current time. */
    asOf: z.iso.datetime({ offset: true }).optional(),
    /**
     * Online prediction logs (`mlops serve`) have no run with an expiry: their parts go this many
     * days after each was written. The batch default, 90 days.
     */
    onlineLogRetentionDays: z.number().int().min(1).max(36_500).default(90),
  })
  .strict();
export type RetentionSweepRequest = z.input<typeof retentionSweepRequestSchema>;
