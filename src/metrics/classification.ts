/**
 * Classification metrics over label/score arrays. Binary metrics take the positive-class
 * probability; multiclass ones take the predicted class and the per-class probability rows.
 * Conventions follow scikit-learn (so numbers can be compared with external trainers' reports).
 */
export type Labels = ArrayLike<number>;

/** Clamp keeps log loss finite for confident mistakes, like scikit-learn's eps. */
const EPS = 1e-15;

export function accuracy(actual: Labels, predicted: Labels): number {
  assertSameLength(actual, predicted);
  let right = 0;
  for (let i = 0; i < actual.length; i++) if (actual[i] === predicted[i]) right++;
  return right / actual.length;
}

export interface BinaryCounts {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

export function confusion(actual: Labels, predicted: Labels, positive = 1): BinaryCounts {
  assertSameLength(actual, predicted);
  const c = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] === positive;
    const p = predicted[i] === positive;
    if (a && p) c.tp++;
    else if (!a && p) c.fp++;
    else if (a) c.fn++;
    else c.tn++;
  }
  return c;
}

/** 0 when undefined (no predicted positives), as scikit-learn's zero_division=0. */
export function precision(c: BinaryCounts): number {
  return c.tp + c.fp === 0 ? 0 : c.tp / (c.tp + c.fp);
}

export function recall(c: BinaryCounts): number {
  return c.tp + c.fn === 0 ? 0 : c.tp / (c.tp + c.fn);
}

export function f1(c: BinaryCounts): number {
  const p = precision(c);
  const r = recall(c);
  return p + r === 0 ? 0 : (2 * p * r) / (p + r);
}

/**
 * ROC AUC by the rank-sum (Mann-Whitney U) formula with average ranks for ties; undefined (NaN)
 * when only one class is present.
 */
export function rocAuc(actual: Labels, score: ArrayLike<number>, positive = 1): number {
  assertSameLength(actual, score);
  const n = actual.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[a]! - score[b]!);
  let rankSumPositive = 0;
  let positives = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && score[order[j + 1]!] === score[order[i]!]) j++;
    const averageRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (actual[order[k]!] === positive) {
        rankSumPositive += averageRank;
        positives++;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSumPositive - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Binary log loss from the positive-class probability. */
export function logLoss(actual: Labels, probability: ArrayLike<number>, positive = 1): number {
  assertSameLength(actual, probability);
  let sum = 0;
  for (let i = 0; i < actual.length; i++) {
    const p = Math.min(1 - EPS, Math.max(EPS, probability[i]!));
    sum -= actual[i] === positive ? Math.log(p) : Math.log(1 - p);
  }
  return sum / actual.length;
}

/** Multiclass log loss: probabilities[i * classes + k] is P(row i is class k); labels are 0…classes-1. */
export function multiclassLogLoss(actual: Labels, probabilities: ArrayLike<number>, classes: number): number {
  if (probabilities.length !== actual.length * classes) throw new Error('probabilities must have rows × classes entries');
  let sum = 0;
  for (let i = 0; i < actual.length; i++) {
    sum -= Math.log(Math.min(1 - EPS, Math.max(EPS, probabilities[i * classes + actual[i]!]!)));
  }
  return sum / actual.length;
}

export function brier(actual: Labels, probability: ArrayLike<number>, positive = 1): number {
  assertSameLength(actual, probability);
  let sum = 0;
  for (let i = 0; i < actual.length; i++) sum += (probability[i]! - (actual[i] === positive ? 1 : 0)) ** 2;
  return sum / actual.length;
}

export function assertSameLength(a: ArrayLike<unknown>, b: ArrayLike<unknown>): void {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  if (a.length === 0) throw new Error('metrics need at least one row');
}
