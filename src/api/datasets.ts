import type { IngestRequest, RepairRequest } from '../datasets/request';
import { stageAttributes } from './search';

/**
 * The dataset workflows' API: `ingestDataset` (`ingest:<dataset>:<hash8>`), `repairDataset`
 * (`repair:<dataset>:<version>`) and `retentionSweep`, for the client, schedules and parents.
 */

/** The hash covers the whole request: the same request started twice attaches to the first run. */
export function ingestWorkflowId(dataset: string, requestDigest: string): string {
  return `ingest:${dataset}:${requestDigest}`;
}

export const ingestSearchAttributes = (dataset: string) => stageAttributes('ingest', { dataset });

export function ingestSummary(request: Pick<IngestRequest, 'dataset' | 'source'>): string {
  return `Ingest ${request.source.split(/[\\/]/).at(-1)} into dataset ${request.dataset}`;
}

export function repairWorkflowId(dataset: string, version: string): string {
  return `repair:${dataset}:${version}`;
}

export const repairSearchAttributes = (dataset: string) => stageAttributes('repair', { dataset });

export function repairSummary(request: RepairRequest): string {
  return `Check ${request.dataset}@${request.version}'s snapshot; rebuild it from the raw copy if damaged`;
}

/** The runs a retention schedule starts; `mlops retention sweep` starts one of its own per call. */
export const RETENTION_SCHEDULED_WORKFLOW_ID = 'retention-sweep';

export function manualRetentionSweepWorkflowId(at: Date): string {
  return `retention-sweep-manual-${at.toISOString()}`;
}

export const retentionSearchAttributes = () => stageAttributes('retention', {});
