import { z } from 'zod';
import { ingestRequestSchema } from '../datasets/request';
import { promoteRequestSchema } from '../evaluation/request';
import { trainRequestSchema } from '../training/request';

/** `trainAndPromote`: ingest (optional) → train → promote, each part as its own workflow takes it. */
export const pipelineRequestSchema = z
  .object({
    /** New raw data to ingest first; its version is what the model trains on. */
    ingest: ingestRequestSchema.optional(),
    train: trainRequestSchema,
    promote: promoteRequestSchema.omit({ model: true, candidateVersion: true }),
  })
  .strict();
export type PipelineRequest = z.infer<typeof pipelineRequestSchema>;
