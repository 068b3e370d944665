import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Client, WorkflowIdConflictPolicy } from '@temporalio/client';
import type { MlopsConfig } from '../config';
import { parseContractJson } from '../contract/schema';
import type { DatasetVersionRef } from '../datasets/manifest';
import { INLINE_CONTRACT_MAX_CHARS, type IngestRequest, type IngestRequestInput, ingestRequestSchema, repairRequestSchema } from '../datasets/request';
import { userError } from '../errors';
import { ingestSearchAttributes, ingestSummary, ingestWorkflowId as ingestIdOf, repairSearchAttributes, repairSummary, repairWorkflowId } from '../api/datasets';
import { requestDigest, sha256 } from '../store/hash';
import { isS3Url } from '../store/s3-url';
import { parseInput } from '../validation';
import type { ingestDataset, repairDataset } from '../workflows';

/**
 * `ingest:<dataset>:<hash8>` where the hash covers the whole request: the same request started
 * twice while the first still runs attaches to it instead of running twice.
 */
export function ingestWorkflowId(request: IngestRequest): string {
  return ingestIdOf(request.dataset, requestDigest(request));
}

/**
 * A contract file as the ingest request carries it: inline when small, else by reference to the
 * file (as the worker sees it, like the source) pinned by the sha256 of the bytes checked here.
 */
export function contractFromFile(file: string): Pick<IngestRequestInput, 'contract' | 'contractRef'> {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw userError('InvalidInput', `Cannot read contract ${file}: ${(err as Error).message}`);
  }
  const contract = parseContractJson(bytes.toString('utf8'), file);
  if (JSON.stringify(contract).length <= INLINE_CONTRACT_MAX_CHARS) return { contract };
  return { contractRef: { uri: path.resolve(file), sha256: sha256(bytes) } };
}

export function normalizeIngestRequest(input: IngestRequestInput): IngestRequest {
  const request = parseInput(ingestRequestSchema, input, 'ingest request');
  // The worker resolves paths on its own machine; make relative paths mean what the user meant.
  return {
    ...request,
    source: isS3Url(request.source) ? request.source : path.resolve(request.source),
    ...(request.contractRef ? { contractRef: { ...request.contractRef, uri: path.resolve(request.contractRef.uri) } } : {}),
  };
}

export async function startIngest(client: Client, config: MlopsConfig, input: IngestRequestInput) {
  const request = normalizeIngestRequest(input);
  return client.workflow.start<typeof ingestDataset>('ingestDataset', {
    taskQueue: config.taskQueue,
    workflowId: ingestWorkflowId(request),
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    args: [request],
    typedSearchAttributes: ingestSearchAttributes(request.dataset),
    staticSummary: ingestSummary(request),
  });
}

/** Starts `repair:<dataset>:<version>`: check a version's snapshot, rebuild it from the raw copy when damaged. */
export async function startRepair(client: Client, config: MlopsConfig, input: { dataset: string; version: string }) {
  const request = parseInput(repairRequestSchema, input, 'repair request');
  return client.workflow.start<typeof repairDataset>('repairDataset', {
    taskQueue: config.taskQueue,
    workflowId: repairWorkflowId(request.dataset, request.version),
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    args: [request],
    typedSearchAttributes: repairSearchAttributes(request.dataset),
    staticSummary: repairSummary(request),
  });
}

export async function ingest(client: Client, config: MlopsConfig, input: IngestRequestInput): Promise<DatasetVersionRef> {
  const handle = await startIngest(client, config, input);
  return handle.result();
}
