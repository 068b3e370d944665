import { describeLines, KIND_WORDS } from '../evaluation/data';
import { higherIsBetter } from '../evaluation/gates';
import type { EvaluationReport } from '../evaluation/report';
import { barChart, COLORS, heatmapChart, histogramChart, lineChart, scatterChart } from './charts';
import { badge, grid, note, raw, renderPage, section, table } from './page';
import { esc, fmt, pct } from './svg';

/**
 * The evaluation report as a page: the gates' verdicts in words first, then the evidence a
 * reviewer judges by — threshold curves, calibration and confusion (classification) or
 * predicted-vs-actual and residuals (regression), per-slice bars with the gate's tolerance,
 * how far the two models' outputs are apart, and latency. Every chart is drawn from the
 * report's own fields; the page adds no number the JSON does not hold.
 */

/** Plain words for a gate's name; the detail carries the numbers. */
const GATE_WORDS: Record<string, string> = {
  improvement: 'Better than production',
  'slice-regression': 'No slice much worse',
  latency: 'Not much slower',
  'primary-metric': 'The primary metric exists',
};

export function gateWords(gate: string): string {
  if (gate.startsWith('threshold:')) return `${gate.slice('threshold:'.length)} within its bounds`;
  return GATE_WORDS[gate] ?? gate;
}

function verdictText(r: EvaluationReport): string {
  const who = `Candidate ${r.candidate.version}`;
  const against = r.baseline ? `against production ${r.baseline.version}` : 'with no production model to compare with';
  const failed = r.gates.filter((g) => !g.passed);
  if (r.gates.length === 0) return `<strong>No gate applies.</strong> ${esc(who)} was evaluated ${esc(against)}.`;
  if (failed.length === 0) return `<strong>Passed every gate (${r.gates.length}).</strong> ${esc(who)} may become production ${esc(against)}.`;
  return `<strong>Failed ${failed.length} of ${r.gates.length} gates:</strong> ${esc(failed.map((g) => gateWords(g.gate).toLowerCase()).join(', '))}. ${esc(who)} should not replace production without a person's approval (${esc(against)}).`;
}

const sides = (r: EvaluationReport) => [
  { key: 'candidate' as const, name: `candidate ${r.candidate.version.slice(0, 8)}`, side: r.candidate, color: COLORS.candidate, dashed: false },
  ...(r.baseline ? [{ key: 'baseline' as const, name: `production ${r.baseline.version.slice(0, 8)}`, side: r.baseline, color: COLORS.baseline, dashed: true }] : []),
];

function metricsTable(r: EvaluationReport): string {
  const names = Object.keys(r.candidate.metrics);
  const rows = names.map((m) => {
    const c = r.candidate.metrics[m];
    const b = r.baseline?.metrics[m];
    const diff = c !== undefined && b !== undefined ? c - b : undefined;
    const better = diff === undefined || diff === 0 ? '' : diff > 0 === higherIsBetter(m) ? ' (better)' : ' (worse)';
    return [m === r.primaryMetric ? raw(`<strong>${esc(m)}</strong> (primary)`) : m, fmt(c), ...(r.baseline ? [fmt(b), `${fmt(diff)}${better}`] : [])];
  });
  return table(['metric', 'candidate', ...(r.baseline ? ['production', 'difference'] : [])], rows);
}

function classificationCharts(r: EvaluationReport, data: Record<string, unknown>): string {
  const models = sides(r);
  const charts: string[] = [];
  if (r.task === 'binary') {
    data.roc = Object.fromEntries(models.map((m) => [m.key, m.side.curves!.roc ?? []]));
    charts.push(
      lineChart({
        id: 'roc',
        title: `ROC curve (AUC: ${models.map((m) => `${m.key} ${fmt(m.side.metrics.rocAuc)}`).join(', ')})`,
        xLabel: 'false positive rate',
        yLabel: 'true positive rate',
        xDomain: [0, 1],
        yDomain: [0, 1],
        diagonal: true,
        series: models.map((m) => ({ name: m.name, color: m.color, dashed: m.dashed, points: (m.side.curves!.roc ?? []).map((p) => [p.fpr, p.tpr] as const) })),
      }),
    );
    data.pr = Object.fromEntries(models.map((m) => [m.key, m.side.curves!.pr ?? []]));
    charts.push(
      lineChart({
        id: 'pr',
        title: `Precision-recall (average precision: ${models.map((m) => `${m.key} ${fmt(m.side.curves!.averagePrecision)}`).join(', ')})`,
        xLabel: 'recall',
        yLabel: 'precision',
        xDomain: [0, 1],
        yDomain: [0, 1],
        series: models.map((m) => ({ name: m.name, color: m.color, dashed: m.dashed, points: (m.side.curves!.pr ?? []).map((p) => [p.recall, p.precision] as const) })),
      }),
    );
  }
  data.calibration = Object.fromEntries(models.map((m) => [m.key, m.side.curves!.calibration ?? []]));
  charts.push(
    lineChart({
      id: 'calibration',
      title: r.task === 'binary' ? 'Calibration: predicted probability vs observed rate' : 'Calibration: confidence vs accuracy',
      xLabel: r.task === 'binary' ? 'mean predicted probability (10 bins)' : 'mean confidence of the predicted class (10 bins)',
      yLabel: r.task === 'binary' ? 'observed positive rate' : 'observed accuracy',
      xDomain: [0, 1],
      yDomain: [0, 1],
      diagonal: true,
      series: models.map((m) => ({
        name: m.name,
        color: m.color,
        dashed: m.dashed,
        dots: true,
        points: (m.side.curves!.calibration ?? []).map((b) => [b.meanPredicted, b.observed] as const),
      })),
    }),
  );
  const classes = r.classes ?? [];
  data.confusion = Object.fromEntries(models.map((m) => [m.key, m.side.curves!.confusion ?? []]));
  for (const m of models) {
    const counts = m.side.curves!.confusion ?? [];
    const labels = counts.map((_, k) => classes[k] ?? String(k));
    charts.push(
      heatmapChart({ id: `confusion-${m.key}`, title: `Confusion matrix, ${m.name}`, rowLabel: 'actual', colLabel: 'predicted', rows: labels, cols: labels, values: counts }),
    );
  }
  return section('How the models rank and classify', grid(...charts));
}

function regressionCharts(r: EvaluationReport, data: Record<string, unknown>): string {
  const models = sides(r);
  data.predictedVsActual = Object.fromEntries(models.map((m) => [m.key, m.side.curves!.predictedVsActual ?? []]));
  const scatter = scatterChart({
    id: 'predicted-vs-actual',
    title: 'Predicted vs actual (sample of rows)',
    xLabel: 'actual',
    yLabel: 'predicted',
    diagonal: true,
    series: models.map((m) => ({ name: m.name, color: m.color, points: m.side.curves!.predictedVsActual ?? [] })),
  });
  data.residuals = Object.fromEntries(models.map((m) => [m.key, m.side.curves!.residuals ?? { edges: [], counts: [] }]));
  // Both models' residuals on one set of bins would need the rows again; one chart each, same style.
  const residualCharts = models.map((m) => {
    const h = m.side.curves!.residuals ?? { edges: [], counts: [] };
    return histogramChart({
      id: `residuals-${m.key}`,
      title: `Residuals (actual − predicted), ${m.name}`,
      xLabel: 'residual',
      yLabel: 'rows',
      edges: h.edges,
      mode: 'grouped',
      series: [{ name: m.name, color: m.color, values: h.counts }],
      rules: [{ x: 0, label: '0' }],
    });
  });
  return section('Predictions against the truth', grid(scatter, ...residualCharts));
}

/** The lowest (or highest) value of the primary metric a slice may have before the slice gate fails. */
function sliceTolerance(r: EvaluationReport, baselineValue: number): number {
  const allowed = r.gatesConfig.maxSliceRegression;
  return higherIsBetter(r.primaryMetric) ? baselineValue - allowed : baselineValue + allowed;
}

function sliceCharts(r: EvaluationReport, data: Record<string, unknown>): string {
  if (r.slices.length === 0) return '';
  const columns = [...new Set(r.slices.map((s) => s.column))];
  const metric = r.primaryMetric;
  const charts = columns.map((column) => {
    const slices = r.slices.filter((s) => s.column === column);
    const markers = slices.flatMap((s, i) => {
      const b = s.baseline?.[metric];
      return b !== undefined && Number.isFinite(b) && s.rows >= r.gatesConfig.minSliceRows
        ? [{ category: i, value: sliceTolerance(r, b), label: `${column}=${s.value}: the slice gate allows ${fmt(sliceTolerance(r, b))}` }]
        : [];
    });
    data[`slices-${column}`] = slices.map((s, i) => ({
      value: s.value,
      rows: s.rows,
      candidate: s.candidate[metric] ?? null,
      baseline: s.baseline?.[metric] ?? null,
      tolerance: markers.find((m) => m.category === i)?.value ?? null,
    }));
    return barChart({
      id: `slices-${column}`,
      title: `${metric} per ${column} slice`,
      yLabel: metric,
      categories: slices.map((s) => `${s.value} (${s.rows})`),
      series: sides(r).map((m) => ({ name: m.name, color: m.color, values: slices.map((s) => (m.key === 'candidate' ? s.candidate[metric] : s.baseline?.[metric]) ?? null) })),
      markers,
      markerLegend: r.baseline ? `allowed (production ${higherIsBetter(metric) ? '−' : '+'} ${r.gatesConfig.maxSliceRegression})` : undefined,
      muted: slices.map((s) => s.rows < r.gatesConfig.minSliceRows),
      includeZero: false,
    });
  });
  return section(
    `Slices (${metric})`,
    note(`Bars in pale colours are slices under ${r.gatesConfig.minSliceRows} rows: shown, not gated. The number in brackets is the slice's rows.`),
    grid(...charts),
  );
}

function agreementSection(r: EvaluationReport, data: Record<string, unknown>): string {
  const a = r.agreement;
  if (!a) return '';
  const d = a.absoluteDifference;
  const words = `${a.sameLabel !== undefined ? `Same predicted label on ${pct(a.sameLabel)} of rows. ` : ''}|candidate − production| of the ${r.task === 'regression' ? 'prediction' : r.task === 'binary' ? 'positive-class probability' : "winning class's probability"}: mean ${fmt(d.mean)}, p50 ${fmt(d.p50)}, p90 ${fmt(d.p90)}, p99 ${fmt(d.p99)}, max ${fmt(d.max)}.`;
  const h = a.histogram;
  data.difference = h ?? null;
  const chart = h
    ? histogramChart({
        id: 'difference',
        title: 'Output difference per row',
        xLabel: '|candidate − production|',
        yLabel: 'rows',
        edges: h.edges,
        mode: 'grouped',
        series: [{ name: 'rows', color: COLORS.neutral, values: h.counts }],
      })
    : '<p class="muted">(this report predates the difference histogram)</p>';
  return section('How far apart the two models are', `<p>${esc(words)}</p>`, grid(chart));
}

function latencySection(r: EvaluationReport, data: Record<string, unknown>): string {
  const models = sides(r);
  data.latency = Object.fromEntries(models.map((m) => [m.key, m.side.latency]));
  const chart = barChart({
    id: 'latency',
    title: 'Batch latency in ONNX Runtime',
    yLabel: 'ms per batch',
    categories: ['p50', 'p99'],
    series: models.map((m) => ({ name: m.name, color: m.color, values: [m.side.latency.p50Ms, m.side.latency.p99Ms] })),
  });
  const rows = models.map((m) => [m.name, String(m.side.latency.batches), fmt(m.side.latency.p50Ms), fmt(m.side.latency.p99Ms), fmt(m.side.latency.rowsPerSecond)]);
  return section('Latency', grid(chart), table(['model', 'batches', 'p50 ms', 'p99 ms', 'rows/s'], rows));
}

function dataSection(r: EvaluationReport): string {
  const list = (lines: string[]) => `<ul>${lines.map((l) => `<li>${esc(l.replace(/^\s*- /, ''))}</li>`).join('')}</ul>`;
  const parts = [`<p>Left out: ${esc(r.excluded.join('; '))}.</p>`];
  if (r.data) {
    parts.push(
      `<h3>Judged on ${r.data.judged.rowsJudged} rows of ${esc(`${r.data.judged.dataset}@${r.data.judged.version}`)} (${esc(KIND_WORDS[r.data.judged.kind])})</h3>`,
      list(describeLines(r.data.judged)),
    );
    for (const t of r.data.trained)
      parts.push(
        `<h3>${t.model === 'candidate' ? 'Candidate' : 'Production'} ${esc(t.modelVersion)} trained on ${t.trainRows} rows of ${esc(`${t.dataset}@${t.version}`)}</h3>`,
        list(describeLines(t)),
      );
  }
  return section('Data', ...parts);
}

export function renderEvaluationPage(r: EvaluationReport, source?: string): string {
  const data: Record<string, unknown> = { report: r.id, gates: r.gates };
  const gates = r.gates.length
    ? table(
        ['gate', 'verdict', 'what was compared'],
        r.gates.map((g) => [gateWords(g.gate), badge(g.passed), g.detail]),
      )
    : '<p class="muted">No gate applies.</p>';
  const missingCurves = sides(r).some((s) => !s.side.curves);
  const body = [
    section('Gates', gates),
    section('Metrics', metricsTable(r)),
    missingCurves
      ? note('This report was written before curves were stored: evaluate again to see them.')
      : r.task === 'regression'
        ? regressionCharts(r, data)
        : classificationCharts(r, data),
    sliceCharts(r, data),
    agreementSection(r, data),
    latencySection(r, data),
    dataSection(r),
  ].join('\n');
  return renderPage({
    title: `Evaluation of ${r.model}: ${r.candidate.version}${r.baseline ? ` vs production ${r.baseline.version}` : ''}`,
    subtitle: `${r.task} · ${r.rows} rows of ${r.dataset.name}@${r.dataset.version} · ${r.createdAt} · report ${r.id}`,
    verdict: { ok: r.passed, text: raw(verdictText(r)) },
    body,
    data,
    source,
  });
}
