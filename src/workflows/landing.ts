import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
import { condition, executeChild, ParentClosePolicy, proxyActivities, setCurrentDetails, setHandler, startChild, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  dismissLandedUpdate,
  type LandedAnswerInput,
  landedAnswerCommands,
  landedFileSearchAttributes,
  landedFileSummary,
  landedFileWorkflowId,
  landedRunId,
  type LandedStatus,
  landedStatusQuery,
  landingScanSearchAttributes,
  retryLandedUpdate,
} from '../api/landing';
import { monitorWorkflowId } from '../api/monitor';
import { scoreWorkflowId } from '../api/score';
import { childWorkflowId } from '../api/search';
import type { Duration } from '../duration';
import { rootApplicationFailure, userError } from '../errors';
import { type LandedFileRequest, landedFileRequestSchema, type LandedFileRequestInput, scanLandingRequestSchema, type ScanLandingRequestInput } from '../landing/request';
import { monitorRequestSchema } from '../monitoring/request';
import { scoreRequestSchema } from '../scoring/request';
import { MlopsNeedsAttention } from '../temporal/search-attributes';
import { parseInput } from '../validation';
import { activityOptions } from './activity-options';
import { endAfterFlags, raiseFlag } from './flags';
import { requireText } from './handler-input';
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
 * workflow of its own, visible in the Web UI. A step that fails raises a flag naming the file and
 * the step (MlopsNeedsAttention, `mlops pending`) and the chain waits for a person: `retry` runs
 * the step again (the data or the system was fixed), `dismiss` ends it `dismissed` with the
 * failure on record; nobody answering within `landing.waitOnFailure` fails it (LandedFileFailed).
 * A file is never skipped silently.
 */
export async function landedFile(raw: LandedFileRequestInput): Promise<LandedStatus> {
  return endAfterFlags(() => runLandedFile(raw));
}

async function runLandedFile(raw: LandedFileRequestInput): Promise<LandedStatus> {
  const request = parseInput(landedFileRequestSchema, raw, 'landed file');
  const { model, dataset, landed } = request;
  const id = workflowInfo().workflowId;
  const status: LandedStatus = { model, dataset, file: landed.file, sha256: landed.sha256, phase: 'ingesting', retries: 0 };
  setHandler(landedStatusQuery, () => status);
  const person = acceptAnswers(status);
  upsertSearchAttributes(landedFileSearchAttributes(model, dataset));
  const taken = await recordLandedFile({ model, dataset, marker: { ...landed, workflowId: id, takenAt: new Date().toISOString() } });
  if (!taken) {
    // Another chain took these bytes first (only after Temporal forgot its id): nothing to do twice.
    status.phase = 'done';
    setCurrentDetails(`${landed.name} was already taken by an earlier chain`);
    return status;
  }
  for (const step of chainSteps(request, status, id)) {
    for (;;) {
      status.phase = step.phase;
      try {
        await step.run();
        break;
      } catch (err) {
        const message = rootApplicationFailure(err)?.message ?? (err as Error).message;
        status.failure = { step: step.name, phase: step.phase, message, at: new Date().toISOString() };
        const failure = `New file ${landed.file} of dataset ${dataset}: the ${step.name} step failed: ${message}`;
        const answer = await person.waitAfter(failure, request.landing.waitOnFailure as Duration);
        if (answer === 'retry') continue;
        if (answer === 'dismiss') return status;
        status.phase = 'failed';
        throw userError('LandedFileFailed', `${failure} (nobody answered within ${request.landing.waitOnFailure})`);
      }
    }
  }
  status.phase = 'done';
  return status;
}

interface ChainStep {
  name: string;
  phase: LandedStatus['phase'];
  run(): Promise<void>;
}

/** The steps of a file's chain by the dataset's role; each reads what the steps before it recorded in `status`. */
function chainSteps(request: LandedFileRequest, status: LandedStatus, id: string): ChainStep[] {
  const { model, dataset, landed } = request;
  const runId = landedRunId(landed.sha256);
  const version = () => status.version!;
  const ingest: ChainStep = {
    name: 'ingest',
    phase: 'ingesting',
    async run() {
      const { contract, contractRef, ...ingestOptions } = request.ingest;
      // Pinned to the bytes the scan hashed: a file replaced since then fails here, naming it (SourceChanged).
      const ingested = await executeChild(ingestDataset, {
        args: [
          {
            ...ingestOptions,
            dataset,
            source: landed.file,
            sourceSha256: landed.sha256,
            ...(contract ? { contract } : contractRef ? { contractRef } : { reuseContract: true }),
          } as Parameters<typeof ingestDataset>[0],
        ],
        workflowId: childWorkflowId(id, 'ingest'),
      });
      status.version = ingested.version;
    },
  };
  if (request.role === 'training') {
    return [
      ingest,
      {
        name: 'retrain request',
        phase: 'requesting-retrain',
        async run() {
          const started = await requestRetrain({
            request: { ...(request.retrain ?? {}), model },
            trigger: { reason: `new training data: ${landed.name} became ${dataset}@${version()}`, by: id },
          });
          status.retrainWorkflowId = started.workflowId;
        },
      },
    ];
  }
  return [
    ingest,
    {
      name: 'score',
      phase: 'scoring',
      async run() {
        status.scoringWorkflowId = scoreWorkflowId(model, runId);
        const score = parseInput(scoreRequestSchema, { ...request.scoring, model, runId, dataset, datasetVersion: version() }, 'scoring options');
        await executeChild(scoreBatch, { args: [score], workflowId: status.scoringWorkflowId });
      },
    },
    {
      name: 'monitor',
      phase: 'monitoring',
      async run() {
        status.monitoringWorkflowId = monitorWorkflowId(model, runId);
        const monitor = parseInput(monitorRequestSchema, { ...request.monitoring, model, runId, dataset, datasetVersion: version() }, 'monitoring options');
        await executeChild(monitorModel, { args: [{ ...monitor, ...(request.retrain ? { retrain: request.retrain } : {}) }], workflowId: status.monitoringWorkflowId });
      },
    },
  ];
}

/** The `retry` and `dismiss` updates of a failed chain: accepted only while it waits for a person, with who and why. */
function acceptAnswers(status: LandedStatus) {
  let answer: 'retry' | 'dismiss' | undefined;
  const validator = (input: LandedAnswerInput) => {
    if (status.phase !== 'waiting-for-a-person') throw new Error(`the chain of ${status.file} is not waiting for a person (it is ${status.phase})`);
    requireText(input?.by, 'by');
    requireText(input.reason, 'reason');
  };
  const answered = (kind: 'retry' | 'dismiss') => (input: LandedAnswerInput) => {
    answer = kind;
    status.answer = { by: input.by, reason: input.reason, at: new Date().toISOString() };
    if (kind === 'retry') status.retries++;
    // A retry runs the failed step again: the status says which, from the moment it is accepted.
    status.phase = kind === 'dismiss' ? 'dismissed' : (status.failure?.phase ?? 'ingesting');
    return status;
  };
  setHandler(retryLandedUpdate, answered('retry'), { validator });
  setHandler(dismissLandedUpdate, answered('dismiss'), { validator });
  return {
    /** Raises the flag for `failure` and waits for an answer; undefined when none came in time. */
    async waitAfter(failure: string, timeout: Duration): Promise<'retry' | 'dismiss' | undefined> {
      answer = undefined;
      status.phase = 'waiting-for-a-person';
      upsertSearchAttributes([{ key: MlopsNeedsAttention, value: true }]);
      setCurrentDetails(`${failure}\n\nAnswer with one of:\n${landedAnswerCommands(workflowInfo().workflowId).join('\n')}`);
      void raiseFlag({
        kind: 'landing-chain-failed',
        model: status.model,
        summary: failure,
        commands: landedAnswerCommands(workflowInfo().workflowId),
        details: { dataset: status.dataset, file: status.file },
      });
      const came = await condition(() => answer !== undefined, timeout);
      upsertSearchAttributes([{ key: MlopsNeedsAttention, value: false }]);
      if (!came) status.answer = { timedOut: true, at: new Date().toISOString() };
      setCurrentDetails('');
      return answer;
    },
  };
}
