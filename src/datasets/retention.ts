import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ArtifactStore } from '../store/artifact-store';
import { layout } from '../store/layout';
import { expiredPredictionRuns } from '../scoring/retention';
import { RETENTION_FILE, type RawRetentionRecord } from './raw';

/**
 * Deletes raw copies and prediction logs whose retention has expired, and only those. The report of what was deleted
 * is written before deleting and merged on retry, so a crash mid-sweep still leaves a full record.
 */
/** Longer than an ingestion's longest activity timeout, so a sweep never pulls data from under it. */
export const IN_USE_GRACE_MS = 3 * 3600 * 1000;

export interface SweptRawCopy {
  dataset: string;
  sourceHash: string;
  expiresAt: string;
  bytes: number;
  uri: string;
}

export interface SweptPredictionLog {
  model: string;
  runId: string;
  expiresAt: string;
  uri: string;
}

export interface SweepReport {
  sweepId: string;
  asOf: string;
  /** Raw copies deleted. */
  deleted: SweptRawCopy[];
  kept: number;
  /** Prediction logs deleted (their scoring run's retentionDays had passed). */
  predictionLogs: SweptPredictionLog[];
  reportUri: string;
}

async function listRetentionRecords(store: ArtifactStore): Promise<Array<{ dir: string; record: RawRetentionRecord }>> {
  const rawRoot = store.path(...layout.raw());
  const out: Array<{ dir: string; record: RawRetentionRecord }> = [];
  const datasets = await fs.readdir(rawRoot, { withFileTypes: true }).catch(() => []);
  for (const d of datasets.filter((e) => e.isDirectory())) {
    const copies = await fs.readdir(path.join(rawRoot, d.name), { withFileTypes: true });
    for (const c of copies.filter((e) => e.isDirectory())) {
      const dir = path.join(rawRoot, d.name, c.name);
      const record = await store.readJson<RawRetentionRecord>(path.join(dir, RETENTION_FILE));
      if (record) out.push({ dir, record });
    }
  }
  return out;
}

async function folderBytes(dir: string): Promise<number> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  let total = 0;
  for (const e of entries) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? await folderBytes(p) : (await fs.stat(p)).size;
  }
  return total;
}

export async function sweepExpiredRawAndPredictionLogs(store: ArtifactStore, sweepId: string, asOf: Date): Promise<SweepReport> {
  const reportUri = store.path(...layout.retentionReport(sweepId));
  const previous = await store.readJson<SweepReport>(reportUri);
  const records = await listRetentionRecords(store);
  // A copy younger than the grace period may still be read by an ingest in progress (or its retry).
  const expired = records.filter(
    (r) => Date.parse(r.record.expiresAt) <= asOf.getTime() && Date.parse(r.record.copiedAt) + IN_USE_GRACE_MS <= asOf.getTime(),
  );
  const deleted = new Map((previous?.deleted ?? []).map((d) => [d.uri, d]));
  for (const { dir, record } of expired) {
    deleted.set(dir, {
      dataset: record.dataset,
      sourceHash: record.sourceHash,
      expiresAt: record.expiresAt,
      bytes: await folderBytes(dir),
      uri: dir,
    });
  }
  const logs = new Map((previous?.predictionLogs ?? []).map((l) => [l.uri, l]));
  const expiredLogs = await expiredPredictionRuns(store, asOf);
  for (const { run, dir } of expiredLogs) logs.set(dir, { model: run.model, runId: run.runId, expiresAt: run.expiresAt, uri: dir });
  const report: SweepReport = {
    sweepId,
    asOf: asOf.toISOString(),
    deleted: [...deleted.values()],
    kept: records.length - expired.length,
    predictionLogs: [...logs.values()],
    reportUri,
  };
  await store.writeJsonAtomic(reportUri, report);
  for (const { dir } of expired) await store.discardDir(dir);
  for (const { dir } of expiredLogs) await store.discardDir(dir);
  return report;
}
