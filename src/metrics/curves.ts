import { assertSameLength, type Labels } from './classification';

/**
 * The curves behind the evaluation charts, from the same label and output arrays the metrics
 * come from: ROC and precision-recall (scikit-learn's roc_curve / precision_recall_curve, one
 * point per distinct score), reliability bins, confusion matrices, residuals. Long curves are
 * thinned to at most `maxPoints` points, always keeping both ends, so a report stays small
 * whatever the row count; the area is computed from every point, before thinning.
 */

export interface RocPoint {
  fpr: number;
  tpr: number;
  /** Rows scoring at least this are predicted positive (Infinity: none). */
  threshold: number;
}

export interface PrPoint {
  recall: number;
  precision: number;
  threshold: number;
}

export interface ThresholdCurves {
  roc: RocPoint[];
  pr: PrPoint[];
  /** Average precision (scikit-learn's average_precision_score): Σ (Rₙ − Rₙ₋₁) Pₙ. */
  averagePrecision: number;
}

export const MAX_CURVE_POINTS = 200;

/** `max` indices of 0…n−1 spread evenly, first and last included (all of them when n ≤ max). */
export function thinIndices(n: number, max = MAX_CURVE_POINTS): number[] {
  if (n <= max) return Array.from({ length: n }, (_, k) => k);
  return Array.from({ length: max }, (_, k) => Math.round((k * (n - 1)) / (max - 1)));
}

/**
 * Both threshold curves of a binary score in one descending sweep. Ties are one step (a
 * threshold cannot split rows with the same score). NaN scores are left out, as they cannot be
 * ranked. Empty curves when only one class is present (neither rate is defined). Positives and
 * negatives are sorted apart with native typed-array sorts and merged from the top, as rocAuc
 * does: a million rows take a fraction of a second.
 */
export function thresholdCurves(actual: Labels, score: ArrayLike<number>, positive = 1, maxPoints = MAX_CURVE_POINTS): ThresholdCurves {
  assertSameLength(actual, score);
  let positives = 0;
  let negatives = 0;
  for (let i = 0; i < actual.length; i++) {
    if (Number.isNaN(score[i]!)) continue;
    if (actual[i] === positive) positives++;
    else negatives++;
  }
  if (positives === 0 || negatives === 0) return { roc: [], pr: [], averagePrecision: Number.NaN };
  const pos = new Float64Array(positives);
  const neg = new Float64Array(negatives);
  for (let i = 0, p = 0, q = 0; i < actual.length; i++) {
    const v = score[i]!;
    if (Number.isNaN(v)) continue;
    if (actual[i] === positive) pos[p++] = v;
    else neg[q++] = v;
  }
  pos.sort();
  neg.sort();
  // One slot per distinct score plus the start, in typed arrays: a million points are not a
  // million objects; only the kept ones become objects.
  const fp = new Float64Array(positives + negatives + 1);
  const tp = new Float64Array(positives + negatives + 1);
  const at = new Float64Array(positives + negatives + 1);
  at[0] = Number.POSITIVE_INFINITY; // in JSON this first threshold (no row predicted positive) is null
  let points = 1;
  let p = positives - 1;
  let q = negatives - 1;
  let ap = 0;
  while (p >= 0 || q >= 0) {
    const threshold = Math.max(p >= 0 ? pos[p]! : Number.NEGATIVE_INFINITY, q >= 0 ? neg[q]! : Number.NEGATIVE_INFINITY);
    while (p >= 0 && pos[p] === threshold) p--;
    while (q >= 0 && neg[q] === threshold) q--;
    tp[points] = positives - 1 - p;
    fp[points] = negatives - 1 - q;
    at[points] = threshold;
    ap += ((tp[points]! - tp[points - 1]!) / positives) * (tp[points]! / (tp[points]! + fp[points]!));
    points++;
  }
  const kept = (from: number) => thinIndices(points - from, maxPoints).map((k) => k + from);
  return {
    roc: kept(0).map((k) => ({ fpr: fp[k]! / negatives, tpr: tp[k]! / positives, threshold: at[k]! })),
    pr: kept(1).map((k) => ({ recall: tp[k]! / positives, precision: tp[k]! / (tp[k]! + fp[k]!), threshold: at[k]! })),
    averagePrecision: ap,
  };
}

export interface CalibrationBin {
  /** [from, to) of the predicted probability; the last bin includes 1. */
  from: number;
  to: number;
  rows: number;
  /** Mean predicted probability of the bin's rows. */
  meanPredicted: number;
  /** Share of the bin's rows that were positive (or right, for a winning class's confidence). */
  observed: number;
}

/**
 * Reliability diagram bins (scikit-learn's calibration_curve, strategy "uniform"): rows cut into
 * `bins` equal-width probability bins; empty bins are left out. `hit[i]` is 1 when row i's event
 * happened (the positive class; for multiclass, the predicted class being right).
 */
export function calibrationBins(hit: Labels, probability: ArrayLike<number>, bins = 10): CalibrationBin[] {
  assertSameLength(hit, probability);
  const rows = new Array<number>(bins).fill(0);
  const predicted = new Array<number>(bins).fill(0);
  const events = new Array<number>(bins).fill(0);
  for (let i = 0; i < probability.length; i++) {
    const p = probability[i]!;
    if (!Number.isFinite(p)) continue;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(p * bins)));
    rows[b]!++;
    predicted[b]! += p;
    if (hit[i] === 1) events[b]!++;
  }
  const out: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    if (rows[b] === 0) continue;
    out.push({ from: b / bins, to: (b + 1) / bins, rows: rows[b]!, meanPredicted: predicted[b]! / rows[b]!, observed: events[b]! / rows[b]! });
  }
  return out;
}

/** counts[actual][predicted] over class indices 0…classes−1; rows with a label outside them are left out. */
export function confusionMatrix(actual: Labels, predicted: Labels, classes: number): number[][] {
  assertSameLength(actual, predicted);
  const counts = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const p = predicted[i]!;
    if (a >= 0 && a < classes && p >= 0 && p < classes) counts[a]![p]!++;
  }
  return counts;
}

export interface Histogram {
  /** bins + 1 ascending edges; the last bin includes its upper edge. */
  edges: number[];
  counts: number[];
}

/** Equal-width bins over [min, max] of the finite values (one bin of width 1 when they are all equal). */
export function histogramOf(values: ArrayLike<number>, bins = 20, domain?: readonly [number, number]): Histogram {
  let min = domain?.[0] ?? Number.POSITIVE_INFINITY;
  let max = domain?.[1] ?? Number.NEGATIVE_INFINITY;
  if (!domain) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  if (min === Number.POSITIVE_INFINITY) return { edges: [], counts: [] };
  if (max <= min) return { edges: [min - 0.5, min + 0.5], counts: [countFinite(values)] };
  const width = (max - min) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v) || v < min || v > max) continue;
    counts[Math.min(bins - 1, Math.floor((v - min) / width))]!++;
  }
  return { edges: Array.from({ length: bins + 1 }, (_, k) => (k === bins ? max : min + k * width)), counts };
}

function countFinite(values: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]!)) n++;
  return n;
}

/**
 * Up to `max` (actual, predicted) pairs, every k-th row in row order, for a scatter plot: a
 * deterministic sample, so a report is the same on a rerun.
 */
export function samplePairs(actual: ArrayLike<number>, predicted: ArrayLike<number>, max = 400): Array<[number, number]> {
  assertSameLength(actual, predicted);
  const step = Math.max(1, actual.length / max);
  const out: Array<[number, number]> = [];
  for (let k = 0; k * step < actual.length && out.length < max; k++) {
    const i = Math.floor(k * step);
    if (Number.isFinite(actual[i]!) && Number.isFinite(predicted[i]!)) out.push([actual[i]!, predicted[i]!]);
  }
  return out;
}

export function residuals(actual: ArrayLike<number>, predicted: ArrayLike<number>): Float64Array {
  assertSameLength(actual, predicted);
  return Float64Array.from({ length: actual.length }, (_, i) => actual[i]! - predicted[i]!);
}
