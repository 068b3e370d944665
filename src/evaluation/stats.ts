import { rowArgmax } from '../metrics';
import type { Task } from '../training/data';

/** Nearest-rank percentile (q in [0, 1]) of unsorted values; NaN when there are none. */
export function percentile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export interface DifferenceSummary {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * |a − b| per row, on column `column` of rows `width` wide; column −1 compares each row's
 * largest value (the winning class's probability).
 */
export function absoluteDifferences(a: Float32Array, b: Float32Array, width: number, column: number): Float64Array {
  const rows = a.length / width;
  const diffs = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const va = a[i * width + (column >= 0 ? column : rowArgmax(a, i, width))]!;
    const vb = b[i * width + (column >= 0 ? column : rowArgmax(b, i, width))]!;
    diffs[i] = Math.abs(va - vb);
  }
  return diffs;
}

export function summarizeDifferences(diffs: Float64Array): DifferenceSummary {
  const rows = diffs.length;
  let sum = 0;
  for (let i = 0; i < rows; i++) sum += diffs[i]!;
  const sorted = Float64Array.from(diffs).sort();
  const at = (q: number) => (rows ? sorted[Math.min(rows - 1, Math.max(0, Math.ceil(q * rows) - 1))]! : Number.NaN);
  return { mean: rows ? sum / rows : Number.NaN, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: rows ? sorted[rows - 1]! : Number.NaN };
}

/**
 * What a model's outputs look like: for binary, a 10-bin histogram of the positive-class
 * probability; for multiclass, the share of rows predicted as each class; for regression, quantiles.
 */
export type Distribution =
  | { kind: 'probability-histogram'; edges: number[]; shares: number[] }
  | { kind: 'class-shares'; shares: number[] }
  | { kind: 'quantiles'; p01: number; p25: number; p50: number; p75: number; p99: number };

export function distributionOf(task: Task, outputs: Float32Array, classes: number): Distribution {
  if (task === 'regression') {
    const q = (p: number) => percentile(outputs, p);
    return { kind: 'quantiles', p01: q(0.01), p25: q(0.25), p50: q(0.5), p75: q(0.75), p99: q(0.99) };
  }
  const rows = outputs.length / classes;
  if (task === 'binary') {
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < rows; i++) counts[Math.min(9, Math.floor(outputs[i * 2 + 1]! * 10))]!++;
    return { kind: 'probability-histogram', edges: Array.from({ length: 11 }, (_, k) => k / 10), shares: counts.map((c) => c / rows) };
  }
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < rows; i++) counts[rowArgmax(outputs, i, classes)]!++;
  return { kind: 'class-shares', shares: counts.map((c) => c / rows) };
}
