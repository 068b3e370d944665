import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { expect } from 'vitest';
import { startPipeline } from '../../src/client/promote';
import { registryState } from '../../src/client/train';
import type { MlopsConfig } from '../../src/config';
import { listVersions } from '../../src/datasets/catalog';
import { openDuckDb } from '../../src/sql/duckdb';
import { quoteString } from '../../src/sql/quote';
import { ArtifactStore } from '../../src/store/artifact-store';
import type { trainAndPromote } from '../../src/workflows';
import { CHURN_CONTRACT } from './training';
import { spawnWorker, stopWorker, waitForWork } from './worker-process';

/**
 * An ingest → train → promote pipeline, large enough (600k rows, 80 trees) that `restart` can
 * break something mid-ingest and again mid-training; a worker in its own process keeps working.
 * `restart` gets the client in use and returns the one to use after it. Checks that the pipeline
 * completed with one dataset version, one registered model version, and that one in production;
 * `alsoCheck` runs before the client is closed.
 */
export async function pipelineThroughRestarts(
  config: MlopsConfig,
  model: string,
  connect: () => Promise<Client>,
  restart: (client: Client) => Promise<Client>,
  alsoCheck: (client: Client, workflowId: string) => Promise<void> = async () => undefined,
): Promise<void> {
  const store = new ArtifactStore(config.dataDir);
  const csv = path.join(path.dirname(config.dataDir), 'churn.csv');
  const db = await openDuckDb();
  await (
    await db.connect()
  ).run(
    `COPY (SELECT i AS id, (hash(i, 1) % 4000) / 1000.0 - 2 AS x1, (hash(i, 2) % 4000) / 1000.0 - 2 AS x2,
                  ['red', 'green', 'blue'][(1 + hash(i, 3) % 3)::INTEGER] AS color, hash(i, 4) % 3 = 0 AS churned
           FROM range(600000) t(i)) TO ${quoteString(csv)} (HEADER)`,
  );
  db.closeSync();

  const worker = spawnWorker(config, config.taskQueue);
  let client = await connect();
  try {
    const handle = await startPipeline(client, config, {
      ingest: { dataset: 'churn', source: csv, contract: CHURN_CONTRACT },
      train: { model, dataset: 'churn', trainer: { kind: 'gbdt', params: { nEstimators: 80 } } },
      promote: {},
    });
    const tmpRoot = store.tmpDir();
    const working = (prefix: string) => () => fs.existsSync(tmpRoot) && fs.readdirSync(tmpRoot).some((d) => d.startsWith(prefix));

    await waitForWork(working('dataset-churn-'), worker, 'ingest');
    expect(await listVersions(store, 'churn'), 'ingest finished before the restart').toHaveLength(0);
    client = await restart(client);
    await waitForWork(working(`model-${model}-`), worker, 'training', 180_000);
    expect(fs.existsSync(store.path('models', model, 'versions')), 'training finished before the restart').toBe(false);
    client = await restart(client);

    const result = await client.workflow.getHandle<typeof trainAndPromote>(handle.workflowId).result();
    expect(result.promotion.phase, JSON.stringify(result.promotion.decision)).toBe('promoted');
    expect((await listVersions(store, 'churn')).map((v) => v.version)).toEqual([result.dataset!.version]);
    const state = await registryState(client, model);
    expect(state.versions.map((v) => v.version)).toEqual([result.trained.summary.version]);
    expect(state.aliases.production).toBe(result.trained.summary.version);
    expect(state.decisions.filter((d) => d.action === 'register')).toHaveLength(1);
    await alsoCheck(client, handle.workflowId);
  } finally {
    await client.connection.close();
    await stopWorker(worker.child);
  }
}
