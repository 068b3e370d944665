import { higherIsBetter } from '../evaluation/gates';
import type { MonitoringPoint } from '../monitoring/history';
import type { MonitoringReport } from '../monitoring/monitor';
import { barChart, COLORS, lineChart } from './charts';
import { badge, grid, note, raw, renderPage, section, table } from './page';
import { esc, fmt, pct } from './svg';

/**
 * The monitoring report as a page: what crossed a threshold, in words; every feature's live
 * distribution against its training profile, most drifted first; the model's outputs likewise;
 * and the model's monitoring runs over time, so a slow slide shows before it trips a threshold.
 */

/** Histograms drawn (most drifted first); the table lists every feature. Keeps a wide model's page light. */
export const MAX_FEATURE_CHARTS = 24;

function featureSection(r: MonitoringReport, data: Record<string, unknown>): string {
  const sorted = [...r.features].sort((a, b) => b.psi - a.psi || a.feature.localeCompare(b.feature));
  const rows = sorted.map((f) => [f.feature, f.kind, fmt(f.psi), f.test, fmt(f.statistic), fmt(f.pValue), badge(!f.drifted, 'stable', 'DRIFTED')]);
  const drawn = sorted.filter((f, i) => f.drifted || i < MAX_FEATURE_CHARTS);
  const charts = drawn.map((f) => {
    const id = `feature-${sorted.indexOf(f)}`;
    data[id] = { feature: f.feature, psi: f.psi, drifted: f.drifted, bins: f.bins };
    return barChart({
      id,
      title: `${f.drifted ? 'DRIFTED · ' : ''}${f.feature} · PSI ${fmt(f.psi, 3)}`,
      yLabel: 'share of rows',
      categories: f.bins.map((b) => b.bin),
      series: [
        { name: 'training', color: COLORS.training, values: f.bins.map((b) => b.training) },
        { name: `current (${r.datasetVersion.slice(0, 8)})`, color: f.drifted ? COLORS.flagged : COLORS.live, values: f.bins.map((b) => b.live) },
      ],
      format: pct,
      width: 560,
      height: 260,
    });
  });
  const hidden = sorted.length - drawn.length;
  return section(
    `Feature drift against the training profile (${r.features.filter((f) => f.drifted).length} of ${r.features.length} drifted)`,
    `<p>A feature is drifted when PSI ≥ ${fmt(r.thresholds.drift.psi)} and its test (KS for numerics, chi-square for categoricals) rejects "same distribution" at p &lt; ${fmt(r.thresholds.drift.pValue)}. Sorted by PSI.</p>`,
    table(['feature', 'kind', 'PSI', 'test', 'statistic', 'p-value', 'verdict'], rows),
    hidden > 0 ? note(`${hidden} stable feature(s) with the lowest PSI are in the table only.`) : '',
    grid(...charts),
  );
}

function predictionSection(r: MonitoringReport, data: Record<string, unknown>): string {
  const p = r.predictions;
  if (!p) return section('Prediction drift', '<p class="muted">Not computed (see the notes).</p>');
  data.predictions = p;
  const chart = barChart({
    id: 'predictions',
    title: `Model output: test split at training vs current · PSI ${fmt(p.psi, 3)}`,
    yLabel: 'share of predictions',
    categories: p.bins.map((b) => b.bin),
    series: [
      { name: 'test split at training', color: COLORS.training, values: p.bins.map((b) => b.training) },
      { name: `current (${p.rows} predictions)`, color: p.drifted ? COLORS.flagged : COLORS.live, values: p.bins.map((b) => b.live) },
    ],
    format: pct,
  });
  return section(
    'Prediction drift',
    `<p>PSI ${fmt(p.psi)}, KS ${fmt(p.ksStatistic)} (p ${fmt(p.pValue)}) on ${p.rows} predictions: ${p.drifted ? '<strong>drifted</strong>' : 'stable'}.</p>`,
    grid(chart),
  );
}

function trendSection(r: MonitoringReport, history: readonly MonitoringPoint[], data: Record<string, unknown>): string {
  data.history = history;
  const at = (p: MonitoringPoint) => Date.parse(p.createdAt);
  const live = history.filter((p) => p.live && p.live.value !== null);
  const metric = r.live?.primaryMetric ?? live[live.length - 1]?.live?.primaryMetric;
  const sameMetric = live.filter((p) => p.live!.primaryMetric === metric);
  const baseline = r.live?.baseline ?? sameMetric[sameMetric.length - 1]?.live?.baseline ?? null;
  const metricChart = lineChart({
    id: 'live-over-time',
    title: `Live ${metric ?? 'metric'} across monitoring runs`,
    xLabel: 'monitoring run (UTC)',
    yLabel: metric ?? 'metric',
    time: true,
    series: [{ name: `live ${metric ?? ''} (labeled predictions)`, color: COLORS.live, dots: true, points: sameMetric.map((p) => [at(p), p.live!.value!] as const) }],
    rules:
      baseline !== null && metric
        ? [
            { y: baseline, label: `at training ${fmt(baseline)}` },
            {
              y: higherIsBetter(metric) ? baseline - r.thresholds.maxMetricDrop : baseline + r.thresholds.maxMetricDrop,
              label: `allowed drop ${fmt(r.thresholds.maxMetricDrop)}`,
              color: COLORS.flagged,
            },
          ]
        : [],
  });
  const psiPoints = history.filter((p) => p.predictionPsi !== null);
  const psiChart = lineChart({
    id: 'psi-over-time',
    title: 'Prediction drift (PSI) and drifted features across monitoring runs',
    xLabel: 'monitoring run (UTC)',
    yLabel: 'PSI / features',
    time: true,
    series: [
      { name: 'prediction PSI', color: COLORS.baseline, dots: true, points: psiPoints.map((p) => [at(p), p.predictionPsi!] as const) },
      { name: 'drifted features', color: COLORS.flagged, dots: true, dashed: true, points: history.map((p) => [at(p), p.driftedFeatures] as const) },
    ],
    rules: [{ y: r.thresholds.drift.psi, label: `PSI threshold ${fmt(r.thresholds.drift.psi)}`, color: COLORS.flagged }],
  });
  return section(
    `Over time (${history.length} monitoring run${history.length === 1 ? '' : 's'})`,
    note(
      'Live metrics need labels for logged predictions. No performance estimator (metrics estimated without labels) is configured for this model, so only measured values are drawn.',
    ),
    grid(metricChart, psiChart),
    table(
      ['run', 'at', 'model version', 'live', 'prediction PSI', 'drifted features', 'crossed'],
      [...history]
        .reverse()
        .map((p) => [
          p.id,
          p.createdAt,
          p.modelVersion.slice(0, 12),
          p.live ? `${p.live.primaryMetric} ${fmt(p.live.value)} (${p.live.rows} rows)` : 'n/a',
          fmt(p.predictionPsi),
          String(p.driftedFeatures),
          badge(!p.triggered, 'no', 'YES'),
        ]),
    ),
  );
}

export function renderMonitoringPage(r: MonitoringReport, history: readonly MonitoringPoint[], source?: string): string {
  const data: Record<string, unknown> = { report: r.id, triggered: r.triggered, reasons: r.reasons };
  const liveWords = r.live
    ? `Live ${r.live.primaryMetric}: ${fmt(r.live.value)} on ${r.live.rows} labeled predictions, ${fmt(r.live.baseline)} at training${r.live.drop !== null ? ` (${r.live.drop > 0 ? 'worse' : 'better'} by ${fmt(Math.abs(r.live.drop))}; allowed drop ${fmt(r.thresholds.maxMetricDrop)})` : ''}.`
    : 'No live metrics yet.';
  if (r.live) data.live = r.live;
  // CBPE next to the realized values: the estimate comes first, labels confirm or correct it later.
  const estimatedWords = r.estimated
    ? `Estimated before labels (CBPE, ${r.estimated.rows} scored rows): accuracy ${fmt(r.estimated.accuracy)} (realized ${fmt(r.live?.metrics.accuracy ?? null)}, ${fmt(r.estimated.baseline.accuracy)} at training), ROC AUC ${fmt(r.estimated.rocAuc)} (realized ${fmt(r.live?.metrics.rocAuc ?? null)}, ${fmt(r.estimated.baseline.rocAuc)} at training); allowed drop ${fmt(r.thresholds.maxEstimatedDrop)}.`
    : 'No estimated performance (binary models with a calibrated card, once their version is scored).';
  if (r.estimated) data.estimated = r.estimated;
  const verdict = r.triggered
    ? `<strong>Threshold crossed:</strong> ${esc(r.reasons.join('; '))}.`
    : `<strong>No threshold crossed.</strong> ${r.features.length} feature(s) checked${r.predictions ? ', predictions stable' : ''}.`;
  const body = [
    section('Live metrics', `<p>${esc(liveWords)}</p>`, `<p>${esc(estimatedWords)}</p>`, r.notes.length ? `<ul>${r.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''),
    featureSection(r, data),
    predictionSection(r, data),
    trendSection(r, history, data),
  ].join('\n');
  return renderPage({
    title: `Monitoring ${r.model}@${r.modelVersion}`,
    subtitle: `on ${r.dataset}@${r.datasetVersion} · ${r.createdAt} · run ${r.id}`,
    verdict: { ok: !r.triggered, text: raw(verdict) },
    body,
    data,
    source,
  });
}
