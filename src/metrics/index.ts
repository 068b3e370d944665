import type { Task } from '../training/data';
import { accuracy, brier, confusion, f1, logLoss, multiclassLogLoss, precision, recall, rocAuc } from './classification';
import { mae, r2, rmse } from './regression';

export * from './classification';
export * from './regression';

export interface BinaryMetrics {
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  rocAuc: number;
  logLoss: number;
  brier: number;
}

/** All binary metrics from true labels (0/1) and positive-class probabilities, at a 0.5 threshold. */
export function binaryMetrics(actual: ArrayLike<number>, probability: ArrayLike<number>, threshold = 0.5): BinaryMetrics {
  const predicted = new Uint8Array(probability.length);
  for (let i = 0; i < predicted.length; i++) predicted[i] = probability[i]! >= threshold ? 1 : 0;
  const c = confusion(actual, predicted);
  return {
    accuracy: accuracy(actual, predicted),
    precision: precision(c),
    recall: recall(c),
    f1: f1(c),
    rocAuc: rocAuc(actual, probability),
    logLoss: logLoss(actual, probability),
    brier: brier(actual, probability),
  };
}

export interface MulticlassMetrics {
  accuracy: number;
  macroF1: number;
  logLoss: number;
}

/** The index of the largest of row `row`'s `classes` values (rows stored one after the other). */
export function rowArgmax(values: ArrayLike<number>, row: number, classes: number): number {
  let best = 0;
  for (let k = 1; k < classes; k++) if (values[row * classes + k]! > values[row * classes + best]!) best = k;
  return best;
}

export function multiclassMetrics(actual: ArrayLike<number>, probabilities: ArrayLike<number>, classes: number): MulticlassMetrics {
  const predicted = Array.from({ length: actual.length }, (_, i) => rowArgmax(probabilities, i, classes));
  let f1Sum = 0;
  for (let k = 0; k < classes; k++) f1Sum += f1(confusion(actual, predicted, k));
  return { accuracy: accuracy(actual, predicted), macroF1: f1Sum / classes, logLoss: multiclassLogLoss(actual, probabilities, classes) };
}

export interface RegressionMetrics {
  rmse: number;
  mae: number;
  r2: number;
}

export function regressionMetrics(actual: ArrayLike<number>, predicted: ArrayLike<number>): RegressionMetrics {
  return { rmse: rmse(actual, predicted), mae: mae(actual, predicted), r2: r2(actual, predicted) };
}

/**
 * The metrics of a task from a model's outputs as ONNX Runtime gives them: probabilities
 * (N × C) for classification, predictions (N) for regression.
 */
export function metricsOf(task: Task, label: Float64Array, outputs: Float32Array, classes: number): Record<string, number> {
  if (task === 'regression') return { ...regressionMetrics(label, outputs) };
  if (task === 'binary') return { ...binaryMetrics(label, outputValues(task, outputs, classes)) };
  return { ...multiclassMetrics(label, outputs, classes) };
}

/** One value per row: the prediction, the positive-class probability, or the winning class's probability. */
export function outputValues(task: Task, outputs: Float32Array, classes: number): Float64Array {
  if (task === 'regression') return Float64Array.from(outputs);
  const rows = outputs.length / classes;
  const values = new Float64Array(rows);
  for (let i = 0; i < rows; i++) values[i] = outputs[i * classes + (task === 'binary' ? 1 : rowArgmax(outputs, i, classes))]!;
  return values;
}

/** NaN does not survive JSON (it becomes null anyway); say so in the type. */
export function finiteOrNull(value: number | undefined): number | null {
  return value !== undefined && Number.isFinite(value) ? value : null;
}
