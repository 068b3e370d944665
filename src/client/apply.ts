import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { type Client, type ScheduleDescription, ScheduleNotFoundError } from '@temporalio/client';
import type { MlopsConfig } from '../config';
import { durationMs } from '../duration';
import type { RetrainRequestInput } from '../retraining/request';
import type { ModelSpec } from '../spec/schema';
import type { ArtifactStore } from '../store/artifact-store';
import { layout } from '../store/layout';
import { isS3Url, s3PrefixUrl } from '../store/s3-url';
import { contractFromFile } from './ingest';
import { createOrUpdateSchedule, landingScheduleDefinition, type ModelScheduleDefinition, modelScheduleDefinition } from './schedules';

/**
 * `mlops apply -f churn.yaml`: reconciles the server with a model's spec, like `kubectl apply`.
 * The applied spec is recorded in the store (specs/<model>.json) with the resources it owns, so
 * removing a section removes what that section created — and only that: a schedule someone made
 * by hand under the same id is taken over when the spec declares it, never deleted otherwise.
 */
export interface AppliedSpec {
  spec: ModelSpec;
  /** The file it came from, and the sha256 of its text. */
  source: string;
  sha256: string;
  appliedAt: string;
  /** Schedule ids this spec created or took over. */
  schedules: string[];
}

export type SpecChangeAction = 'create' | 'update' | 'delete' | 'unchanged';

export interface SpecChange {
  action: SpecChangeAction;
  /** e.g. "schedule mlops-monitor-churn" */
  resource: string;
  what: string;
}

export interface ApplyResult {
  model: string;
  changes: SpecChange[];
  dryRun: boolean;
  /** False when the file's text equals what was applied last and no resource differs. */
  specChanged: boolean;
}

export interface SpecSource {
  spec: ModelSpec;
  /** The file's path, for the record and messages. */
  source: string;
  text: string;
  /** Where relative trainer paths in the spec are resolved: the spec file's folder. */
  baseDir: string;
}

export function specRecordUrl(store: ArtifactStore, model: string): string {
  return store.url(...layout.spec(model));
}

export async function readAppliedSpec(store: ArtifactStore, model: string): Promise<AppliedSpec | undefined> {
  return store.readJson<AppliedSpec>(specRecordUrl(store, model));
}

/** The models that have an applied spec. */
export async function listAppliedSpecs(store: ArtifactStore): Promise<string[]> {
  const names = await store.backend.children(store.key(...layout.specs()));
  return names
    .filter((n) => n.endsWith('.json'))
    .map((n) => n.slice(0, -'.json'.length))
    .sort();
}

export async function applySpec(client: Client, config: MlopsConfig, store: ArtifactStore, input: SpecSource, options: { dryRun?: boolean } = {}): Promise<ApplyResult> {
  const { spec } = input;
  const previous = await readAppliedSpec(store, spec.name);
  const desired = desiredSchedules(config, spec, input.baseDir);
  const changes: SpecChange[] = [];
  const work: Array<() => Promise<void>> = [];
  for (const d of desired) {
    const current = await describeSchedule(client, d.scheduleId);
    const what = scheduleWhat(d);
    if (!current) {
      changes.push({ action: 'create', resource: `schedule ${d.scheduleId}`, what });
    } else if (sameSchedule(current, d)) {
      changes.push({ action: 'unchanged', resource: `schedule ${d.scheduleId}`, what });
      continue;
    } else {
      changes.push({ action: 'update', resource: `schedule ${d.scheduleId}`, what });
    }
    work.push(() => createOrUpdateSchedule(client, d));
  }
  const wanted = new Set(desired.map((d) => d.scheduleId));
  for (const id of previous?.schedules ?? []) {
    if (wanted.has(id) || !(await describeSchedule(client, id))) continue;
    changes.push({ action: 'delete', resource: `schedule ${id}`, what: 'no longer in the spec' });
    work.push(() => deleteSchedule(client, id));
  }
  const sha256 = createHash('sha256').update(input.text).digest('hex');
  const specChanged = previous?.sha256 !== sha256 || work.length > 0;
  if (!options.dryRun) {
    for (const step of work) await step();
    if (specChanged) {
      const record: AppliedSpec = { spec, source: input.source, sha256, appliedAt: new Date().toISOString(), schedules: [...wanted] };
      await store.writeJsonAtomic(specRecordUrl(store, spec.name), record);
    }
  }
  return { model: spec.name, changes, dryRun: Boolean(options.dryRun), specChanged };
}

/** `mlops delete <model>`: removes what the applied spec owns, then the record. */
export async function deleteAppliedSpec(client: Client, store: ArtifactStore, model: string, options: { dryRun?: boolean } = {}): Promise<ApplyResult | undefined> {
  const previous = await readAppliedSpec(store, model);
  if (!previous) return undefined;
  const changes: SpecChange[] = [];
  for (const id of previous.schedules) {
    if (!(await describeSchedule(client, id))) continue;
    changes.push({ action: 'delete', resource: `schedule ${id}`, what: 'the spec is deleted' });
    if (!options.dryRun) await deleteSchedule(client, id);
  }
  if (!options.dryRun) await store.backend.delete(store.key(...layout.spec(model)));
  return { model, changes, dryRun: Boolean(options.dryRun), specChanged: true };
}

/** The schedules a spec asks for, each as `mlops schedule` would create it. */
export function desiredSchedules(config: MlopsConfig, spec: ModelSpec, baseDir: string): ModelScheduleDefinition[] {
  const retrain = retrainOptions(spec);
  const out: ModelScheduleDefinition[] = [];
  if (spec.monitoring) {
    out.push(
      modelScheduleDefinition(config, {
        kind: 'monitor',
        model: spec.name,
        every: spec.monitoring.every,
        monitor: withoutEvery(spec.monitoring),
        ...(retrain ? { retrain } : {}),
        cwd: baseDir,
      }),
    );
  }
  for (const [dataset, d] of Object.entries(spec.datasets ?? {})) {
    const { role, landing, contract, ...ingest } = d;
    out.push(
      landingScheduleDefinition(config, {
        model: spec.name,
        dataset,
        role,
        // A folder is relative to the spec's; an S3 prefix is taken as given, folder-shaped.
        landing: { ...landing, path: isS3Url(landing.path) ? s3PrefixUrl(landing.path) : path.resolve(baseDir, landing.path) },
        ingest: { ...ingest, ...(contract ? contractFromFile(path.resolve(baseDir, contract)) : {}) },
        ...(spec.scoring ? { scoring: spec.scoring } : {}),
        ...(spec.monitoring ? { monitoring: chainMonitoring(spec.monitoring) } : {}),
        ...(retrain ? { retrain } : {}),
      }),
    );
  }
  if (spec.retraining?.every) {
    out.push(modelScheduleDefinition(config, { kind: 'retrain', model: spec.name, every: spec.retraining.every, ...(retrain ? { retrain } : {}), cwd: baseDir }));
  }
  return out;
}

function withoutEvery<T extends { every?: string }>(section: T): Omit<T, 'every'> {
  const { every: _every, ...rest } = section;
  return rest;
}

/** A chain monitors the version it ingested: the schedule's dataset and version are not its to take. */
function chainMonitoring(monitoring: NonNullable<ModelSpec['monitoring']>) {
  const { every: _every, dataset: _dataset, datasetVersion: _version, ...thresholds } = monitoring;
  return thresholds;
}

/** The retraining loop's request from the retraining and promotion sections. */
function retrainOptions(spec: ModelSpec): Omit<RetrainRequestInput, 'model'> | undefined {
  if (!spec.retraining && !spec.promotion) return undefined;
  const retraining = spec.retraining ? withoutEvery(spec.retraining) : {};
  const promotion = spec.promotion;
  return {
    ...retraining,
    ...(promotion ? { policy: promotion.policy, approvalTimeout: promotion.approvalTimeout, ...(promotion.gates ? { gates: promotion.gates } : {}) } : {}),
    reason: `spec ${spec.name}`,
    by: 'mlops apply',
  };
}

function scheduleWhat(d: ModelScheduleDefinition): string {
  const type = 'workflowType' in d.action ? String(d.action.workflowType) : 'workflow';
  // A landing scan says where it looks, so a plan shows a folder or bucket prefix changing.
  const watched = 'args' in d.action ? (d.action.args?.[0] as { landing?: { path?: string } } | undefined)?.landing?.path : undefined;
  return `${type} every ${d.interval}${watched ? ` of ${watched}` : ''}`;
}

async function describeSchedule(client: Client, scheduleId: string): Promise<ScheduleDescription | undefined> {
  try {
    return await client.schedule.getHandle(scheduleId).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  }
}

async function deleteSchedule(client: Client, scheduleId: string): Promise<void> {
  try {
    await client.schedule.getHandle(scheduleId).delete();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
}

/** Same interval, workflow, queue and arguments: re-applying an unchanged spec touches nothing. */
function sameSchedule(current: ScheduleDescription, desired: ModelScheduleDefinition): boolean {
  const intervals = current.spec.intervals ?? [];
  const action = current.action as { workflowType?: string; taskQueue?: string; args?: unknown[] };
  const want = desired.action as { workflowType: string; taskQueue: string; args: unknown[] };
  return (
    intervals.length === 1 &&
    Number(intervals[0]!.every) === (typeof desired.interval === 'number' ? desired.interval : durationMs(desired.interval)) &&
    action.workflowType === want.workflowType &&
    action.taskQueue === want.taskQueue &&
    canonical(action.args) === canonical(want.args)
  );
}

/** JSON with sorted keys and no undefined members, so equal arguments compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>)
            .filter(([, x]) => x !== undefined)
            .sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}
