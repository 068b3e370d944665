import type { ArtifactStore } from '../store/artifact-store';
import { urlJoin } from '../store/backend';
import type { MonitoringReport } from './monitor';

/** One monitoring run, reduced to what changes over time: the points of the report's trend charts. */
export interface MonitoringPoint {
  id: string;
  createdAt: string;
  modelVersion: string;
  datasetVersion: string;
  triggered: boolean;
  driftedFeatures: number;
  predictionPsi: number | null;
  live: { primaryMetric: string; value: number | null; baseline: number | null; rows: number } | null;
}

export function pointOf(r: MonitoringReport): MonitoringPoint {
  return {
    id: r.id,
    createdAt: r.createdAt,
    modelVersion: r.modelVersion,
    datasetVersion: r.datasetVersion,
    triggered: r.triggered,
    driftedFeatures: r.features.filter((f) => f.drifted).length,
    predictionPsi: r.predictions?.psi ?? null,
    live: r.live ? { primaryMetric: r.live.primaryMetric, value: r.live.value, baseline: r.live.baseline, rows: r.live.rows } : null,
  };
}

/** The model's monitoring runs stored in `dir` (reports/monitoring/<model>, a folder or S3 prefix), oldest first, the latest `limit` of them. */
export async function monitoringHistory(store: ArtifactStore, dir: string, limit = 200): Promise<MonitoringPoint[]> {
  const files = (await store.children(dir)).filter((f) => f.endsWith('.json'));
  const reports = await Promise.all(files.map((f) => store.readJson<MonitoringReport>(urlJoin(dir, f))));
  return reports
    .filter((r): r is MonitoringReport => r !== undefined && Array.isArray(r.features))
    .map(pointOf)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))
    .slice(-limit);
}
