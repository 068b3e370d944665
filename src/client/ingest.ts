import * as path from 'node:path';
import { type Client, WorkflowIdConflictPolicy } from '@temporalio/client';
import type { MlopsConfig } from '../config';
import type { DatasetVersionRef } from '../datasets/manifest';
import { type IngestRequest, type IngestRequestInput, ingestRequestSchema } from '../datasets/request';
import { canonicalJson, sha256 } from '../store/hash';
import { MlopsDataset, MlopsStage } from '../temporal/search-attributes';
import { parseInput } from '../validation';
import type { ingestDataset } from '../workflows';

/**
 * `ingest:<dataset>:<hash8>` where the hash covers the whole request: the same request started
 * twice while the first still runs attaches to it instead of running twice.
 */
export function ingestWorkflowId(request: IngestRequest): string {
  return `ingest:${request.dataset}:${sha256(canonicalJson(request)).slice(0, 8)}`;
}

export function normalizeIngestRequest(input: IngestRequestInput): IngestRequest {
  const request = parseInput(ingestRequestSchema, input, 'ingest request');
  // The worker resolves paths on its own machine; make relative paths mean what the user meant.
  return { ...request, source: path.resolve(request.source) };
}

export async function startIngest(client: Client, config: MlopsConfig, input: IngestRequestInput) {
  const request = normalizeIngestRequest(input);
  return client.workflow.start<typeof ingestDataset>('ingestDataset', {
    taskQueue: config.taskQueue,
    workflowId: ingestWorkflowId(request),
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    args: [request],
    typedSearchAttributes: [
      { key: MlopsDataset, value: request.dataset },
      { key: MlopsStage, value: 'ingest' },
    ],
    staticSummary: `Ingest ${path.basename(request.source)} into dataset ${request.dataset}`,
  });
}

export async function ingest(client: Client, config: MlopsConfig, input: IngestRequestInput): Promise<DatasetVersionRef> {
  const handle = await startIngest(client, config, input);
  return handle.result();
}
