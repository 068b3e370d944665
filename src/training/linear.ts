import type { FeatureSpec, SplitData, Task } from './data';
import { encode, encodedWidth } from './encode';
import { lbfgs } from './lbfgs';

/**
 * Linear models on the encoded features: logistic regression (binary: sigmoid; multiclass:
 * softmax) with an L2 penalty as scikit-learn's `C`, and ridge regression. Weights are rounded to
 * float32 after fitting because the ONNX model stores them in float32.
 */
export interface LinearModel {
  kind: 'logistic' | 'linear';
  task: Task;
  features: FeatureSpec[];
  classes: string[];
  /** D × K, row-major (K = 1 for binary and regression). */
  weights: Float64Array;
  bias: Float64Array;
  outputs: number;
  /** Mean of each encoded column on the training rows: the reference point of feature contributions. */
  encodedMeans: Float64Array;
}

export interface LogisticParams {
  /** Inverse regularization strength, as in scikit-learn (default 1). */
  C: number;
  maxIterations: number;
  tolerance: number;
}

export interface RidgeParams {
  /** L2 strength, as scikit-learn's Ridge `alpha` (default 1). */
  alpha: number;
}

export function trainLogistic(split: SplitData, features: FeatureSpec[], classes: string[], task: 'binary' | 'multiclass', params: LogisticParams): LinearModel {
  const x = encode(split, features);
  const d = encodedWidth(features);
  const k = task === 'binary' ? 1 : classes.length;
  const n = split.rows;
  const y = split.label;
  const penalty = 1 / (2 * params.C * n);
  // Parameters: k columns of [d weights, 1 bias], column-major per output.
  const objective = (w: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    let loss = 0;
    const z = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      const row = i * d;
      for (let c = 0; c < k; c++) {
        const base = c * (d + 1);
        let s = w[base + d]!;
        for (let j = 0; j < d; j++) s += x[row + j]! * w[base + j]!;
        z[c] = s;
      }
      if (k === 1) {
        const p = 1 / (1 + Math.exp(-z[0]!));
        const target = y[i]!;
        loss -= target === 1 ? Math.log(Math.max(p, 1e-300)) : Math.log(Math.max(1 - p, 1e-300));
        const g = p - target;
        for (let j = 0; j < d; j++) grad[j]! += g * x[row + j]!;
        grad[d]! += g;
      } else {
        let max = -Infinity;
        for (let c = 0; c < k; c++) max = Math.max(max, z[c]!);
        let sum = 0;
        for (let c = 0; c < k; c++) sum += Math.exp(z[c]! - max);
        const target = y[i]!;
        loss -= z[target]! - max - Math.log(sum);
        for (let c = 0; c < k; c++) {
          const g = Math.exp(z[c]! - max) / sum - (c === target ? 1 : 0);
          const base = c * (d + 1);
          for (let j = 0; j < d; j++) grad[base + j]! += g * x[row + j]!;
          grad[base + d]! += g;
        }
      }
    }
    loss /= n;
    for (let i = 0; i < grad.length; i++) grad[i]! /= n;
    for (let c = 0; c < k; c++) {
      for (let j = 0; j < d; j++) {
        const wi = w[c * (d + 1) + j]!;
        loss += penalty * wi * wi;
        grad[c * (d + 1) + j]! += 2 * penalty * wi;
      }
    }
    return loss;
  };
  const { w } = lbfgs(objective, new Float64Array(k * (d + 1)), {
    maxIterations: params.maxIterations,
    tolerance: params.tolerance,
  });
  const weights = new Float64Array(d * k);
  const bias = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < d; j++) weights[j * k + c] = Math.fround(w[c * (d + 1) + j]!);
    bias[c] = Math.fround(w[c * (d + 1) + d]!);
  }
  return { kind: 'logistic', task, features, classes, weights, bias, outputs: k, encodedMeans: columnMeans(x, n, d) };
}

export function trainRidge(split: SplitData, features: FeatureSpec[], params: RidgeParams): LinearModel {
  const x = encode(split, features);
  const d = encodedWidth(features);
  const n = split.rows;
  const y = split.label;
  // Center so the intercept is not penalized, then solve (XᵀX + αI) w = Xᵀy by Cholesky.
  const xMean = columnMeans(x, n, d);
  let yMean = 0;
  for (let i = 0; i < n; i++) yMean += y[i]!;
  yMean /= n;
  const a = new Float64Array(d * d);
  const b = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const yi = y[i]! - yMean;
    for (let j = 0; j < d; j++) {
      const xj = x[i * d + j]! - xMean[j]!;
      b[j]! += xj * yi;
      for (let l = 0; l <= j; l++) a[j * d + l]! += xj * (x[i * d + l]! - xMean[l]!);
    }
  }
  for (let j = 0; j < d; j++) {
    a[j * d + j]! += params.alpha;
    for (let l = 0; l < j; l++) a[l * d + j] = a[j * d + l]!;
  }
  const w = solveSymmetric(a, b, d);
  let intercept = yMean;
  for (let j = 0; j < d; j++) intercept -= w[j]! * xMean[j]!;
  return {
    kind: 'linear',
    task: 'regression',
    features,
    classes: [],
    weights: Float64Array.from(w, Math.fround),
    bias: Float64Array.of(Math.fround(intercept)),
    outputs: 1,
    encodedMeans: xMean,
  };
}

function columnMeans(x: Float64Array, n: number, d: number): Float64Array {
  const means = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) means[j]! += x[i * d + j]!;
  for (let j = 0; j < d; j++) means[j]! /= Math.max(1, n);
  return means;
}

/** Cholesky solve of a symmetric positive definite system (α > 0 guarantees definiteness). */
function solveSymmetric(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j]!;
      for (let k = 0; k < j; k++) s -= l[i * d + k]! * l[j * d + k]!;
      l[i * d + j] = i === j ? Math.sqrt(Math.max(s, 1e-300)) : s / l[j * d + j]!;
    }
  }
  const z = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i * d + k]! * z[k]!;
    z[i] = s / l[i * d + i]!;
  }
  const w = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let k = i + 1; k < d; k++) s -= l[k * d + i]! * w[k]!;
    w[i] = s / l[i * d + i]!;
  }
  return w;
}

/**
 * The model's own predictions: class probabilities (N × C, C = 2 for binary) for classifiers,
 * values (N) for regression.
 */
export function predictLinear(model: LinearModel, split: SplitData): Float64Array {
  const x = encode(split, model.features);
  const d = encodedWidth(model.features);
  const k = model.outputs;
  const n = split.rows;
  const classes = model.task === 'binary' ? 2 : k;
  const out = new Float64Array(model.task === 'regression' ? n : n * classes);
  const z = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) {
      let s = model.bias[c]!;
      for (let j = 0; j < d; j++) s += x[i * d + j]! * model.weights[j * k + c]!;
      z[c] = s;
    }
    if (model.task === 'regression') out[i] = z[0]!;
    else if (model.task === 'binary') {
      const p = 1 / (1 + Math.exp(-z[0]!));
      out[i * 2] = 1 - p;
      out[i * 2 + 1] = p;
    } else {
      let max = -Infinity;
      for (let c = 0; c < k; c++) max = Math.max(max, z[c]!);
      let sum = 0;
      for (let c = 0; c < k; c++) sum += Math.exp(z[c]! - max);
      for (let c = 0; c < k; c++) out[i * k + c] = Math.exp(z[c]! - max) / sum;
    }
  }
  return out;
}
