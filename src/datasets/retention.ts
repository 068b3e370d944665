import type { ArtifactStore } from '../store/artifact-store';
import { urlJoin } from '../store/backend';
import { layout } from '../store/layout';
import { type ExpiredOnlinePart, expiredPredictionLogs } from '../scoring/retention';
import { RETENTION_FILE, type RawRetentionRecord } from './raw';

/**
 * Deletes raw copies, prediction logs and online log parts whose retention has expired, and only those. The report of what was deleted
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
  /** Parts of model servers' online logs deleted (written more than onlineLogRetentionDays ago). */
  onlineLogParts: ExpiredOnlinePart[];
  reportUri: string;
}

/** Raw copies with their record (copies without one were never published: see sweep.ts), and their bytes. */
async function listRetentionRecords(store: ArtifactStore): Promise<Array<{ dir: string; record: RawRetentionRecord; bytes: number }>> {
  const objects = await store.backend.list(store.key(...layout.raw()));
  const bytes = new Map<string, number>();
  const recorded: string[] = [];
  for (const o of objects) {
    // raw/<dataset>/<source hash>/…
    const copy = o.key.split('/').slice(0, 3).join('/');
    bytes.set(copy, (bytes.get(copy) ?? 0) + o.size);
    if (o.key === `${copy}/${RETENTION_FILE}`) recorded.push(copy);
  }
  const out: Array<{ dir: string; record: RawRetentionRecord; bytes: number }> = [];
  for (const copy of recorded) {
    const dir = store.url(...copy.split('/'));
    const record = await store.readJson<RawRetentionRecord>(urlJoin(dir, RETENTION_FILE));
    if (record) out.push({ dir, record, bytes: bytes.get(copy)! });
  }
  return out;
}

export async function sweepExpiredRawAndPredictionLogs(store: ArtifactStore, sweepId: string, asOf: Date, onlineLogRetentionDays: number): Promise<SweepReport> {
  const reportUri = store.url(...layout.retentionReport(sweepId));
  const previous = await store.readJson<SweepReport>(reportUri);
  const records = await listRetentionRecords(store);
  // A copy younger than the grace period may still be read by an ingest in progress (or its retry).
  const expired = records.filter((r) => Date.parse(r.record.expiresAt) <= asOf.getTime() && Date.parse(r.record.copiedAt) + IN_USE_GRACE_MS <= asOf.getTime());
  const deleted = new Map((previous?.deleted ?? []).map((d) => [d.uri, d]));
  for (const { dir, record, bytes } of expired) {
    deleted.set(dir, { dataset: record.dataset, sourceHash: record.sourceHash, expiresAt: record.expiresAt, bytes, uri: dir });
  }
  const { runs: expiredLogs, onlineParts: expiredParts } = await expiredPredictionLogs(store, asOf, onlineLogRetentionDays);
  const logs = new Map((previous?.predictionLogs ?? []).map((l) => [l.uri, l]));
  for (const { run, dir } of expiredLogs) logs.set(dir, { model: run.model, runId: run.runId, expiresAt: run.expiresAt, uri: dir });
  const onlineParts = new Map((previous?.onlineLogParts ?? []).map((p) => [p.key, p]));
  for (const part of expiredParts) onlineParts.set(part.key, part);
  const report: SweepReport = {
    sweepId,
    asOf: asOf.toISOString(),
    deleted: [...deleted.values()],
    kept: records.length - expired.length,
    predictionLogs: [...logs.values()],
    onlineLogParts: [...onlineParts.values()],
    reportUri,
  };
  await store.writeJsonAtomic(reportUri, report);
  for (const { dir } of expired) await store.discardDir(dir);
  for (const { dir } of expiredLogs) await store.discardDir(dir);
  for (const { key } of expiredParts) await store.backend.delete(key);
  await deleteEmptyOnlineRuns(store, expiredParts);
  return report;
}

/** An online run whose every part expired is gone as a whole (locally its folder; on S3 nothing is left anyway). */
async function deleteEmptyOnlineRuns(store: ArtifactStore, parts: readonly ExpiredOnlinePart[]): Promise<void> {
  for (const run of new Set(parts.map((p) => store.key(...layout.predictionRun(p.model, p.runId))))) {
    if ((await store.backend.list(run)).length === 0) await store.backend.delete(run);
  }
}
