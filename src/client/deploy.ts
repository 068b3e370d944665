import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import type { MlopsConfig } from '../config';

/**
 * `mlops deploy`: a thin layer over Temporal's Worker Deployment API (server ≥ 1.28; the dev
 * server of CLI v1.5.1 is 1.29.1 and needs no dynamic config for it). A deployment is the name in
 * MLOPS_DEPLOYMENT_NAME; each worker build polls as one of its versions. Which build takes new
 * work is the deployment's routing: a current build, optionally a ramping one with a share.
 */

/** Refused before anything changed: unknown build, no worker on it, no passing replay check, bad share. */
export class DeploymentRefused extends Error {
  override name = 'DeploymentRefused';
}

/** The metadata key on a version under which `mlops deploy check` leaves its verdict. */
export const REPLAY_CHECK_KEY = 'mlops.replay-check';

/** On each build made current by `set-current`: the build that was current before it, for `rollback`. */
const PREVIOUS_CURRENT_KEY = 'mlops.previous-current';

export interface ReplayCheckRecord {
  passed: boolean;
  /** ISO time of the check. */
  at: string;
  replayed: number;
  failed: string[];
}

export interface VersionStatus {
  buildId: string;
  /** current, ramping, draining (pinned work still runs there), drained, inactive (never current). */
  status: string;
  createdAt?: string;
  /** Workflow pollers of this build on the task queue right now. */
  pollers: number;
  /** Running workflows whose last task ran on this build, by workflow type. */
  running: Record<string, number>;
  replayCheck?: ReplayCheckRecord;
}

export interface DeploymentStatus {
  deployment: string;
  taskQueue: string;
  current?: string;
  ramping?: { buildId: string; percentage: number };
  versions: VersionStatus[];
  /** Running workflows on the task queue that no build has taken yet, or that started before versioning. */
  unversioned: Record<string, number>;
}

/** The deployment named by MLOPS_DEPLOYMENT_NAME, or a message saying to set it. */
export function deploymentNameOf(config: MlopsConfig): string {
  if (!config.deployment) {
    throw new DeploymentRefused('MLOPS_DEPLOYMENT_NAME is not set: name the Worker Deployment your workers run as (the same value the workers have)');
  }
  return config.deployment.name;
}

const statusName = (s: temporal.api.enums.v1.WorkerDeploymentVersionStatus | null | undefined) =>
  (temporal.api.enums.v1.WorkerDeploymentVersionStatus[s ?? 0] ?? 'UNSPECIFIED').replace('WORKER_DEPLOYMENT_VERSION_STATUS_', '').toLowerCase();
const isoOf = (ts: Parameters<typeof optionalTsToMs>[0]) => {
  const ms = optionalTsToMs(ts);
  return ms === undefined ? undefined : new Date(ms).toISOString();
};

function isNotFound(err: unknown): boolean {
  return (err as { code?: number }).code === 5 || /NOT_FOUND/.test((err as Error).message ?? '');
}

async function describeDeployment(client: Client, config: MlopsConfig, deploymentName: string) {
  try {
    // Retried like a version's describe: a deployment that answered a moment ago can answer
    // NOT_FOUND once (seen under load on the dev server, test/deploy.test.ts).
    return await retryingNotFound(() => client.workflowService.describeWorkerDeployment({ namespace: config.namespace, deploymentName }));
  } catch (err) {
    if (isNotFound(err)) {
      throw new DeploymentRefused(
        `Worker Deployment "${deploymentName}" does not exist on ${config.temporalAddress} (namespace ${config.namespace}): start a worker with MLOPS_DEPLOYMENT_NAME=${deploymentName} first`,
      );
    }
    throw err;
  }
}

/**
 * The server lists a poller for 5 minutes after its last poll (matching.PollerHistoryTTL); a live
 * worker polls again at least every long-poll (about a minute), so older entries are workers gone.
 */
const LIVE_POLLER_MS = 90_000;

/** The builds whose workers poll the task queue for workflow tasks now. */
async function pollersByBuild(client: Client, config: MlopsConfig, deploymentName: string): Promise<Map<string, number>> {
  const described = await client.workflowService.describeTaskQueue({
    namespace: config.namespace,
    taskQueue: { name: config.taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  const counts = new Map<string, number>();
  const since = Date.now() - LIVE_POLLER_MS;
  for (const poller of described.pollers ?? []) {
    const options = poller.deploymentOptions;
    if (options?.deploymentName !== deploymentName || !options.buildId) continue;
    if ((optionalTsToMs(poller.lastAccessTime) ?? 0) < since) continue;
    counts.set(options.buildId, (counts.get(options.buildId) ?? 0) + 1);
  }
  return counts;
}

/**
 * A deployment, or a version it lists, can briefly answer NOT_FOUND when described or updated: the
 * server asks its internal workflow, which may be between runs (seen on PostgreSQL persistence, and
 * on the dev server under load). A few short retries ride that out; after them, NOT_FOUND is the
 * answer (a deployment that does not exist is refused about 4 s later than before).
 */
const NOT_FOUND_RETRIES_MS = [200, 500, 1000, 2000];

async function retryingNotFound<T>(call: () => Promise<T>): Promise<T> {
  for (const waitMs of NOT_FOUND_RETRIES_MS) {
    try {
      return await call();
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
  return call();
}

async function metadataOf<T>(client: Client, config: MlopsConfig, deploymentName: string, buildId: string, key: string): Promise<T | undefined> {
  const described = await retryingNotFound(() =>
    client.workflowService.describeWorkerDeploymentVersion({ namespace: config.namespace, deploymentVersion: { deploymentName, buildId } }),
  ).catch((err) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  const payload = described?.workerDeploymentVersionInfo?.metadata?.entries?.[key];
  return payload ? defaultPayloadConverter.fromPayload<T>(payload) : undefined;
}

async function setMetadata(client: Client, config: MlopsConfig, deploymentName: string, buildId: string, key: string, value: unknown): Promise<void> {
  await retryingNotFound(() =>
    client.workflowService.updateWorkerDeploymentVersionMetadata({
      namespace: config.namespace,
      deploymentVersion: { deploymentName, buildId },
      upsertEntries: { [key]: defaultPayloadConverter.toPayload(value) },
      identity: client.options.identity,
    }),
  );
}

/** Leaves `mlops deploy check`'s verdict on the version, where `set-current` and `ramp` read it. */
export async function recordReplayCheck(client: Client, config: MlopsConfig, deploymentName: string, buildId: string, record: ReplayCheckRecord): Promise<void> {
  await setMetadata(client, config, deploymentName, buildId, REPLAY_CHECK_KEY, record);
}

/** Running workflows by the build their last task ran on (visibility's TemporalWorkerDeploymentVersion). */
async function runningByBuild(
  client: Client,
  config: MlopsConfig,
  deploymentName: string,
): Promise<{ byBuild: Map<string, Record<string, number>>; unversioned: Record<string, number> }> {
  const byBuild = new Map<string, Record<string, number>>();
  const unversioned: Record<string, number> = {};
  const prefix = `${deploymentName}:`;
  for await (const wf of client.workflow.list({ query: `ExecutionStatus = "Running" AND TaskQueue = "${config.taskQueue}"` })) {
    const version = wf.searchAttributes?.TemporalWorkerDeploymentVersion?.[0];
    const buildId = typeof version === 'string' && version.startsWith(prefix) ? version.slice(prefix.length) : undefined;
    let counts = unversioned;
    if (buildId !== undefined) {
      counts = byBuild.get(buildId) ?? {};
      byBuild.set(buildId, counts);
    }
    counts[wf.type] = (counts[wf.type] ?? 0) + 1;
  }
  return { byBuild, unversioned };
}

export async function deploymentStatus(client: Client, config: MlopsConfig): Promise<DeploymentStatus> {
  const deployment = deploymentNameOf(config);
  const described = await describeDeployment(client, config, deployment);
  const info = described.workerDeploymentInfo;
  const routing = info?.routingConfig;
  const [pollers, running] = await Promise.all([pollersByBuild(client, config, deployment), runningByBuild(client, config, deployment)]);
  const versions: VersionStatus[] = [];
  for (const summary of info?.versionSummaries ?? []) {
    const buildId = summary.deploymentVersion?.buildId;
    if (!buildId) continue;
    versions.push({
      buildId,
      status: statusName(summary.status),
      createdAt: isoOf(summary.createTime),
      pollers: pollers.get(buildId) ?? 0,
      running: running.byBuild.get(buildId) ?? {},
      replayCheck: await metadataOf<ReplayCheckRecord>(client, config, deployment, buildId, REPLAY_CHECK_KEY),
    });
  }
  versions.sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? ''));
  const current = routing?.currentDeploymentVersion?.buildId || undefined;
  const rampingBuild = routing?.rampingDeploymentVersion?.buildId || undefined;
  return {
    deployment,
    taskQueue: config.taskQueue,
    current,
    ramping: rampingBuild ? { buildId: rampingBuild, percentage: routing?.rampingVersionPercentage ?? 0 } : undefined,
    versions,
    unversioned: running.unversioned,
  };
}

export interface RoutingChangeOptions {
  /** Skip the replay-check requirement (the other checks still apply). */
  force?: boolean;
}

/** What must hold before a build takes new work: it exists, a worker of it polls, its replay check passed. */
async function checkTakesWork(client: Client, config: MlopsConfig, status: DeploymentStatus, buildId: string, options: RoutingChangeOptions): Promise<void> {
  const version = status.versions.find((v) => v.buildId === buildId);
  if (!version) {
    const known = status.versions.map((v) => v.buildId).join(', ') || 'none yet';
    throw new DeploymentRefused(`Build "${buildId}" is not a version of deployment "${status.deployment}" (known builds: ${known}); start a worker of that build first`);
  }
  if (version.pollers === 0) {
    throw new DeploymentRefused(
      `No worker of build "${buildId}" polls task queue "${config.taskQueue}" now: start one (MLOPS_DEPLOYMENT_NAME=${status.deployment} MLOPS_BUILD_ID=${buildId} mlops worker) before sending it work`,
    );
  }
  if (options.force) return;
  const check = version.replayCheck;
  if (!check) {
    throw new DeploymentRefused(`Build "${buildId}" has no replay check: run \`mlops deploy check\` with that build's code (or pass --force to skip the gate)`);
  }
  if (!check.passed) {
    throw new DeploymentRefused(
      `Build "${buildId}" failed its replay check at ${check.at} (${check.failed.join('; ')}): fix the workflow code (patched()) and check again, or pass --force`,
    );
  }
}

async function conflictTokenOf(client: Client, config: MlopsConfig, deployment: string): Promise<Uint8Array | undefined> {
  return (await describeDeployment(client, config, deployment)).conflictToken ?? undefined;
}

/** Makes `buildId` the build all new work (and every AUTO_UPGRADE workflow, i.e. the registries) goes to. */
export async function setCurrentBuild(client: Client, config: MlopsConfig, buildId: string, options: RoutingChangeOptions = {}): Promise<{ previous?: string; current: string }> {
  const status = await deploymentStatus(client, config);
  if (status.current === buildId) return { previous: buildId, current: buildId };
  await checkTakesWork(client, config, status, buildId, options);
  const response = await client.workflowService.setWorkerDeploymentCurrentVersion({
    namespace: config.namespace,
    deploymentName: status.deployment,
    buildId,
    conflictToken: await conflictTokenOf(client, config, status.deployment),
    identity: client.options.identity,
  });
  const previous = response.previousDeploymentVersion?.buildId || undefined;
  if (previous) await setMetadata(client, config, status.deployment, buildId, PREVIOUS_CURRENT_KEY, { buildId: previous, at: new Date().toISOString() });
  return { previous, current: buildId };
}

/** Sends `percent` % of new workflows to `buildId`, the rest to the current build. 0 stops sending it any. */
export async function rampBuild(
  client: Client,
  config: MlopsConfig,
  buildId: string,
  percent: number,
  options: RoutingChangeOptions = {},
): Promise<{ buildId: string; percentage: number }> {
  if (!Number.isFinite(percent) || percent < 0 || percent > 100) {
    throw new DeploymentRefused(`The ramp share must be a number from 0 to 100 (percent), not ${percent}`);
  }
  const status = await deploymentStatus(client, config);
  if (status.current === buildId) throw new DeploymentRefused(`Build "${buildId}" is already current: it takes all new work; ramp another build`);
  await checkTakesWork(client, config, status, buildId, options);
  await client.workflowService.setWorkerDeploymentRampingVersion({
    namespace: config.namespace,
    deploymentName: status.deployment,
    buildId,
    percentage: percent,
    conflictToken: await conflictTokenOf(client, config, status.deployment),
    identity: client.options.identity,
  });
  return { buildId, percentage: percent };
}

/**
 * Makes the build that was current before this one current again, and stops any ramp. Pinned
 * workflows stay where they are; new work and the registries go back. No replay gate: it is the
 * way out, and the build was current before (its worker must still run: the pollers check holds).
 */
/**
 * For a build made current by other tools (the Temporal CLI, the Web UI), nothing is recorded: the
 * build most recently taken off current or ramping, of those that ever took work (server 1.29.1
 * fills lastDeactivationTime, not lastCurrentTime).
 */
function lastCurrentBefore(summaries: temporal.api.deployment.v1.WorkerDeploymentInfo.IWorkerDeploymentVersionSummary[], current: string): string | undefined {
  return summaries
    .filter((s) => s.deploymentVersion?.buildId && s.deploymentVersion.buildId !== current && optionalTsToMs(s.firstActivationTime))
    .map((s) => ({ buildId: s.deploymentVersion!.buildId!, at: optionalTsToMs(s.lastCurrentTime) ?? optionalTsToMs(s.lastDeactivationTime) ?? 0 }))
    .sort((a, b) => b.at - a.at)[0]?.buildId;
}

export async function rollbackBuild(client: Client, config: MlopsConfig): Promise<{ previous: string; current: string }> {
  const status = await deploymentStatus(client, config);
  const described = await describeDeployment(client, config, status.deployment);
  if (!status.current) throw new DeploymentRefused(`Deployment "${status.deployment}" has no current build: nothing to roll back from`);
  const recorded = await metadataOf<{ buildId: string }>(client, config, status.deployment, status.current, PREVIOUS_CURRENT_KEY);
  const target = recorded?.buildId ?? lastCurrentBefore(described.workerDeploymentInfo?.versionSummaries ?? [], status.current);
  if (!target) throw new DeploymentRefused(`No build of deployment "${status.deployment}" was current before "${status.current}": nothing to roll back to`);
  if (status.ramping) {
    await client.workflowService.setWorkerDeploymentRampingVersion({
      namespace: config.namespace,
      deploymentName: status.deployment,
      buildId: '',
      percentage: 0,
      conflictToken: await conflictTokenOf(client, config, status.deployment),
      identity: client.options.identity,
    });
  }
  const result = await setCurrentBuild(client, config, target, { force: true });
  return { previous: status.current, current: result.current };
}
