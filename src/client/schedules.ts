import { type Client, ScheduleAlreadyRunning, type ScheduleOptionsAction, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import type { MlopsConfig } from '../config';
import { everySchema } from '../duration';
import { RETENTION_SCHEDULED_WORKFLOW_ID, retentionSearchAttributes } from '../api/datasets';
import { monitorScheduledWorkflowId, monitorSearchAttributes } from '../api/monitor';
import { retrainScheduleSearchAttributes, retrainScheduleWorkflowId } from '../api/retrain';
import { withAbsoluteStrategyPaths } from '../training/command-paths';
import { parseInput } from '../validation';
import type { monitorModel, retentionSweep, scanLanding, scheduledRetrain } from '../workflows';
import { landingScanSearchAttributes, landingScanWorkflowId } from '../api/landing';
import { scanLandingRequestSchema, type ScanLandingRequestInput } from '../landing/request';
import { type MonitorRequestInput, monitorRequestSchema } from '../monitoring/request';
import { type RetrainRequestInput, retrainRequestSchema } from '../retraining/request';
import { modelName } from '../store/names';

/**
 * One sweep schedule per deployment (task queue), since each sweeps the store its own workers
 * see; the default queue keeps the plain id.
 */
export function retentionScheduleId(taskQueue: string): string {
  return taskQueue === 'mlops' ? 'mlops-retention-sweep' : `mlops-retention-sweep-${taskQueue}`;
}

/** Creates the retention schedule, or updates its interval when it exists (idempotent). */
export async function scheduleRetentionSweep(client: Client, config: MlopsConfig, every: string): Promise<string> {
  const scheduleId = retentionScheduleId(config.taskQueue);
  const interval = parseInput(everySchema, every, '--every') as Duration;
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'retentionSweep' as const,
    args: [{}] as Parameters<typeof retentionSweep>,
    taskQueue: config.taskQueue,
    workflowId: RETENTION_SCHEDULED_WORKFLOW_ID,
    typedSearchAttributes: retentionSearchAttributes(),
  };
  await createOrUpdateSchedule(client, { scheduleId, interval, action, description: 'Deletes raw copies whose retention has expired' });
  return scheduleId;
}

/**
 * Creates the schedule, or points an existing one at this interval and action: running a schedule
 * command again changes it instead of failing. A run still going when the next is due is skipped.
 */
export async function createOrUpdateSchedule(client: Client, s: { scheduleId: string; interval: Duration; action: ScheduleOptionsAction; description: string }): Promise<void> {
  const spec = { intervals: [{ every: s.interval }] };
  try {
    await client.schedule.create({
      scheduleId: s.scheduleId,
      spec,
      action: s.action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      memo: { description: s.description },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(s.scheduleId).update((previous) => ({ ...previous, spec, action: s.action }));
  }
}

export type ModelScheduleKind = 'monitor' | 'retrain';

export function modelScheduleId(kind: ModelScheduleKind, model: string): string {
  return `mlops-${kind}-${model}`;
}

export interface ModelScheduleInput {
  kind: ModelScheduleKind;
  model: string;
  every: string;
  monitor?: Omit<MonitorRequestInput, 'model' | 'runId'>;
  retrain?: Omit<RetrainRequestInput, 'model'>;
  /** Where relative trainer paths in retrain strategies are resolved (default: this process's folder). */
  cwd?: string;
}

/** A model schedule as it is created: its id, interval, the workflow it starts with every default filled. */
export interface ModelScheduleDefinition {
  scheduleId: string;
  interval: Duration;
  action: ScheduleOptionsAction;
  description: string;
}

/** What `mlops schedule monitor|retrain` would create, validated, without touching the server. */
export function modelScheduleDefinition(config: MlopsConfig, input: ModelScheduleInput): ModelScheduleDefinition {
  const interval = parseInput(everySchema, input.every, '--every') as Duration;
  const model = parseInput(modelName, input.model, 'model name');
  const parsedRetrain = input.retrain ? parseInput(retrainRequestSchema, { ...input.retrain, model }, 'retrain options') : undefined;
  const retrain = parsedRetrain
    ? { ...parsedRetrain, ...(parsedRetrain.strategies ? { strategies: withAbsoluteStrategyPaths(parsedRetrain.strategies, input.cwd) } : {}), model: undefined }
    : undefined;
  const action =
    input.kind === 'monitor'
      ? {
          type: 'startWorkflow' as const,
          workflowType: 'monitorModel' as const,
          // Parsed here so the workflow gets every default; the run id comes from each run's workflow id.
          args: [
            { ...withoutRunId(parseInput(monitorRequestSchema, { ...input.monitor, model, runId: 'scheduled' }, 'monitor options')), ...(retrain ? { retrain } : {}) },
          ] as Parameters<typeof monitorModel>,
          taskQueue: config.taskQueue,
          workflowId: monitorScheduledWorkflowId(model),
          typedSearchAttributes: monitorSearchAttributes(model),
        }
      : {
          type: 'startWorkflow' as const,
          workflowType: 'scheduledRetrain' as const,
          args: [{ model, ...(retrain ? { retrain } : {}) }] as Parameters<typeof scheduledRetrain>,
          taskQueue: config.taskQueue,
          workflowId: retrainScheduleWorkflowId(model),
          typedSearchAttributes: retrainScheduleSearchAttributes(model),
        };
  return {
    scheduleId: modelScheduleId(input.kind, model),
    interval,
    action,
    description: input.kind === 'monitor' ? `Monitors production ${model} every ${input.every}` : `Asks to retrain ${model} every ${input.every}`,
  };
}

/**
 * `mlops schedule monitor|retrain <model> --every 1d`: a Temporal Schedule (listed in the Web UI)
 * that runs a monitoring pass, or asks for retraining through signal-with-start so that a
 * schedule never starts a second loop next to a running one. Creates or updates (idempotent).
 */
export async function scheduleModelWorkflow(client: Client, config: MlopsConfig, input: ModelScheduleInput): Promise<string> {
  const definition = modelScheduleDefinition(config, input);
  await createOrUpdateSchedule(client, definition);
  return definition.scheduleId;
}

export function landingScheduleId(model: string, dataset: string): string {
  return `mlops-landing-${model}-${dataset}`;
}

/** A schedule that looks at a dataset's landing folder every `landing.every` (see workflows/landing.ts). */
export function landingScheduleDefinition(config: MlopsConfig, input: ScanLandingRequestInput): ModelScheduleDefinition {
  const request = parseInput(scanLandingRequestSchema, input, 'landing');
  return {
    scheduleId: landingScheduleId(request.model, request.dataset),
    interval: request.landing.every as Duration,
    action: {
      type: 'startWorkflow' as const,
      workflowType: 'scanLanding' as const,
      args: [request] as Parameters<typeof scanLanding>,
      taskQueue: config.taskQueue,
      workflowId: landingScanWorkflowId(request.model, request.dataset),
      typedSearchAttributes: landingScanSearchAttributes(request.model, request.dataset),
    },
    description: `Looks for new files of ${request.dataset} in ${request.landing.path} every ${request.landing.every}`,
  };
}

function withoutRunId<T extends { runId?: string }>(request: T): Omit<T, 'runId'> {
  const { runId: _ignored, ...rest } = request;
  return rest;
}
