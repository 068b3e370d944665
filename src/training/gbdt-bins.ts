/**
 * Bucketing a feature for GBDT training: bin 0 holds missing values, bin b ≥ 1 the values up to
 * its upper edge. Runs on whichever thread GbdtThreads gives the feature; a feature's bins depend
 * on its values only, so the thread does not matter.
 */
export const MISSING_BIN = 0;
/** Room for one feature's edges (maxBins ≤ 255, plus the missing bin). */
export const EDGE_SLOTS = 256;

/** Bin edges come from at most this many values per feature (evenly spaced rows), as scikit-learn does. */
const BINNING_SAMPLE = 200_000;

/**
 * Bins feature `f` from its float32 values (NaN = missing) into `column` (the feature's column of
 * the column-major table) and its place in each row of `rowMajor`; its edges go to `edgesOut`;
 * returns how many.
 */
export function binFeature(values32: Float64Array, maxBins: number, edgesOut: Float64Array, column: Uint8Array, rowMajor: Uint8Array, features: number, f: number): number {
  const t = binEdges(values32, maxBins);
  for (let i = 0; i < values32.length; i++) {
    const v = values32[i]!;
    const b = Number.isNaN(v) ? MISSING_BIN : binOf(t, v);
    column[i] = b;
    rowMajor[i * features + f] = b;
  }
  edgesOut.set(t);
  return t.length;
}

/** [NaN, upper edge of bin 1, …]: every distinct value when few, else values at evenly spaced ranks. */
function binEdges(values32: Float64Array, maxBins: number): Float64Array {
  let count = 0;
  for (let i = 0; i < values32.length; i++) if (!Number.isNaN(values32[i]!)) count++;
  const stride = Math.max(1, count / BINNING_SAMPLE);
  const values = new Float64Array(Math.min(count, BINNING_SAMPLE));
  for (let i = 0, seen = 0, taken = 0; i < values32.length && taken < values.length; i++) {
    const v = values32[i]!;
    if (Number.isNaN(v)) continue;
    if (seen++ >= taken * stride) values[taken++] = v;
  }
  values.sort();
  const distinct: number[] = [];
  for (let i = 0; i < values.length && distinct.length < maxBins; i++) {
    if (distinct.length === 0 || distinct[distinct.length - 1] !== values[i]) distinct.push(values[i]!);
  }
  let edges: number[];
  if (distinct.length <= maxBins - 1) edges = distinct;
  else {
    edges = [];
    for (let b = 1; b < maxBins; b++) {
      const v = values[Math.min(values.length - 1, Math.floor((b * values.length) / (maxBins - 1)) - 1)]!;
      if (edges.length === 0 || edges[edges.length - 1]! < v) edges.push(v);
    }
    if (edges[edges.length - 1]! < values[values.length - 1]!) edges.push(values[values.length - 1]!);
  }
  return Float64Array.from([Number.NaN, ...edges]);
}

/** Smallest bin b ≥ 1 with value ≤ thresholds[b] (values above every edge go to the last bin). */
function binOf(t: Float64Array, v: number): number {
  let lo = 1;
  let hi = t.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v <= t[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
