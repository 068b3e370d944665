import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { inject } from 'vitest';
import { loadConfig, type MlopsConfig } from '../../src/config';
import { openDuckDb } from '../../src/sql/duckdb';
import type { ArtifactStore } from '../../src/store/artifact-store';
import { openStore } from '../../src/store/open';
import { clientOf } from '../../src/temporal/connection';
import { createWorker } from '../../src/worker';
import { auditHistories, recordHistories } from './histories';

export interface TestEnv {
  config: MlopsConfig;
  client: Client;
  store: ArtifactStore;
  /** Scratch folder for input files, outside the artifact store. */
  inputDir: string;
  shutdown(): Promise<void>;
}

let runtimeInstalled = false;

/**
 * A secret-looking variable every worker of the run holds (in-process and spawned ones inherit
 * it): if it ever shows up in a history, something records the worker's environment.
 */
export const CANARY_SECRET = (process.env.MLOPS_TEST_CANARY_TOKEN ??= `canary-${randomBytes(12).toString('hex')}`);

export interface TestEnvOptions {
  /** false: no worker in this process; the test starts its own (e.g. `mlops worker`) on config.taskQueue. */
  worker?: boolean;
}

/** A real worker on its own task queue and data dir, against the run's Temporal server. One per test file. */
export async function startTestEnv(label: string, env: Record<string, string> = {}, options: TestEnvOptions = {}): Promise<TestEnv> {
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
  const connection = await Connection.connect({ address });
  const client = clientOf(connection, config);
  const inProcess = options.worker === false ? undefined : await startInProcessWorker(config, client);
  const secrets = [CANARY_SECRET, ...(config.payloadEncryption ? [env.MLOPS_PAYLOAD_KEY!, config.payloadEncryption.key.key.toString('hex')] : [])];
  return {
    config,
    client,
    store: openStore(config),
    inputDir,
    async shutdown() {
      if (process.env.MLOPS_RECORD_HISTORIES) await recordHistories(client, config.taskQueue, process.env.MLOPS_RECORD_HISTORIES);
      // Every test file doubles as a payload-size and secret-leak check over all it ran.
      const audit = await auditHistories(client, config.taskQueue, secrets);
      // Long-running workflows (registries) of this file would outlive its worker; end them so
      // that other files listing the shared namespace only meet workflows someone serves.
      for await (const wf of client.workflow.list({ query: `TaskQueue = "${config.taskQueue}" AND ExecutionStatus = "Running"` })) {
        await client.workflow
          .getHandle(wf.workflowId, wf.runId)
          .terminate('test file finished')
          .catch(() => undefined);
      }
      await inProcess?.stop();
      await connection.close();
      fs.rmSync(root, { recursive: true, force: true });
      if (audit.problems.length) throw new Error(`History audit of ${label}:\n  ${audit.problems.join('\n  ')}`);
    },
  };
}

async function startInProcessWorker(config: MlopsConfig, client: Client): Promise<{ stop(): Promise<void> }> {
  const workerConnection = await NativeConnection.connect({ address: config.temporalAddress });
  const duckdb = await openDuckDb({ ...config.duckdb, threads: 2 });
  const worker = await createWorker({ config, connection: workerConnection, duckdb, client });
  const running = worker.run();
  return {
    async stop() {
      worker.shutdown();
      await running;
      await workerConnection.close();
      duckdb.closeSync();
    },
  };
}
