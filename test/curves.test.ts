import { describe, expect, it } from 'vitest';
import { curvesOf } from '../src/evaluation/curves';
import type { EvaluationReport } from '../src/evaluation/report';
import { rocAuc } from '../src/metrics';
import { calibrationBins, confusionMatrix, histogramOf, samplePairs, thinIndices, thresholdCurves } from '../src/metrics/curves';
import { renderEvaluationPage } from '../src/reports/evaluation';
import { niceDomain, niceTicks, timeTicks } from '../src/reports/svg';
import { rng } from '../src/synthetic/rng';

/** The curves behind the evaluation charts, checked by hand and against the metrics they must agree with. */
describe('threshold curves', () => {
  // scikit-learn's documented example: roc_curve gives fpr [0, 0, .5, .5, 1], tpr [0, .5, .5, 1, 1];
  // average_precision_score gives 0.8333.
  const y = [0, 0, 1, 1];
  const s = [0.1, 0.4, 0.35, 0.8];

  it('ROC and precision-recall points per distinct score, average precision as scikit-learn', () => {
    const c = thresholdCurves(y, s);
    expect(c.roc.map((p) => [p.fpr, p.tpr])).toEqual([
      [0, 0],
      [0, 0.5],
      [0.5, 0.5],
      [0.5, 1],
      [1, 1],
    ]);
    expect(c.roc.map((p) => p.threshold)).toEqual([Number.POSITIVE_INFINITY, 0.8, 0.4, 0.35, 0.1]);
    expect(c.pr.map((p) => [p.recall, p.precision])).toEqual([
      [0.5, 1],
      [0.5, 0.5],
      [1, 2 / 3],
      [1, 0.5],
    ]);
    expect(c.averagePrecision).toBeCloseTo(5 / 6, 12);
  });

  it('tied scores are one step, NaN scores are left out, one class gives no curve', () => {
    expect(thresholdCurves([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]).roc.map((p) => [p.fpr, p.tpr])).toEqual([
      [0, 0],
      [1, 1],
    ]);
    expect(thresholdCurves([1, 0, 0], [0.9, Number.NaN, 0.1]).roc.map((p) => [p.fpr, p.tpr])).toEqual([
      [0, 0],
      [0, 1],
      [1, 1],
    ]);
    expect(thresholdCurves([1, 1], [0.2, 0.3])).toEqual({ roc: [], pr: [], averagePrecision: Number.NaN });
  });

  it('the area under the drawn ROC curve is the ROC AUC metric (ties included), and thinning keeps both ends', () => {
    const random = rng(42);
    const n = 3000;
    const label = Array.from({ length: n }, () => (random() < 0.3 ? 1 : 0));
    // Rounded scores: many ties, which the trapezoid must count as half, like the metric.
    const score = label.map((l) => Math.round((random() * 0.7 + l * 0.3) * 50) / 50);
    const full = thresholdCurves(label, score, 1, Number.POSITIVE_INFINITY).roc;
    let area = 0;
    for (let k = 1; k < full.length; k++) area += ((full[k]!.fpr - full[k - 1]!.fpr) * (full[k]!.tpr + full[k - 1]!.tpr)) / 2;
    expect(area).toBeCloseTo(rocAuc(label, score), 12);
    const thinned = thresholdCurves(
      label,
      Float64Array.from({ length: n }, () => random()).map((v, i) => v + label[i]! * 0.2),
      1,
      50,
    ).roc;
    expect(thinned).toHaveLength(50);
    expect(thinned[0]).toMatchObject({ fpr: 0, tpr: 0 });
    expect(thinned[49]).toMatchObject({ fpr: 1, tpr: 1 });
    expect(thinIndices(3, 10)).toEqual([0, 1, 2]);
    expect(thinIndices(11, 3)).toEqual([0, 5, 10]);
  });
});

describe('calibration, confusion, histograms', () => {
  it('reliability bins: mean prediction and observed rate per occupied bin', () => {
    const bins = calibrationBins([0, 1, 1, 0, 1], [0.05, 0.15, 0.12, 0.95, 1]);
    expect(bins).toEqual([
      { from: 0, to: 0.1, rows: 1, meanPredicted: 0.05, observed: 0 },
      { from: 0.1, to: 0.2, rows: 2, meanPredicted: (0.15 + 0.12) / 2, observed: 1 },
      { from: 0.9, to: 1, rows: 2, meanPredicted: 0.975, observed: 0.5 },
    ]);
  });

  it('confusion matrix counts[actual][predicted]', () => {
    expect(confusionMatrix([0, 1, 2, 2, 1], [0, 2, 2, 1, 1], 3)).toEqual([
      [1, 0, 0],
      [0, 1, 1],
      [0, 1, 1],
    ]);
  });

  it('histograms put every finite value in a bin (the maximum in the last), equal values in one', () => {
    const h = histogramOf([0, 1, 2, 3, 4, Number.NaN, 10], 5);
    expect(h.edges).toEqual([0, 2, 4, 6, 8, 10]);
    expect(h.counts).toEqual([2, 2, 1, 0, 1]);
    expect(histogramOf([3, 3], 5)).toEqual({ edges: [2.5, 3.5], counts: [2] });
    expect(histogramOf([], 5)).toEqual({ edges: [], counts: [] });
  });

  it('scatter samples are capped and the same every time', () => {
    const a = Float64Array.from({ length: 1000 }, (_, i) => i);
    expect(samplePairs(a, a, 100)).toHaveLength(100);
    expect(samplePairs(a, a, 100)).toEqual(samplePairs(a, a, 100));
    expect(samplePairs([1, 2], [3, 4], 100)).toEqual([
      [1, 3],
      [2, 4],
    ]);
  });

  it("multiclass: confusion over the classes and calibration of the winning class's confidence", () => {
    // 3 rows × 3 classes; row 2 is wrong (predicted 0, actual 2).
    const outputs = Float32Array.from([0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.6, 0.1, 0.3]);
    const c = curvesOf('multiclass', Float64Array.from([0, 1, 2]), outputs, 3);
    expect(c.confusion).toEqual([
      [1, 0, 0],
      [0, 1, 0],
      [1, 0, 0],
    ]);
    // Confidences 0.6 (wrong) and 0.7 (right; 0.69999999 as float32) share the [0.6, 0.7) bin.
    expect(c.calibration!.map((b) => [b.from, b.rows, b.observed])).toEqual([
      [0.6, 2, 0.5],
      [0.8, 1, 1],
    ]);
    expect(c.roc).toBeUndefined();
  });
});

describe('chart scales', () => {
  it('round ticks inside the domain, domains that hold every value', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceDomain([0.784, 0.866])).toEqual([0.78, 0.88]);
    expect(niceDomain([5], [0])).toEqual([0, 5]);
    // Seconds apart: one tick per distinct label.
    const t = Date.parse('2026-12-02T08:36:15.000Z');
    const labels = timeTicks([t, t + 2000]);
    expect(new Set(labels).size).toBe(labels.length);
  });
});

describe('an evaluation report written before curves were stored', () => {
  it('renders with a note instead of empty charts', () => {
    const side = {
      version: 'a'.repeat(16),
      metrics: { rocAuc: 0.8 },
      latency: { batches: 1, p50Ms: 1, p99Ms: 1, rowsPerSecond: 1000 },
      distribution: { kind: 'class-shares' as const, shares: [1] },
    };
    const old = {
      id: '0123456789abcdef',
      model: 'm',
      createdAt: '2026-01-01T00:00:00Z',
      dataset: { name: 'd', version: 'v' },
      primaryMetric: 'rocAuc',
      gatesConfig: { thresholds: {}, maxSliceRegression: 0.05, minSliceRows: 100, maxLatencyRatio: 3, minLatencyBatches: 10 },
      gates: [{ gate: 'threshold:rocAuc', passed: true, detail: 'rocAuc 0.8 must be ≥ 0.5' }],
      passed: true,
      task: 'binary' as const,
      rows: 10,
      excluded: [],
      candidate: side,
      slices: [],
    } satisfies EvaluationReport;
    const html = renderEvaluationPage(old);
    expect(html).toContain('written before curves were stored');
    expect(html).not.toContain('id="roc"');
    expect(html).toContain('Passed every gate (1)');
  });
});
