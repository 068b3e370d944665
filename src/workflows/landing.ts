import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
import { executeChild, ParentClosePolicy, proxyActivities, setCurrentDetails, setHandler, startChild, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  landedFileSearchAttributes,
  landedFileSummary,
  landedFileWorkflowId,
  landedRunId,
  type LandedStatus,
  landedStatusQuery,
  landingScanSearchAttributes,
} from '../api/landing';
import { monitorWorkflowId } from '../api/monitor';
import { scoreWorkflowId } from '../api/score';
import { childWorkflowId } from '../api/search';
import { rootApplicationFailure, userError } from '../errors';
import { type LandedFileRequest, scanLandingRequestSchema, type ScanLandingRequestInput } from '../landing/request';
import { monitorRequestSchema } from '../monitoring/request';
import { scoreRequestSchema } from '../scoring/request';
import { parseInput } from '../validation';
import { activityOptions } from './activity-options';
import { ingestDataset } from './ingest';
import { monitorModel } from './monitor';
import { scoreBatch } from './score';

const { findLandedFiles, recordLandedFile, requestRetrain } = proxyActivities<Activities>(activityOptions.quick);

export interface ScanLandingResult {
  /** The chains this scan started, one per new file. */
  started: string[];
  /** New files whose chain was already running (found by another scan first). */
  alreadyRunning: string[];
}

/**
 * One look at a dataset's landing folder (a schedule runs it every `landing.every`): each complete
 * file not taken yet starts its own chain, `landedFile`, under an id built from the file's hash, so
 * two scans at once — or a scan after a restart — start it once. A Schedule rather than one
 * long-running watcher: each scan is a short workflow with its own small history, a worker restart
 * costs nothing, and pausing or changing the interval is the Schedule's own (Web UI, `mlops apply`).
 */
export async function scanLanding(raw: ScanLandingRequestInput): Promise<ScanLandingResult> {
  const request = parseInput(scanLandingRequestSchema, raw, 'landing scan');
  const { model, dataset, role } = request;
  upsertSearchAttributes(landingScanSearchAttributes(model, dataset));
  const files = await findLandedFiles({ model, dataset, landing: request.landing });
  const result: ScanLandingResult = { started: [], alreadyRunning: [] };
  for (const landed of files) {
    const workflowId = landedFileWorkflowId(model, dataset, landed.sha256);
    try {
      await startChild(landedFile, {
        args: [{ ...request, landed }],
        workflowId,
        // The chain outlives the scan that found it; its id is never reused, so a file runs once.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        typedSearchAttributes: landedFileSearchAttributes(model, dataset),
        staticSummary: landedFileSummary(model, dataset, landed.name, role),
      });
      result.started.push(workflowId);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      result.alreadyRunning.push(workflowId);
    }
  }
  return result;
}

/**
 * One landed file, end to end: ingest it as a new version of its dataset; then, for a live
 * dataset, score that version with production and monitor it (a crossing starts the retraining
 * loop); for a training dataset, ask the retraining loop to run on it. Each step is a child
 * workflow of its own, visible in the Web UI. A step that fails fails the chain with the file
 * and the step named (LandedFileFailed): a file is never skipped silently.
 */
export async function landedFile(request: LandedFileRequest): Promise<LandedStatus> {
  const { model, dataset, role, landed } = request;
  const id = workflowInfo().workflowId;
  const status: LandedStatus = { model, dataset, file: landed.file, sha256: landed.sha256, phase: 'ingesting' };
  setHandler(landedStatusQuery, () => status);
  upsertSearchAttributes(landedFileSearchAttributes(model, dataset));
  const taken = await recordLandedFile({ model, dataset, marker: { ...landed, workflowId: id, takenAt: new Date().toISOString() } });
  if (!taken) {
    // Another chain took these bytes first (only after Temporal forgot its id): nothing to do twice.
    status.phase = 'done';
    setCurrentDetails(`${landed.name} was already taken by an earlier chain`);
    return status;
  }
  let step = 'ingest';
  try {
    const { contract, contractRef, ...ingestOptions } = request.ingest;
    const version = await executeChild(ingestDataset, {
      args: [
        { ...ingestOptions, dataset, source: landed.file, ...(contract ? { contract } : contractRef ? { contractRef } : { reuseContract: true }) } as Parameters<
          typeof ingestDataset
        >[0],
      ],
      workflowId: childWorkflowId(id, 'ingest'),
    });
    status.version = version.version;
    const runId = landedRunId(landed.sha256);
    if (role === 'live') {
      step = 'score';
      status.phase = 'scoring';
      status.scoringWorkflowId = scoreWorkflowId(model, runId);
      const score = parseInput(scoreRequestSchema, { ...request.scoring, model, runId, dataset, datasetVersion: version.version }, 'scoring options');
      await executeChild(scoreBatch, { args: [score], workflowId: status.scoringWorkflowId });
      step = 'monitor';
      status.phase = 'monitoring';
      status.monitoringWorkflowId = monitorWorkflowId(model, runId);
      const monitor = parseInput(monitorRequestSchema, { ...request.monitoring, model, runId, dataset, datasetVersion: version.version }, 'monitoring options');
      await executeChild(monitorModel, { args: [{ ...monitor, ...(request.retrain ? { retrain: request.retrain } : {}) }], workflowId: status.monitoringWorkflowId });
    } else {
      step = 'retrain request';
      status.phase = 'requesting-retrain';
      const started = await requestRetrain({
        request: { ...(request.retrain ?? {}), model },
        trigger: { reason: `new training data: ${landed.name} became ${dataset}@${version.version}`, by: id },
      });
      status.retrainWorkflowId = started.workflowId;
    }
    status.phase = 'done';
    return status;
  } catch (err) {
    const message = rootApplicationFailure(err)?.message ?? (err as Error).message;
    status.phase = 'failed';
    status.failure = { step, message };
    throw userError('LandedFileFailed', `New file ${landed.file} of dataset ${dataset}: the ${step} step failed: ${message}`);
  }
}
