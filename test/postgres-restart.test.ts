import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { type PostgresTemporal, startPostgresTemporal } from '../src/temporal/postgres-server';
import { ensureSystemProgram, POSTGRESQL } from '../scripts/system-packages';
import { pipelineThroughRestarts } from './helpers/restarts';

/**
 * The database under Temporal goes away in the middle of a pipeline — PostgreSQL restarted
 * (pg_ctl restart -m fast: every connection cut) mid-ingest, then mid-training — while the
 * Temporal server and the worker stay up: the server reconnects and the pipeline finishes with
 * one version of everything. Its own server and cluster, so the rest of the run is undisturbed.
 */
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-pg-restart-'));
let server: PostgresTemporal | undefined;
afterAll(async () => {
  await server?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('PostgreSQL restarted under a running pipeline', () => {
  it('keeps history and visibility in PostgreSQL, and the pipeline completes with one version of everything', async () => {
    server = await startPostgresTemporal({ initdb: ensureSystemProgram(POSTGRESQL) });
    const config = loadConfig({ TEMPORAL_ADDRESS: server.address, MLOPS_DATA_DIR: path.join(root, 'store'), MLOPS_TASK_QUEUE: `pg-restart-${randomBytes(4).toString('hex')}` });
    const connect = async () => new Client({ connection: await Connection.connect({ address: config.temporalAddress }) });
    let restarts = 0;
    await pipelineThroughRestarts(
      config,
      'pg-resilient',
      async () => {
        const client = await connect();
        const info = await client.workflowService.getClusterInfo({});
        expect({ persistence: info.persistenceStore, visibility: info.visibilityStore }).toEqual({ persistence: 'postgres12', visibility: 'postgres12' });
        return client;
      },
      async (client) => {
        const before = server!.postgres.pid();
        const logStart = fs.statSync(server!.postgres.logFile).size;
        await server!.restartPostgres();
        expect(server!.postgres.pid(), 'a new postmaster').not.toBe(before);
        // Fast shutdown cut Temporal's sessions; a new postmaster serves.
        const log = fs.readFileSync(server!.postgres.logFile).subarray(logStart).toString();
        expect(log).toMatch(/terminating connection due to administrator command/);
        expect(log).toMatch(/database system is ready to accept connections/);
        restarts++;
        return client;
      },
      async (client, workflowId) => {
        // SQL visibility saw the pipeline through both restarts, search attributes included.
        const listed: string[] = [];
        for await (const wf of client.workflow.list({ query: 'MlopsModel = "pg-resilient" AND ExecutionStatus = "Completed"' })) listed.push(wf.workflowId);
        expect(listed).toContain(workflowId);
      },
    );
    expect(restarts).toBe(2);
  }, 400_000);
});
