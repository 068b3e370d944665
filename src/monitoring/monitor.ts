import type { DuckDBConnection } from '@duckdb/node-api';
import type { DatasetManifest } from '../datasets/manifest';
import { userError } from '../errors';
import { defaultPrimaryMetric, higherIsBetter, METRICS_BY_TASK } from '../evaluation/gates';
import { finiteOrNull, metricsOf } from '../metrics';
import type { Metrics, ModelCard } from '../models/card';
import { queryRows } from '../sql/duckdb';
import { quoteString, varcharList } from '../sql/quote';
import type { ArtifactStore } from '../store/artifact-store';
import { ONLINE_RUN_PREFIX, predictionLogFiles } from '../scoring/runs';
import { type FeatureDrift, featureDrift } from './drift';
import type { MonitorRequest } from './request';
import { labelsGlob } from './labels';
import { type PredictionDrift, predictionDrift } from './prediction-drift';
import { estimatePerformance } from './cbpe';

/** CBPE: what accuracy and ROC AUC the calibrated probabilities promise on unlabeled rows, vs the card's test split. */
export interface EstimatedPerformance {
  rows: number;
  accuracy: number | null;
  rocAuc: number | null;
  baseline: { accuracy: number | null; rocAuc: number | null };
  /** How much below the baseline (positive = worse). */
  drop: { accuracy: number | null; rocAuc: number | null };
}

/** The decision threshold the card's test accuracy uses (binaryMetrics' default). */
const DECISION_THRESHOLD = 0.5;

export interface LiveMetrics {
  rows: number;
  primaryMetric: string;
  value: number | null;
  baseline: number | null;
  /** How much worse than the baseline (positive = worse), in the metric's units. */
  drop: number | null;
  metrics: Metrics;
}

export interface MonitoringReport {
  id: string;
  model: string;
  modelVersion: string;
  dataset: string;
  datasetVersion: string;
  createdAt: string;
  thresholds: Pick<MonitorRequest, 'drift' | 'maxMetricDrop' | 'maxEstimatedDrop' | 'minLabeledRows'>;
  features: FeatureDrift[];
  predictions?: PredictionDrift;
  live?: LiveMetrics;
  /** Binary models whose card has a calibration and whose version was scored: CBPE estimates. */
  estimated?: EstimatedPerformance;
  /** Why a part could not be computed (no scoring run yet, no labels yet…). */
  notes: string[];
  triggered: boolean;
  reasons: string[];
}

export async function monitor(args: {
  conn: DuckDBConnection;
  store: ArtifactStore;
  card: ModelCard;
  manifest: DatasetManifest;
  request: MonitorRequest;
  now: string;
}): Promise<MonitoringReport> {
  const { conn, store, card, manifest, request } = args;
  if (request.primaryMetric && !METRICS_BY_TASK[card.task].includes(request.primaryMetric)) {
    throw userError('InvalidInput', `primaryMetric "${request.primaryMetric}" is not a metric of a ${card.task} model (${METRICS_BY_TASK[card.task].join(', ')})`);
  }
  const notes: string[] = [];
  const reasons: string[] = [];
  const features = await featureDrift(
    conn,
    `read_parquet(${quoteString(manifest.snapshot.uri)})`,
    card.trainingProfile,
    card.features.map((f) => f.name),
    request.drift,
  );
  const drifted = features.filter((f) => f.drifted);
  if (drifted.length) reasons.push(`feature drift in ${drifted.map((f) => `${f.feature} (PSI ${f.psi.toFixed(2)})`).join(', ')}`);

  // The parts of published runs only (their run.json names them): never a half-written run's.
  const files = await predictionLogFiles(store, card.model);
  const hasLogs = files.length > 0;
  const log = logRelation(files);
  let predictions: PredictionDrift | undefined;
  let estimated: EstimatedPerformance | undefined;
  if (!hasLogs) notes.push('no prediction logs yet: score data with `mlops score` to monitor predictions and live metrics');
  else {
    // The latest scoring run of this version with this model: scoring it twice must not double the sample.
    const mine = `model_version = ${quoteString(card.version)} AND dataset_version = ${quoteString(manifest.version)}`;
    const scored = `(SELECT output FROM ${log} WHERE ${mine} AND run_id = (SELECT run_id FROM ${log} WHERE ${mine} ORDER BY scored_at DESC, run_id DESC LIMIT 1))`;
    predictions = card.predictionProfile ? await predictionDrift(conn, scored, 'output', card.predictionProfile, request.drift) : undefined;
    if (!predictions) notes.push(`the card of ${card.version} has no prediction profile (trained by an older version): prediction drift not computed`);
    else if (predictions.rows === 0) {
      notes.push(`no scoring run of ${manifest.dataset}@${manifest.version} with ${card.version} yet: prediction drift not computed`);
      predictions = undefined;
    } else if (predictions.drifted) reasons.push(`prediction drift (PSI ${predictions.psi.toFixed(2)})`);
    if (card.task === 'binary') {
      estimated = await estimatedPerformanceOf(conn, scored, card, notes);
      const worst = estimated ? Math.max(estimated.drop.accuracy ?? -Infinity, estimated.drop.rocAuc ?? -Infinity) : -Infinity;
      if (estimated && worst > request.maxEstimatedDrop) {
        reasons.push(
          `estimated performance (CBPE, before labels): accuracy ${estimated.accuracy?.toFixed(4)} vs ${estimated.baseline.accuracy?.toFixed(4)}, ROC AUC ${estimated.rocAuc?.toFixed(4)} vs ${estimated.baseline.rocAuc?.toFixed(4)} at training (worse by ${worst.toFixed(4)} on ${estimated.rows} rows)`,
        );
      }
    }
  }

  let live: LiveMetrics | undefined;
  if (hasLogs && (await globHasFiles(conn, labelsGlob(store)))) {
    live = await liveMetricsOf(conn, store, log, card, request.primaryMetric ?? defaultPrimaryMetric(card.task), {});
    if (live.rows < request.minLabeledRows) notes.push(`only ${live.rows} labeled predictions (need ${request.minLabeledRows}) to judge live metrics`);
    else if (live.drop !== null && live.drop > request.maxMetricDrop) {
      reasons.push(
        `live ${live.primaryMetric} ${live.value?.toFixed(4)} vs ${live.baseline?.toFixed(4)} at training (worse by ${live.drop.toFixed(4)} on ${live.rows} labeled rows)`,
      );
    }
  } else notes.push('no labels yet: record them with `mlops labels <dataset> <file>` for live metrics');

  return {
    id: request.runId,
    model: card.model,
    modelVersion: card.version,
    dataset: manifest.dataset,
    datasetVersion: manifest.version,
    createdAt: args.now,
    thresholds: { drift: request.drift, maxMetricDrop: request.maxMetricDrop, maxEstimatedDrop: request.maxEstimatedDrop, minLabeledRows: request.minLabeledRows },
    features,
    ...(predictions ? { predictions } : {}),
    ...(live ? { live } : {}),
    ...(estimated ? { estimated } : {}),
    notes,
    triggered: reasons.length > 0,
    reasons,
  };
}

async function estimatedPerformanceOf(conn: DuckDBConnection, scored: string, card: ModelCard, notes: string[]): Promise<EstimatedPerformance | undefined> {
  if (!card.calibration) {
    notes.push(`the card of ${card.version} has no calibration (trained by an older version): estimated performance (CBPE) not available`);
    return undefined;
  }
  const rows = await queryRows<{ output: number | null }>(conn, `SELECT output FROM ${scored} WHERE isfinite(output)`);
  if (rows.length === 0) {
    notes.push(`no scored rows of this dataset version with ${card.version}: estimated performance (CBPE) not computed`);
    return undefined;
  }
  const e = estimatePerformance(
    card.calibration,
    Float64Array.from(rows, (r) => r.output!),
    DECISION_THRESHOLD,
  );
  const accuracy = finiteOrNull(e.expectedAccuracy);
  const rocAuc = finiteOrNull(e.expectedRocAuc);
  const baseline = { accuracy: finiteOrNull(card.metrics.test.accuracy), rocAuc: finiteOrNull(card.metrics.test.rocAuc) };
  const dropOf = (value: number | null, base: number | null) => (value === null || base === null ? null : base - value);
  return { rows: e.rows, accuracy, rocAuc, baseline, drop: { accuracy: dropOf(accuracy, baseline.accuracy), rocAuc: dropOf(rocAuc, baseline.rocAuc) } };
}

async function globHasFiles(conn: DuckDBConnection, pattern: string): Promise<boolean> {
  const [row] = await queryRows<{ n: number }>(conn, `SELECT count(*) AS n FROM glob(${quoteString(pattern)})`);
  return (row?.n ?? 0) > 0;
}

/** Which logged predictions count: all (monitoring), or online ones scored since a time (a canary's). */
export interface LivePredictionFilter {
  onlineSince?: string;
}

/** The latest prediction of this model version per (dataset, key), joined with the latest label per (dataset, key). */
export async function liveMetrics(conn: DuckDBConnection, store: ArtifactStore, card: ModelCard, primaryMetric: string, filter: LivePredictionFilter = {}): Promise<LiveMetrics> {
  // Online logs only (model servers name their runs online-…): a canary checks often, batch runs can be large.
  const files = await predictionLogFiles(store, card.model, filter.onlineSince ? (runId) => runId.startsWith(ONLINE_RUN_PREFIX) : undefined);
  return liveMetricsOf(conn, store, logRelation(files), card, primaryMetric, filter);
}

/** Log files as one relation for DuckDB; an empty list reads as no rows (read_parquet refuses one). */
function logRelation(files: readonly string[]): string {
  return files.length ? `read_parquet([${files.map(quoteString).join(', ')}], union_by_name = true)` : EMPTY_LOG;
}

const EMPTY_LOG = `(SELECT NULL::VARCHAR AS dataset, NULL::VARCHAR AS key, NULL::DOUBLE AS output, NULL::VARCHAR AS predicted_label,
  NULL::VARCHAR AS model_version, NULL::VARCHAR AS flag, NULL::VARCHAR AS dataset_version, NULL::TIMESTAMP AS scored_at WHERE false)`;

async function liveMetricsOf(
  conn: DuckDBConnection,
  store: ArtifactStore,
  log: string,
  card: ModelCard,
  primaryMetric: string,
  filter: LivePredictionFilter,
): Promise<LiveMetrics> {
  const online = filter.onlineSince ? `AND dataset_version = 'online' AND scored_at >= CAST(${quoteString(filter.onlineSince)} AS TIMESTAMP)` : '';
  const label = card.task === 'regression' ? 'CAST(l.label AS DOUBLE)' : `CAST(list_position(${varcharList(card.classes)}, l.label) - 1 AS DOUBLE)`;
  const rows = await queryRows<{ output: number; y: number; predicted: string | null }>(
    conn,
    `SELECT p.output AS output, ${label} AS y, p.predicted_label AS predicted
     FROM (SELECT dataset, key, output, predicted_label FROM ${log}
           WHERE model_version = ${quoteString(card.version)} AND flag IS DISTINCT FROM 'not-a-number' ${online}
           QUALIFY row_number() OVER (PARTITION BY dataset, key ORDER BY scored_at DESC) = 1) p
     JOIN (SELECT dataset, key, label FROM read_parquet(${quoteString(labelsGlob(store))})
           QUALIFY row_number() OVER (PARTITION BY dataset, key ORDER BY received_at DESC) = 1) l
       ON p.dataset = l.dataset AND p.key = l.key
     WHERE ${label} IS NOT NULL`,
  );
  const y = Float64Array.from(rows, (r) => r.y);
  let metrics: Metrics = {};
  if (rows.length > 0) {
    if (card.task === 'multiclass') {
      // The log keeps the winning class's probability only: accuracy is what can be judged.
      metrics = { accuracy: rows.filter((r, i) => r.predicted !== null && card.classes.indexOf(r.predicted) === y[i]).length / rows.length };
    } else if (card.task === 'binary') {
      const probabilities = new Float32Array(rows.length * 2);
      rows.forEach((r, i) => {
        probabilities[i * 2] = 1 - r.output;
        probabilities[i * 2 + 1] = r.output;
      });
      metrics = metricsOf('binary', y, probabilities, 2);
    } else {
      metrics = metricsOf(
        'regression',
        y,
        Float32Array.from(rows, (r) => r.output),
        0,
      );
    }
  }
  const known = METRICS_BY_TASK[card.task].includes(primaryMetric) ? primaryMetric : defaultPrimaryMetric(card.task);
  const value = finiteOrNull(metrics[known]);
  const baseline = finiteOrNull(card.metrics.test[known]);
  const drop = value === null || baseline === null ? null : higherIsBetter(known) ? baseline - value : value - baseline;
  return { rows: rows.length, primaryMetric: known, value, baseline, drop, metrics };
}

export function renderMonitoringMarkdown(r: MonitoringReport): string {
  const lines = [
    `# Monitoring ${r.model}@${r.modelVersion} on ${r.dataset}@${r.datasetVersion}`,
    '',
    `${r.createdAt} — ${r.triggered ? `**THRESHOLD CROSSED**: ${r.reasons.join('; ')}` : 'no threshold crossed'}`,
    '',
    '## Feature drift (against the training profile)',
    '',
    '| feature | kind | PSI | test | statistic | p-value | drifted |',
    '|---|---|---|---|---|---|---|',
    ...r.features.map(
      (f) => `| ${f.feature} | ${f.kind} | ${f.psi.toFixed(3)} | ${f.test} | ${f.statistic.toFixed(3)} | ${f.pValue.toExponential(2)} | ${f.drifted ? 'YES' : 'no'} |`,
    ),
    '',
  ];
  if (r.predictions)
    lines.push(
      '## Prediction drift',
      '',
      `PSI ${r.predictions.psi.toFixed(3)}, KS ${r.predictions.ksStatistic.toFixed(3)} (p ${r.predictions.pValue.toExponential(2)}) on ${r.predictions.rows} predictions: ${r.predictions.drifted ? 'DRIFTED' : 'stable'}`,
      '',
    );
  if (r.live) {
    lines.push(
      '## Live metrics (labeled predictions)',
      '',
      `${r.live.primaryMetric}: ${r.live.value ?? 'n/a'} live vs ${r.live.baseline ?? 'n/a'} at training, on ${r.live.rows} labeled rows`,
      '',
    );
  }
  if (r.estimated) {
    const e = r.estimated;
    const fmt = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : v.toFixed(4));
    lines.push(
      '## Estimated performance (CBPE, before labels)',
      '',
      `From calibrated probabilities on ${e.rows} scored rows; realized once labels arrive (${r.live?.rows ?? 0} labeled rows).`,
      '',
      '| metric | at training (test) | estimated | realized |',
      '|---|---|---|---|',
      `| accuracy | ${fmt(e.baseline.accuracy)} | ${fmt(e.accuracy)} | ${fmt(r.live?.metrics.accuracy)} |`,
      `| rocAuc | ${fmt(e.baseline.rocAuc)} | ${fmt(e.rocAuc)} | ${fmt(r.live?.metrics.rocAuc)} |`,
      '',
    );
  }
  if (r.notes.length) lines.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  return `${lines.join('\n')}\n`;
}
