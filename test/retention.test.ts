import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../src/client/ingest';
import { retentionScheduleId, scheduleRetentionSweep } from '../src/client/schedules';
import type { DatasetManifest } from '../src/datasets/manifest';
import type { RetentionSweepRequest } from '../src/datasets/request';
import type { SweepReport } from '../src/datasets/retention';
import { predictionLogFiles } from '../src/scoring/runs';
import { openDuckDb } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { people, peopleContract, writePeopleCsv } from './helpers/data';
import { type TestEnv, startTestEnv } from './helpers/env';

let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv('retention');
});
afterAll(async () => {
  await env?.shutdown();
});

const DAY = 86_400_000;

async function sweep(asOf: Date, id: string, request: Omit<RetentionSweepRequest, 'asOf'> = {}): Promise<SweepReport> {
  return env.client.workflow.execute('retentionSweep', {
    taskQueue: env.config.taskQueue,
    workflowId: id,
    args: [{ asOf: asOf.toISOString(), ...request }],
  });
}

describe('retentionSweep', () => {
  it('deletes exactly the expired raw copies and records what it deleted', async () => {
    const retention = { short: 1, medium: 10, long: 100 } as const;
    const manifests: Record<string, DatasetManifest> = {};
    for (const [name, days] of Object.entries(retention)) {
      const file = path.join(env.inputDir, `${name}.csv`);
      writePeopleCsv(file, people(30, days));
      const ref = await ingest(env.client, env.config, { dataset: `raw-${name}`, source: file, contract: peopleContract, retentionDays: days });
      manifests[name] = JSON.parse(fs.readFileSync(ref.manifestUri, 'utf8')) as DatasetManifest;
    }
    const now = Date.parse(manifests.long!.createdAt);

    const nothingYet = await sweep(new Date(now + 0.5 * DAY), 'sweep-early');
    expect(nothingYet.deleted).toEqual([]);
    expect(nothingYet.kept).toBe(3);

    const report = await sweep(new Date(now + 11 * DAY), 'sweep-day-11');
    expect(report.deleted.map((d) => d.dataset).sort()).toEqual(['raw-medium', 'raw-short']);
    expect(report.kept).toBe(1);
    expect(report.deleted.every((d) => d.bytes > 0)).toBe(true);
    expect(fs.existsSync(manifests.short!.raw.uri)).toBe(false);
    expect(fs.existsSync(manifests.medium!.raw.uri)).toBe(false);
    expect(fs.existsSync(manifests.long!.raw.uri)).toBe(true);
    // The published snapshots are not raw data: they stay.
    expect(fs.existsSync(manifests.short!.snapshot.uri)).toBe(true);
    const recorded = JSON.parse(fs.readFileSync(report.reportUri, 'utf8')) as SweepReport;
    expect(recorded.deleted).toHaveLength(2);
  });

  it('re-ingesting the same bytes extends, never shortens, the retention', async () => {
    const file = path.join(env.inputDir, 'extend.csv');
    writePeopleCsv(file, people(20, 99));
    const first = await ingest(env.client, env.config, { dataset: 'raw-extend', source: file, contract: peopleContract, retentionDays: 2 });
    await ingest(env.client, env.config, { dataset: 'raw-extend', source: file, contract: peopleContract, retentionDays: 20 });
    await ingest(env.client, env.config, { dataset: 'raw-extend', source: file, contract: peopleContract, retentionDays: 1 });
    const record = JSON.parse(fs.readFileSync(path.join(path.dirname(first.manifestUri), 'manifest.json'), 'utf8')) as DatasetManifest;
    const retention = JSON.parse(fs.readFileSync(path.join(record.raw.uri, 'retention.json'), 'utf8')) as { expiresAt: string };
    expect((Date.parse(retention.expiresAt) - Date.parse(record.createdAt)) / DAY).toBeCloseTo(20, 1);
  });

  it("deletes a model server's online log part by part as each passes its days, then the run; a batch run is not touched", async () => {
    // A server's log as `mlops serve` leaves it (predictions/<model>/online-<time>-<server>/part-*.parquet, no run.json), written by DuckDB.
    const runId = 'online-20261201T000000Z-5e7e';
    const run = env.store.path('predictions', 'served', runId);
    const part = (n: number) => path.join(run, `part-0000${n}.parquet`);
    fs.mkdirSync(run, { recursive: true });
    const db = await openDuckDb();
    const conn = await db.connect();
    for (const n of [0, 1]) await conn.run(`COPY (SELECT ${n} AS row_number, 'k${n}' AS key) TO ${quoteString(part(n))} (FORMAT parquet)`);
    conn.closeSync();
    // A batch run that happens to be called online-…: it has a run.json, and its own expiry.
    const batch = env.store.path('predictions', 'served', 'online-batch');
    fs.mkdirSync(batch, { recursive: true });
    fs.copyFileSync(part(0), path.join(batch, 'part-00000.parquet'));
    fs.writeFileSync(path.join(batch, 'run.json'), JSON.stringify({ model: 'served', runId: 'online-batch', expiresAt: '2999-01-01T00:00:00Z', parts: [] }));
    const now = Date.now();
    const fortyDaysAgo = new Date(now - 40 * DAY);
    for (const file of [part(0), path.join(batch, 'part-00000.parquet')]) fs.utimesSync(file, fortyDaysAgo, fortyDaysAgo);

    const first = await sweep(new Date(now), 'sweep-online-1', { onlineLogRetentionDays: 30 });
    expect(first.onlineLogParts).toEqual([
      { model: 'served', runId, key: `predictions/served/${runId}/part-00000.parquet`, bytes: expect.any(Number), writtenAt: fortyDaysAgo.toISOString() },
    ]);
    expect(first.onlineLogParts[0]!.bytes).toBeGreaterThan(0);
    expect(fs.existsSync(part(0))).toBe(false);
    expect(fs.existsSync(part(1))).toBe(true);
    expect(await predictionLogFiles(env.store, 'served', (id) => id === runId)).toEqual([part(1)]);

    const second = await sweep(new Date(now + 31 * DAY), 'sweep-online-2', { onlineLogRetentionDays: 30 });
    expect(second.onlineLogParts.map((p) => p.key)).toEqual([`predictions/served/${runId}/part-00001.parquet`]);
    expect(fs.existsSync(run)).toBe(false);
    expect(fs.existsSync(path.join(batch, 'part-00000.parquet'))).toBe(true);
    await expect(sweep(new Date(now), 'sweep-online-bad', { onlineLogRetentionDays: 0 })).rejects.toThrow();
  });

  it('creates a Temporal Schedule for the sweep, and updates it when asked again', async () => {
    await scheduleRetentionSweep(env.client, env.config, '1d');
    await scheduleRetentionSweep(env.client, env.config, '12h');
    const handle = env.client.schedule.getHandle(retentionScheduleId(env.config.taskQueue));
    try {
      const description = await handle.describe();
      expect(description.spec.intervals?.[0]?.every).toBe(12 * 3600 * 1000);
      expect(description.action.type).toBe('startWorkflow');
      if (description.action.type === 'startWorkflow') expect(description.action.workflowType).toBe('retentionSweep');
    } finally {
      await handle.delete();
    }
    await expect(scheduleRetentionSweep(env.client, env.config, 'daily')).rejects.toThrow(/Invalid --every:\s+- a duration such as 30s, 15m, 24h, 7d/);
    await expect(scheduleRetentionSweep(env.client, env.config, '30s')).rejects.toThrow(/interval must be at least 60s/);
  });
});
