import { finiteOrNull } from '../metrics';
import type { GateResult } from './gates';
import type { EvaluationReport } from './report';

/** What the workflow gets back: a reference to the report and the verdict, never the rows. */
export interface EvaluationOutcome {
  reportId: string;
  reportUri: string;
  markdownUri: string;
  /** The report as a page with charts (`mlops report <model> --evaluation <reportId> --open`). */
  htmlUri: string;
  dataset: { name: string; version: string };
  rows: number;
  passed: boolean;
  gates: GateResult[];
  primaryMetric: string;
  /** null when undefined for these rows (e.g. ROC AUC with one class present). */
  candidateValue: number | null;
  baselineValue?: number | null;
}

/** The outcome of a stored report: what a workflow keeps of it. */
export function outcomeOfReport(report: EvaluationReport, uris: { reportUri: string; markdownUri: string; htmlUri: string }): EvaluationOutcome {
  return {
    reportId: report.id,
    ...uris,
    dataset: report.dataset,
    rows: report.rows,
    passed: report.passed,
    gates: report.gates,
    primaryMetric: report.primaryMetric,
    candidateValue: finiteOrNull(report.candidate.metrics[report.primaryMetric]),
    ...(report.baseline ? { baselineValue: finiteOrNull(report.baseline.metrics[report.primaryMetric]) } : {}),
  };
}
