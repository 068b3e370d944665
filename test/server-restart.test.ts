import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, it } from 'vitest';
import { loadConfig } from '../src/config';
import { type DevServer, freePort, startDevServer } from '../src/temporal/dev-server';
import { pipelineThroughRestarts } from './helpers/restarts';

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
    const connect = async () => new Client({ connection: await Connection.connect({ address: config.temporalAddress }) });
    await pipelineThroughRestarts(config, 'resilient', connect, async (client) => {
      await client.connection.close();
      await server!.stop();
      await new Promise((r) => setTimeout(r, 1000));
      await start();
      return connect();
    });
  }, 400_000);
});
