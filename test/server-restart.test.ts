import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { startPipeline } from '../src/client/promote';
import { registryState } from '../src/client/train';
import { loadConfig } from '../src/config';
import { listVersions } from '../src/datasets/catalog';
import { openDuckDb } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { ArtifactStore } from '../src/store/artifact-store';
import { type DevServer, freePort, startDevServer } from '../src/temporal/dev-server';
import type { trainAndPromote } from '../src/workflows';
import { CHURN_CONTRACT } from './helpers/training';
import { spawnWorker, stopWorker, waitForWork } from './helpers/worker-process';

/**
 * The Temporal server itself goes away twice in the middle of a pipeline (mid-ingest, then
 * mid-training) and comes back from its SQLite file: the worker reconnects and the pipeline
 * finishes as if nothing happened. Its own server, so the rest of the suite is not disturbed.
 */
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-restart-'));
let server: DevServer | undefined;
afterAll(async () => {
  await server?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('a Temporal server restarted mid-pipeline', () => {
  it('completes the pipeline with one version of everything', async () => {
    const port = await freePort();
    const dbFile = path.join(root, 'temporal.sqlite');
    const start = async () => (server = await startDevServer({ headless: true, port, dbFile, logFile: path.join(root, 'server.log') }));
    await start();
    const config = loadConfig({ TEMPORAL_ADDRESS: server!.address, MLOPS_DATA_DIR: path.join(root, 'store'), MLOPS_TASK_QUEUE: `restart-${randomBytes(4).toString('hex')}` });
    const store = new ArtifactStore(config.dataDir);
    const csv = path.join(root, 'churn.csv');
    const db = await openDuckDb();
    await (await db.connect()).run(
      `COPY (SELECT i AS id, (hash(i, 1) % 4000) / 1000.0 - 2 AS x1, (hash(i, 2) % 4000) / 1000.0 - 2 AS x2,
                    ['red', 'green', 'blue'][(1 + hash(i, 3) % 3)::INTEGER] AS color, hash(i, 4) % 3 = 0 AS churned
             FROM range(600000) t(i)) TO ${quoteString(csv)} (HEADER)`,
    );
    db.closeSync();

    const worker = spawnWorker(config, config.taskQueue);
    const connect = async () => new Client({ connection: await Connection.connect({ address: config.temporalAddress }) });
    let client = await connect();
    try {
      const handle = await startPipeline(client, config, {
        ingest: { dataset: 'churn', source: csv, contract: CHURN_CONTRACT },
        train: { model: 'resilient', dataset: 'churn', trainer: { kind: 'gbdt', params: { nEstimators: 80 } } },
        promote: {},
      });
      const tmpRoot = store.tmpDir();
      const working = (prefix: string) => () => fs.existsSync(tmpRoot) && fs.readdirSync(tmpRoot).some((d) => d.startsWith(prefix));
      const restart = async () => {
        await client.connection.close();
        await server!.stop();
        await new Promise((r) => setTimeout(r, 1000));
        await start();
        client = await connect();
      };

      await waitForWork(working('dataset-churn-'), worker, 'ingest');
      expect(await listVersions(store, 'churn'), 'ingest finished before the restart').toHaveLength(0);
      await restart();
      await waitForWork(working('model-resilient-'), worker, 'training', 180_000);
      expect(fs.existsSync(store.path('models', 'resilient', 'versions')), 'training finished before the restart').toBe(false);
      await restart();

      const result = await client.workflow.getHandle<typeof trainAndPromote>(handle.workflowId).result();
      expect(result.promotion.phase, JSON.stringify(result.promotion.decision)).toBe('promoted');
      expect((await listVersions(store, 'churn')).map((v) => v.version)).toEqual([result.dataset!.version]);
      const state = await registryState(client, 'resilient');
      expect(state.versions.map((v) => v.version)).toEqual([result.trained.summary.version]);
      expect(state.aliases.production).toBe(result.trained.summary.version);
      expect(state.decisions.filter((d) => d.action === 'register')).toHaveLength(1);
    } finally {
      await client.connection.close();
      await stopWorker(worker.child);
    }
  }, 400_000);
});
