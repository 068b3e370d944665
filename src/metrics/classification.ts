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
 * ROC AUC as the Mann-Whitney U statistic: the share of (positive, negative) pairs the score
 * orders correctly, ties counting half (the same number as the rank-sum formula with average
 * ranks). Positives and negatives are sorted apart with native typed-array sorts and merged,
 * which keeps a million rows well under a second. NaN when only one class is present.
 */
export function rocAuc(actual: Labels, score: ArrayLike<number>, positive = 1): number {
  assertSameLength(actual, score);
  let positives = 0;
  for (let i = 0; i < actual.length; i++) if (actual[i] === positive) positives++;
  const pos = new Float64Array(positives);
  const neg = new Float64Array(actual.length - positives);
  for (let i = 0, p = 0, q = 0; i < actual.length; i++) {
    if (actual[i] === positive) pos[p++] = score[i]!;
    else neg[q++] = score[i]!;
  }
  if (pos.length === 0 || neg.length === 0) return Number.NaN;
  pos.sort();
  neg.sort();
  let u = 0;
  let below = 0; // negatives scored below the current positive
  let notAbove = 0; // negatives scored at most the current positive
  for (let k = 0; k < pos.length; k++) {
    const s = pos[k]!;
    while (below < neg.length && neg[below]! < s) below++;
    while (notAbove < neg.length && neg[notAbove]! <= s) notAbove++;
    u += below + (notAbove - below) / 2;
  }
  return u / (pos.length * neg.length);
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
