import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { activityOptions } from './activity-options';
import type { DatasetVersionRef, RepairOutcome } from '../datasets/manifest';
import { type IngestRequest, ingestRequestSchema, type RepairRequest, repairRequestSchema } from '../datasets/request';
import { ingestSearchAttributes, repairSearchAttributes } from '../api/datasets';
import { parseInput } from '../validation';

const { stageRawSource } = proxyActivities<Activities>(activityOptions.staging);

const { buildDatasetVersion, repairSnapshot } = proxyActivities<Activities>(activityOptions.snapshot);

/**
 * Raw file(s) → an immutable, versioned dataset. User errors (contract, schema, empty source)
 * are non-retryable and fail the workflow with their message; anything else is retried, which is
 * safe because both steps are idempotent.
 */
export async function ingestDataset(raw: IngestRequest): Promise<DatasetVersionRef> {
  const request = parseInput(ingestRequestSchema, raw, 'ingest request');
  upsertSearchAttributes(ingestSearchAttributes(request.dataset));
  const staged = await stageRawSource(request);
  return buildDatasetVersion({ request, staged });
}

/** `mlops datasets repair`: a damaged snapshot rebuilt in place from the version's raw copy (recorded in its manifest). */
export async function repairDataset(raw: RepairRequest): Promise<RepairOutcome> {
  const request = parseInput(repairRequestSchema, raw, 'repair request');
  upsertSearchAttributes(repairSearchAttributes(request.dataset));
  return repairSnapshot(request);
}
