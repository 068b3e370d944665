import * as path from 'node:path';
import type { DuckDBInstance } from '@duckdb/node-api';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { type NativeConnection, Worker, type WorkerDeploymentOptions } from '@temporalio/worker';
import { createActivities } from './activities';
import { activityFailureInterceptors } from './activities/failures';
import { loadConfig, type MlopsConfig } from './config';
import { openDuckDb } from './sql/duckdb';
import { sweepScoringStaging } from './scoring/staging';
import { sweepUnpublished } from './datasets/sweep';
import type { ArtifactStore } from './store/artifact-store';
import { openStore } from './store/open';
import { TrainerGroups } from './training/process-groups';
import { dataConverterOf } from './temporal/codec';
import { connectClient, connectWorker } from './temporal/connection';
import { defaultBuildId } from './temporal/build-id';
import { modulePath } from './temporal/module-path';
import type { Client } from '@temporalio/client';

export interface WorkerOptions {
  config: MlopsConfig;
  connection: NativeConnection;
  /** Default: config.taskQueue. Tests give each file its own queue. */
  taskQueue?: string;
  duckdb?: DuckDBInstance;
  /** Client for activities that message other workflows; default: a new connection from config. */
  client?: Client;
  /** Default: src/workflows. Tests give a second build other workflow code (test/fixtures/workflows-v2). */
  workflowsPath?: string;
}

/**
 * The deployment version this worker polls as (MLOPS_DEPLOYMENT_NAME, MLOPS_BUILD_ID or the code's
 * hash), or undefined: versioning is off unless a deployment is named, so unversioned setups keep
 * working exactly as before.
 */
export function workerVersionOf(config: MlopsConfig): WorkerDeploymentVersion | undefined {
  if (!config.deployment) return undefined;
  return { deploymentName: config.deployment.name, buildId: config.deployment.buildId ?? defaultBuildId() };
}

/**
 * Every workflow type is PINNED by default: a run finishes on the build it started on, so a loop
 * waiting days for a person, a canary or a promotion under review never meets other code and
 * needs no patch. The registry opts out (AUTO_UPGRADE, in src/workflows/versioned.ts): it never
 * finishes, so pinned it would hold its first build forever; the replay gate (`mlops deploy
 * check`) proves each new build replays it before that build becomes current.
 */
function deploymentOptionsOf(config: MlopsConfig): WorkerDeploymentOptions | undefined {
  const version = workerVersionOf(config);
  return version && { version, useWorkerVersioning: true, defaultVersioningBehavior: 'PINNED' };
}

/** Longer than any activity's start-to-close timeout, so no live attempt loses its temp folder. */
const STALE_TEMP_MS = 24 * 3600 * 1000;

/** DuckDB's secrets and extensions belong to the instance: set once, every activity's connection reads the store. */
async function setupStoreAccess(duckdb: DuckDBInstance, store: ArtifactStore): Promise<void> {
  const conn = await duckdb.connect();
  try {
    await store.backend.setupDuckDb(conn);
  } finally {
    conn.closeSync();
  }
}

/** A worker polling our task queue with every workflow and activity registered. */
export async function createWorker(options: WorkerOptions): Promise<Worker> {
  const { config } = options;
  const store = openStore(config);
  // Wrong credentials or a missing bucket fail here, naming the setting, not in the first activity.
  await store.backend.check();
  await store.removeStaleTemp(STALE_TEMP_MS);
  // Parts of split scoring runs that failed or were terminated (a live run's staging keeps changing).
  await sweepScoringStaging(store, STALE_TEMP_MS);
  const swept = await sweepUnpublished(store, STALE_TEMP_MS);
  if (swept.length) console.log(`removed ${swept.length} unpublished leftover(s) from the store: ${swept.map((s) => s.uri).join(', ')}`);
  // Trainers a killed worker on this host left running would run on beside their own retry.
  const reaped = new TrainerGroups(store.trainerGroupsDir()).reapOrphans();
  if (reaped.length) console.log(`ended ${reaped.length} external trainer process group(s) left by a worker that died: ${reaped.join(', ')}`);
  const duckdb = options.duckdb ?? (await openDuckDb(config.duckdb));
  await setupStoreAccess(duckdb, store);
  return Worker.create({
    connection: options.connection,
    namespace: config.namespace,
    taskQueue: options.taskQueue ?? config.taskQueue,
    // A versioned worker bundles the entry that also sets the registry's behaviour (see versioned.ts).
    workflowsPath: options.workflowsPath ?? modulePath(path.join(__dirname, 'workflows'), config.deployment ? 'versioned' : 'index'),
    workerDeploymentOptions: deploymentOptionsOf(config),
    dataConverter: dataConverterOf(config.payloadEncryption),
    // CPU-heavy activities (training, scoring) beyond a few per core only slow each other down and
    // delay the workflow tasks that share this worker's event loop (seen as task timeouts in bench:load).
    maxConcurrentActivityTaskExecutions: config.maxConcurrentActivities,
    interceptors: { activity: [activityFailureInterceptors({ storeRoot: store.root, memoryLimit: config.duckdb.memoryLimit })] },
    activities: createActivities({
      store,
      duckdb,
      ingestAllowedRoots: config.ingestAllowedRoots,
      client: options.client ?? (await connectClient(config)),
      taskQueue: options.taskQueue ?? config.taskQueue,
      trainerCommands: config.trainerCommands,
      maxColumns: config.maxColumns,
      webUiUrl: config.webUiUrl,
    }),
  });
}

export async function runWorker(config = loadConfig()): Promise<void> {
  const connection = await connectWorker(config);
  const client = await connectClient(config);
  try {
    const worker = await createWorker({ config, connection, client });
    const version = workerVersionOf(config);
    console.log(
      `mlops worker polling task queue "${config.taskQueue}" on ${config.temporalAddress} (namespace ${config.namespace}); store ${config.store.kind === 's3' ? config.store.url : config.dataDir}${version ? `; deployment ${version.deploymentName}, build ${version.buildId}` : ''}`,
    );
    // The SDK shuts the worker down gracefully on SIGINT/SIGTERM; run() returns after that.
    await worker.run();
  } finally {
    await client.connection.close();
    await connection.close();
  }
}

if (require.main === module) {
  runWorker().catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
