import { outputValues, rowArgmax } from '../metrics';
import {
  type CalibrationBin,
  calibrationBins,
  confusionMatrix,
  type Histogram,
  histogramOf,
  type PrPoint,
  type RocPoint,
  residuals,
  samplePairs,
  thresholdCurves,
} from '../metrics/curves';
import type { Task } from '../training/data';

/**
 * What the evaluation page draws for one model, computed from its real outputs on the
 * evaluation rows (the same arrays its metrics come from) and stored in the report, so the
 * page and the JSON agree by construction and the page can be re-rendered from the JSON alone.
 * Sizes are bounded (curves thinned, scatter sampled, residuals binned): a few KB per model.
 */
export interface ModelCurves {
  /** Binary: the positive-class probability's ROC and precision-recall curves. */
  roc?: RocPoint[];
  pr?: PrPoint[];
  averagePrecision?: number;
  /** Classification: reliability bins (binary: the positive class; multiclass: the winning class's confidence). */
  calibration?: CalibrationBin[];
  /** Classification: counts[actual][predicted], class order as the model card's. */
  confusion?: number[][];
  /** Regression: a deterministic sample of (actual, predicted). */
  predictedVsActual?: Array<[number, number]>;
  /** Regression: actual − predicted over every evaluation row. */
  residuals?: Histogram;
}

export function curvesOf(task: Task, label: Float64Array, outputs: Float32Array, classes: number): ModelCurves {
  if (task === 'regression') {
    return { predictedVsActual: samplePairs(label, outputs), residuals: histogramOf(residuals(label, outputs), 30) };
  }
  const rows = label.length;
  const predicted = Int32Array.from({ length: rows }, (_, i) => rowArgmax(outputs, i, classes));
  const confusion = confusionMatrix(label, predicted, classes);
  if (task === 'binary') {
    const positive = outputValues(task, outputs, classes);
    const { roc, pr, averagePrecision } = thresholdCurves(label, positive);
    return { roc, pr, averagePrecision, calibration: calibrationBins(label, positive), confusion };
  }
  const right = Uint8Array.from({ length: rows }, (_, i) => (predicted[i] === label[i] ? 1 : 0));
  return { calibration: calibrationBins(right, outputValues(task, outputs, classes)), confusion };
}
