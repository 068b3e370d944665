/**
 * Confidence-based performance estimation (CBPE) for binary classifiers: estimate accuracy and ROC AUC on
 * unlabeled production rows from calibrated probabilities, so degradation shows before labels arrive.
 *
 * Calibration is isotonic regression fitted with pool-adjacent-violators (PAV) on the test split. Isotonic
 * rather than Platt scaling because it is monotone without assuming a sigmoid shape: gradient-boosted
 * scores are often mis-calibrated in non-sigmoid ways, and the test split has enough rows for a
 * non-parametric fit. Monotone means the ranking (and so the model's own ROC AUC) is unchanged.
 */
import { brier } from '../metrics/classification';

/** Step map from raw score to calibrated probability: `upTo[i]` is the largest raw score of block i. */
export interface IsotonicMap {
  upTo: number[];
  value: number[];
}

export interface Calibration {
  method: 'isotonic';
  map: IsotonicMap;
  fittedOn: 'test';
  rows: number;
  /** Quality on the rows it was fitted on: expected calibration error and Brier score, before and after. */
  quality: { eceBefore: number; eceAfter: number; brierBefore: number; brierAfter: number };
}

/** Fit isotonic regression of labels (0/1) on scores by pool-adjacent-violators. */
export function fitIsotonic(score: ArrayLike<number>, label: ArrayLike<number>): IsotonicMap {
  if (score.length !== label.length) throw new RangeError(`fitIsotonic: ${score.length} scores but ${label.length} labels`);
  if (score.length === 0) throw new RangeError('fitIsotonic: no rows to calibrate on');
  const order = Array.from({ length: score.length }, (_, i) => i).sort((a, b) => score[a]! - score[b]!);
  // Equal scores must share one calibrated value, so they start as one block.
  const upTo: number[] = [];
  const sum: number[] = [];
  const count: number[] = [];
  for (const i of order) {
    const s = score[i]!;
    const last = upTo.length - 1;
    if (last >= 0 && upTo[last]! === s) {
      sum[last] = sum[last]! + label[i]!;
      count[last] = count[last]! + 1;
    } else {
      upTo.push(s);
      sum.push(label[i]!);
      count.push(1);
    }
    // Pool while the newest block's mean is not above the previous one's: below violates monotonicity, equal only makes the map longer.
    while (upTo.length > 1) {
      const n = upTo.length - 1;
      if (sum[n - 1]! / count[n - 1]! < sum[n]! / count[n]!) break;
      sum[n - 1] = sum[n - 1]! + sum[n]!;
      count[n - 1] = count[n - 1]! + count[n]!;
      upTo[n - 1] = upTo[n]!;
      upTo.pop();
      sum.pop();
      count.pop();
    }
  }
  return { upTo, value: sum.map((s, i) => s / count[i]!) };
}

/** Calibrated probability of one raw score: the value of the first block whose range reaches it. */
export function applyIsotonic(map: IsotonicMap, s: number): number {
  let lo = 0;
  let hi = map.upTo.length - 1;
  if (s >= map.upTo[hi]!) return map.value[hi]!;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (map.upTo[mid]! >= s) hi = mid;
    else lo = mid + 1;
  }
  return map.value[lo]!;
}

export function calibrate(map: IsotonicMap, score: ArrayLike<number>): Float64Array {
  const out = new Float64Array(score.length);
  for (let i = 0; i < score.length; i++) out[i] = applyIsotonic(map, score[i]!);
  return out;
}

/** Expected calibration error over equal-width bins: row-weighted |mean probability - hit rate|. */
export function expectedCalibrationError(label: ArrayLike<number>, probability: ArrayLike<number>, bins = 10): number {
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  const n = new Float64Array(bins);
  for (let i = 0; i < label.length; i++) {
    const b = Math.min(bins - 1, Math.max(0, Math.floor(probability[i]! * bins)));
    sumP[b] = sumP[b]! + probability[i]!;
    sumY[b] = sumY[b]! + label[i]!;
    n[b] = n[b]! + 1;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (n[b]! > 0) ece += Math.abs(sumP[b]! - sumY[b]!);
  return label.length === 0 ? 0 : ece / label.length;
}

/** Fit the calibration recorded in the model card, with its quality before and after on the same rows. */
export function fitCalibration(score: ArrayLike<number>, label: ArrayLike<number>): Calibration {
  const map = fitIsotonic(score, label);
  const after = calibrate(map, score);
  return {
    method: 'isotonic',
    map,
    fittedOn: 'test',
    rows: score.length,
    quality: {
      eceBefore: expectedCalibrationError(label, score),
      eceAfter: expectedCalibrationError(label, after),
      brierBefore: brier(label, score),
      brierAfter: brier(label, after),
    },
  };
}

/**
 * Expected accuracy: a row predicted positive (raw score >= threshold) is right with probability p,
 * one predicted negative with probability 1 - p, where p is the calibrated probability.
 */
export function expectedAccuracy(score: ArrayLike<number>, calibrated: ArrayLike<number>, threshold: number): number {
  if (score.length === 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < score.length; i++) s += score[i]! >= threshold ? calibrated[i]! : 1 - calibrated[i]!;
  return s / score.length;
}

/**
 * Expected ROC AUC: sweep the raw score from high to low; each row adds p expected true positives and
 * 1 - p expected false positives; the trapezoid area under expected (FPR, TPR) is the estimate.
 * Rows with equal scores move together, as in an ordinary ROC curve.
 */
export function expectedRocAuc(score: ArrayLike<number>, calibrated: ArrayLike<number>): number {
  const order = Array.from({ length: score.length }, (_, i) => i).sort((a, b) => score[b]! - score[a]!);
  let totalP = 0;
  for (let i = 0; i < calibrated.length; i++) totalP += calibrated[i]!;
  const totalN = calibrated.length - totalP;
  if (totalP <= 0 || totalN <= 0) return Number.NaN;
  let tp = 0;
  let fp = 0;
  let area = 0;
  let k = 0;
  while (k < order.length) {
    const s = score[order[k]!]!;
    let dtp = 0;
    let dfp = 0;
    while (k < order.length && score[order[k]!]! === s) {
      dtp += calibrated[order[k]!]!;
      dfp += 1 - calibrated[order[k]!]!;
      k++;
    }
    area += (dfp / totalN) * ((tp + dtp / 2) / totalP);
    tp += dtp;
    fp += dfp;
  }
  return area;
}

export interface CbpeEstimate {
  rows: number;
  expectedAccuracy: number;
  expectedRocAuc: number;
}

export function estimatePerformance(calibration: Calibration, score: ArrayLike<number>, threshold: number): CbpeEstimate {
  const p = calibrate(calibration.map, score);
  return { rows: score.length, expectedAccuracy: expectedAccuracy(score, p, threshold), expectedRocAuc: expectedRocAuc(score, p) };
}
