import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, startIngest } from '../src/client/ingest';
import type { DatasetManifest, DatasetVersionRef } from '../src/datasets/manifest';
import { sha256 } from '../src/store/hash';
import { cliFor } from './helpers/cli';
import { type TestEnv, startTestEnv } from './helpers/env';
import { rootFailure } from './helpers/failures';
import { payloadsOf } from './helpers/histories';
import { finishingAttempt } from './helpers/worker-process';

/**
 * Wide input (a 2 MB CSV with 10,001 columns drove DuckDB to 18.8 GiB, five times) and what keeps
 * it in bounds: a column cap, a DuckDB memory limit per worker, resource exhaustion that is not
 * retried, and a contract too large for payloads that travels by reference.
 */
let env: TestEnv;
let small: TestEnv;
beforeAll(async () => {
  env = await startTestEnv('wide-input');
  small = await startTestEnv('wide-input-32mib', { MLOPS_DUCKDB_MEMORY_LIMIT: '32MiB' });
});
afterAll(async () => {
  await small?.shutdown();
  await env?.shutdown();
});

/** id, c0 … c(n-2): small integers, generated (big inputs are not committed). */
function writeWideCsv(file: string, columns: number, rows: number): void {
  const header = ['id', ...Array.from({ length: columns - 1 }, (_, i) => `c${i}`)].join(',');
  const lines = [header];
  for (let r = 0; r < rows; r++) lines.push([r, ...Array.from({ length: columns - 1 }, (_, i) => (r * 7 + i) % 10)].join(','));
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

const mlops = (...args: string[]) => cliFor(env.config)(...args);

describe('a CSV with 10,001 columns', () => {
  it('is refused up front, once, naming the count and the setting', async () => {
    const file = path.join(env.inputDir, 'wide.csv');
    writeWideCsv(file, 10_001, 100);
    expect(fs.statSync(file).size).toBeGreaterThan(2_000_000);
    const started = Date.now();
    const handle = await startIngest(env.client, env.config, { dataset: 'wide', source: file });
    const failure = await rootFailure(handle.result());
    console.log(`10,001 columns refused in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(failure.type).toBe('TooManyColumns');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/has 10,001 columns, more than this worker validates and profiles \(MLOPS_MAX_COLUMNS=2000\)/);
    expect(await finishingAttempt(handle, 'buildDatasetVersion')).toBe(1);
    expect(fs.existsSync(env.store.path('datasets', 'wide'))).toBe(false);
  });
});

describe('a contract too large to ride in payloads', () => {
  const columns = 900;
  let file = '';
  let contractFile = '';
  const contract = {
    columns: [{ name: 'id', type: 'integer', nullable: false }, ...Array.from({ length: columns - 1 }, (_, i) => ({ name: `c${i}`, type: 'integer', min: 0, max: 9 }))],
    key: ['id'],
  };
  beforeAll(() => {
    file = path.join(env.inputDir, 'w900.csv');
    writeWideCsv(file, columns, 20);
    contractFile = path.join(env.inputDir, 'w900.contract.json');
    fs.writeFileSync(contractFile, JSON.stringify(contract, null, 2));
  });

  it('goes by reference from `mlops ingest --contract`, and no payload carries it', async () => {
    const run = await mlops('ingest', 'w900', file, '--contract', contractFile, '--json');
    expect(run.code, run.stderr).toBe(0);
    const ref = JSON.parse(run.stdout) as DatasetVersionRef;
    expect(ref.rows).toEqual({ read: 20, accepted: 20, rejected: 0 });
    const manifest = (await env.store.readJson<DatasetManifest>(ref.manifestUri))!;
    expect(manifest.contract.columns).toHaveLength(columns);
    expect(manifest.contractInferred).toBe(false);
    expect(fs.readFileSync(env.store.contractFile(sha256(fs.readFileSync(contractFile))), 'utf8')).toBe(fs.readFileSync(contractFile, 'utf8'));

    let largest = 0;
    for await (const wf of env.client.workflow.list({ query: `TaskQueue = "${env.config.taskQueue}" AND WorkflowType = "ingestDataset" AND ExecutionStatus = "Completed"` })) {
      for (const p of payloadsOf(await env.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory())) largest = Math.max(largest, p.data?.length ?? 0);
    }
    expect(JSON.stringify(contract).length).toBeGreaterThan(32_000);
    expect(largest).toBeGreaterThan(0);
    expect(largest).toBeLessThan(8_000);
  });

  it('is refused inline, by the client and by the workflow itself', async () => {
    const inline = ingest(env.client, env.config, { dataset: 'w900', source: file, contract: contract as never });
    await expect(inline).rejects.toThrow(
      /contract: \d+ KB inline \(900 columns\) would ride in every payload of the ingest, kept in history; above 32 KB pass it as a file the worker can read: contractRef \{uri, sha256\}/,
    );
    const raw = await env.client.workflow.start('ingestDataset', {
      taskQueue: env.config.taskQueue,
      workflowId: 'raw-inline-contract',
      args: [{ dataset: 'w900', source: file, contract }],
    });
    const failure = await rootFailure(raw.result());
    expect(failure.type).toBe('InvalidInput');
    expect(failure.message).toMatch(/contract: \d+ KB inline/);
  });

  it('is refused when the file no longer matches the sha256 the request was made with', async () => {
    const failure = await rootFailure(ingest(env.client, env.config, { dataset: 'w900', source: file, contractRef: { uri: contractFile, sha256: 'a'.repeat(64) } }));
    expect(failure.type).toBe('InvalidInput');
    expect(failure.message).toMatch(/has sha256 [0-9a-f]{64}, not a{64} as the request says: it changed after the request was made/);
  });
});

describe('a worker with a 32 MiB DuckDB memory limit', () => {
  it('fails an ingest that needs more with OutOfMemory, once, naming the limit and the setting', async () => {
    const file = path.join(small.inputDir, 'distinct.csv');
    const lines = ['id,s'];
    for (let r = 0; r < 300_000; r++) lines.push(`${r},value-${r}-${(r * 2654435761) % 1000003}`);
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const handle = await startIngest(small.client, small.config, { dataset: 'distinct', source: file });
    const failure = await rootFailure(handle.result());
    expect(failure.type).toBe('OutOfMemory');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/^Out of memory: Out of Memory Error: .* \(DuckDB's limit on this worker: 32MiB, MLOPS_DUCKDB_MEMORY_LIMIT\)/);
    expect(await finishingAttempt(handle, 'buildDatasetVersion')).toBe(1);
    // The same file fits the default limit.
    expect((await ingest(env.client, env.config, { dataset: 'distinct', source: file })).rows.accepted).toBe(300_000);
  });
});
