import { assertSameLength } from './classification';

export function rmse(actual: ArrayLike<number>, predicted: ArrayLike<number>): number {
  assertSameLength(actual, predicted);
  let sum = 0;
  for (let i = 0; i < actual.length; i++) sum += (actual[i]! - predicted[i]!) ** 2;
  return Math.sqrt(sum / actual.length);
}

export function mae(actual: ArrayLike<number>, predicted: ArrayLike<number>): number {
  assertSameLength(actual, predicted);
  let sum = 0;
  for (let i = 0; i < actual.length; i++) sum += Math.abs(actual[i]! - predicted[i]!);
  return sum / actual.length;
}

/** Coefficient of determination; 1 - SSres/SStot (scikit-learn's r2_score). */
export function r2(actual: ArrayLike<number>, predicted: ArrayLike<number>): number {
  assertSameLength(actual, predicted);
  let mean = 0;
  for (let i = 0; i < actual.length; i++) mean += actual[i]!;
  mean /= actual.length;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < actual.length; i++) {
    ssRes += (actual[i]! - predicted[i]!) ** 2;
    ssTot += (actual[i]! - mean) ** 2;
  }
  return ssTot === 0 ? (ssRes === 0 ? 1 : 0) : 1 - ssRes / ssTot;
}
