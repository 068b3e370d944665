import type { EstimatedPerformance, MonitoringReport } from './monitor';

/** What the monitor workflow keeps in its history: verdicts and references, not the bins. */
export interface MonitorOutcome {
  reportUri: string;
  markdownUri: string;
  /** The report as a page with charts. */
  htmlUri: string;
  modelVersion: string;
  dataset: string;
  datasetVersion: string;
  triggered: boolean;
  reasons: string[];
  driftedFeatures: string[];
  predictionPsi?: number;
  live?: { rows: number; primaryMetric: string; value: number | null; baseline: number | null };
  /** CBPE: the performance expected from calibrated outputs, before labels (a handful of numbers). */
  estimated?: EstimatedPerformance;
  notes: string[];
}

export function outcomeOfMonitoringReport(report: MonitoringReport, reportUri: string): MonitorOutcome {
  return {
    reportUri,
    markdownUri: reportUri.replace(/\.json$/, '.md'),
    htmlUri: reportUri.replace(/\.json$/, '.html'),
    modelVersion: report.modelVersion,
    dataset: report.dataset,
    datasetVersion: report.datasetVersion,
    triggered: report.triggered,
    reasons: report.reasons,
    driftedFeatures: report.features.filter((f) => f.drifted).map((f) => f.feature),
    ...(report.predictions ? { predictionPsi: report.predictions.psi } : {}),
    ...(report.live ? { live: { rows: report.live.rows, primaryMetric: report.live.primaryMetric, value: report.live.value, baseline: report.live.baseline } } : {}),
    ...(report.estimated ? { estimated: report.estimated } : {}),
    notes: report.notes,
  };
}
