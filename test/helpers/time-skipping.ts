import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config';
import { openDuckDb } from '../../src/sql/duckdb';
import { ArtifactStore } from '../../src/store/artifact-store';
import { addMissingSearchAttributes } from '../../src/temporal/search-attribute-registration';
import { createWorker } from '../../src/worker';
import type { TestEnv } from './env';

export interface TimeSkippingEnv extends TestEnv {
  /** The environment: `sleep` skips workflow time, `currentTimeMs` reads it. */
  temporal: TestWorkflowEnvironment;
  /**
   * A client that does not skip time while it waits, so workflow time moves only by
   * `temporal.sleep`. Needed once a model exists: awaiting a result with skipping on lets the
   * server jump, as soon as nothing else runs, to the next timer it knows — the registry's
   * 10-year run timeout (the server's default), which closes the registry.
   */
  steadyClient: Client;
}

/**
 * The real worker (real activities, DuckDB, ONNX Runtime, store) against Temporal's
 * time-skipping test server, started for this file: a timer of days fires as soon as nothing
 * else runs. Its client awaits results with time skipping on. One per test file.
 */
export async function startTimeSkippingEnv(label: string): Promise<TimeSkippingEnv> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const temporal = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: inject('javaTestServer') } } });
  await addMissingSearchAttributes(temporal.connection, temporal.namespace ?? 'default');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `mlops-${label}-`));
  const config = loadConfig({
    TEMPORAL_ADDRESS: temporal.address,
    MLOPS_DATA_DIR: path.join(root, 'store'),
    MLOPS_TASK_QUEUE: `test-${label}-${randomBytes(4).toString('hex')}`,
  });
  const inputDir = path.join(root, 'inputs');
  fs.mkdirSync(inputDir, { recursive: true });
  const duckdb = await openDuckDb({ ...config.duckdb, threads: 2 });
  const worker = await createWorker({ config, connection: temporal.nativeConnection, duckdb, client: temporal.client });
  const running = worker.run();
  return {
    temporal,
    config,
    client: temporal.client,
    steadyClient: new Client({ connection: temporal.connection, namespace: temporal.namespace }),
    store: new ArtifactStore(config.dataDir),
    inputDir,
    async shutdown() {
      worker.shutdown();
      await running;
      duckdb.closeSync();
      await temporal.teardown();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
