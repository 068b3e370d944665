import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { inject } from 'vitest';
import { loadConfig, type MlopsConfig } from '../../src/config';
import { openDuckDb } from '../../src/sql/duckdb';
import { ArtifactStore } from '../../src/store/artifact-store';
import { createWorker } from '../../src/worker';

export interface TestEnv {
  config: MlopsConfig;
  client: Client;
  store: ArtifactStore;
  /** Scratch folder for input files, outside the artifact store. */
  inputDir: string;
  shutdown(): Promise<void>;
}

let runtimeInstalled = false;

/** A real worker on its own task queue and data dir, against the run's Temporal server. One per test file. */
export async function startTestEnv(label: string, env: Record<string, string> = {}): Promise<TestEnv> {
  const address = inject('temporalAddress');
  if (!runtimeInstalled) {
    // Failing activities are expected in tests; their WARN logs would bury the test report.
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    runtimeInstalled = true;
  }
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `mlops-${label}-`));
  const config = loadConfig({
    TEMPORAL_ADDRESS: address,
    MLOPS_DATA_DIR: path.join(root, 'store'),
    MLOPS_TASK_QUEUE: `test-${label}-${randomBytes(4).toString('hex')}`,
    ...env,
  });
  const inputDir = path.join(root, 'inputs');
  fs.mkdirSync(inputDir, { recursive: true });
  const workerConnection = await NativeConnection.connect({ address });
  const duckdb = await openDuckDb({ threads: 2 });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: config.namespace });
  const worker = await createWorker({ config, connection: workerConnection, duckdb, client });
  const running = worker.run();
  return {
    config,
    client,
    store: new ArtifactStore(config.dataDir),
    inputDir,
    async shutdown() {
      if (process.env.MLOPS_RECORD_HISTORIES) await recordHistories(client, config.taskQueue, process.env.MLOPS_RECORD_HISTORIES);
      // Long-running workflows (registries) of this file would outlive its worker; end them so
      // that other files listing the shared namespace only meet workflows someone serves.
      for await (const wf of client.workflow.list({ query: `TaskQueue = "${config.taskQueue}" AND ExecutionStatus = "Running"` })) {
        await client.workflow.getHandle(wf.workflowId, wf.runId).terminate('test file finished').catch(() => undefined);
      }
      worker.shutdown();
      await running;
      await connection.close();
      await workerConnection.close();
      duckdb.closeSync();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * `MLOPS_RECORD_HISTORIES=test/fixtures/histories npm test` refreshes the replay fixtures: one
 * history per workflow type (a completed run where there is one), first writer wins across files.
 */
async function recordHistories(client: Client, taskQueue: string, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const seen = new Set<string>();
  for await (const wf of client.workflow.list({ query: `TaskQueue = "${taskQueue}"` })) {
    const type = wf.type;
    const file = path.join(dir, `${type}.json`);
    if (seen.has(type) || fs.existsSync(file)) continue;
    const completed = wf.status.name === 'COMPLETED';
    // A running registry is the only long-running type worth keeping open-ended; others wait for a completed run.
    if (!completed && type !== 'modelRegistry') continue;
    seen.add(type);
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    try {
      const History = temporal.api.history.v1.History;
      const json = History.toObject(History.fromObject(history), { longs: String, enums: String, bytes: String });
      // Workflows derive child ids from their own id, so replay needs it too.
      fs.writeFileSync(file, JSON.stringify({ workflowId: wf.workflowId, history: json }), { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
