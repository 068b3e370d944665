import type { FeatureSpec, SplitData } from './data';

/**
 * Histogram-based gradient-boosted trees (the LightGBM / scikit-learn HistGradientBoosting
 * recipe): features are bucketed into at most 255 bins once, each node's split is found from
 * per-bin gradient sums, and the larger child's histogram is the parent's minus the smaller's.
 * Missing values get a bin of their own and learn which side they go to. Binary log loss and
 * squared error. Deterministic: no sampling.
 *
 * Thresholds are float32 values (the largest training value of a bin), so that the ONNX tree
 * ensemble, which compares in float32, routes every row exactly as this code does.
 */
export interface GbdtParams {
  nEstimators: number;
  learningRate: number;
  maxDepth: number;
  maxLeaves: number;
  minSamplesLeaf: number;
  l2: number;
  maxBins: number;
}

export const DEFAULT_GBDT_PARAMS: GbdtParams = {
  nEstimators: 100,
  learningRate: 0.1,
  maxDepth: 6,
  maxLeaves: 31,
  minSamplesLeaf: 20,
  l2: 1,
  maxBins: 255,
};

export type TreeNode =
  | { leaf: true; value: number }
  | { leaf: false; feature: number; threshold: number; missingLeft: boolean; left: number; right: number };

export interface GbdtModel {
  kind: 'gbdt';
  task: 'binary' | 'regression';
  features: FeatureSpec[];
  classes: string[];
  /** Raw score before the link function (log-odds, or the mean for regression). */
  baseScore: number;
  /** Each tree is a node array; node 0 is the root. */
  trees: TreeNode[][];
}

const MISSING_BIN = 0;

interface Binned {
  /** Per feature, the bin of every row (used to partition rows at a split). */
  bins: Uint8Array[];
  /** The same bins row by row (N × F), for building histograms in one pass. */
  rowMajor: Uint8Array;
  /** thresholds[f][b] = largest value in bin b (b ≥ 1), as float32. */
  thresholds: Float64Array[];
  binCount: number[];
}

/** Feature values as doubles: numerics as they are, categorical codes as numbers, missing as NaN. */
function featureValue(split: SplitData, f: number, i: number): number {
  const v = split.columns[f]![i]!;
  return split.columns[f] instanceof Int32Array ? (v < 0 ? Number.NaN : v) : v;
}

function binFeatures(split: SplitData, features: readonly FeatureSpec[], maxBins: number): Binned {
  const bins: Uint8Array[] = [];
  const thresholds: Float64Array[] = [];
  const binCount: number[] = [];
  for (let f = 0; f < features.length; f++) {
    const all = new Float64Array(split.rows);
    let count = 0;
    for (let i = 0; i < split.rows; i++) {
      const v = featureValue(split, f, i);
      if (!Number.isNaN(v)) all[count++] = Math.fround(v);
    }
    const values = all.subarray(0, count).sort();
    const distinct: number[] = [];
    for (let i = 0; i < values.length && distinct.length < maxBins; i++) {
      if (distinct.length === 0 || distinct[distinct.length - 1] !== values[i]) distinct.push(values[i]!);
    }
    // Upper edges: every distinct value when few, else the values at evenly spaced ranks.
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
    const t = Float64Array.from([Number.NaN, ...edges]);
    const column = new Uint8Array(split.rows);
    for (let i = 0; i < split.rows; i++) {
      const v = featureValue(split, f, i);
      column[i] = Number.isNaN(v) ? MISSING_BIN : binOf(t, Math.fround(v));
    }
    bins.push(column);
    thresholds.push(t);
    binCount.push(t.length);
  }
  const rowMajor = new Uint8Array(split.rows * bins.length);
  bins.forEach((column, f) => {
    for (let i = 0; i < split.rows; i++) rowMajor[i * bins.length + f] = column[i]!;
  });
  return { bins, rowMajor, thresholds, binCount };
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

interface Split {
  gain: number;
  feature: number;
  bin: number;
  missingLeft: boolean;
}

export function trainGbdt(
  split: SplitData,
  features: FeatureSpec[],
  classes: string[],
  task: 'binary' | 'regression',
  params: GbdtParams,
): GbdtModel {
  const n = split.rows;
  const binned = binFeatures(split, features, params.maxBins);
  const y = split.label;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += y[i]!;
  mean /= n;
  const baseScore = task === 'binary' ? Math.log(Math.max(mean, 1e-12) / Math.max(1 - mean, 1e-12)) : mean;
  const score = new Float64Array(n).fill(baseScore);
  const grad = new Float64Array(n);
  const hess = new Float64Array(n);
  const trees: TreeNode[][] = [];
  for (let t = 0; t < params.nEstimators; t++) {
    for (let i = 0; i < n; i++) {
      if (task === 'binary') {
        const p = 1 / (1 + Math.exp(-score[i]!));
        grad[i] = p - y[i]!;
        hess[i] = Math.max(p * (1 - p), 1e-16);
      } else {
        grad[i] = score[i]! - y[i]!;
        hess[i] = 1;
      }
    }
    const tree = growTree(binned, grad, hess, n, params);
    trees.push(tree.nodes);
    for (let i = 0; i < n; i++) score[i]! += tree.leafValueOfRow[i]!;
  }
  return { kind: 'gbdt', task, features, classes, baseScore: Math.fround(baseScore), trees };
}

/**
 * A node's histograms: for every feature and bin, [gradient sum, hessian sum, count], flat and
 * interleaved (index ((feature << 8) + bin) * 3), so one pass over the node's rows in row-major
 * bin order touches each row's memory once.
 */
type Histogram = Float64Array;
const BIN_SLOTS = 256;

function buildHistograms(binned: Binned, rows: Uint32Array, grad: Float64Array, hess: Float64Array): Histogram {
  const features = binned.bins.length;
  const hist = new Float64Array(features * BIN_SLOTS * 3);
  const rowMajor = binned.rowMajor;
  for (let k = 0; k < rows.length; k++) {
    const i = rows[k]!;
    const gi = grad[i]!;
    const hi = hess[i]!;
    const base = i * features;
    for (let f = 0; f < features; f++) {
      const idx = ((f << 8) + rowMajor[base + f]!) * 3;
      hist[idx]! += gi;
      hist[idx + 1]! += hi;
      hist[idx + 2]! += 1;
    }
  }
  return hist;
}

function subtract(parent: Histogram, child: Histogram): Histogram {
  const out = new Float64Array(parent.length);
  for (let j = 0; j < out.length; j++) out[j] = parent[j]! - child[j]!;
  return out;
}

function bestSplit(hist: Histogram, binCount: readonly number[], params: GbdtParams): Split | undefined {
  let best: Split | undefined;
  for (let f = 0; f < binCount.length; f++) {
    const bins = binCount[f]!;
    const at = (b: number) => ((f << 8) + b) * 3;
    let gTotal = 0;
    let hTotal = 0;
    let cTotal = 0;
    for (let b = 0; b < bins; b++) {
      gTotal += hist[at(b)]!;
      hTotal += hist[at(b) + 1]!;
      cTotal += hist[at(b) + 2]!;
    }
    const parentScore = (gTotal * gTotal) / (hTotal + params.l2);
    const missingCount = hist[at(MISSING_BIN) + 2]!;
    for (const missingLeft of [false, true]) {
      let gl = missingLeft ? hist[at(MISSING_BIN)]! : 0;
      let hl = missingLeft ? hist[at(MISSING_BIN) + 1]! : 0;
      let cl = missingLeft ? missingCount : 0;
      for (let b = 1; b < bins - 1; b++) {
        gl += hist[at(b)]!;
        hl += hist[at(b) + 1]!;
        cl += hist[at(b) + 2]!;
        const cr = cTotal - cl;
        if (cl < params.minSamplesLeaf) continue;
        if (cr < params.minSamplesLeaf) break;
        const gr = gTotal - gl;
        const hr = hTotal - hl;
        const gain = (gl * gl) / (hl + params.l2) + (gr * gr) / (hr + params.l2) - parentScore;
        if (gain > 1e-12 && (!best || gain > best.gain)) best = { gain, feature: f, bin: b, missingLeft };
      }
      if (missingCount === 0) break; // no missing values: both directions are the same split
    }
  }
  return best;
}

/** Splits a node's rows (kept in ascending order, which keeps memory access sequential). */
function partition(rows: Uint32Array, column: Uint8Array, s: Split): [Uint32Array, Uint32Array] {
  const left = new Uint32Array(rows.length);
  const right = new Uint32Array(rows.length);
  let l = 0;
  let r = 0;
  for (let k = 0; k < rows.length; k++) {
    const i = rows[k]!;
    const b = column[i]!;
    if (b === MISSING_BIN ? s.missingLeft : b <= s.bin) left[l++] = i;
    else right[r++] = i;
  }
  return [left.subarray(0, l), right.subarray(0, r)];
}

interface Pending {
  node: number;
  rows: Uint32Array;
  hists: Histogram;
  depth: number;
  split?: Split;
}

function growTree(binned: Binned, grad: Float64Array, hess: Float64Array, n: number, params: GbdtParams) {
  const nodes: TreeNode[] = [];
  const leafValueOfRow = new Float64Array(n);
  const leafValue = (rows: Uint32Array) => {
    let g = 0;
    let h = 0;
    for (const i of rows) {
      g += grad[i]!;
      h += hess[i]!;
    }
    return Math.fround((-g / (h + params.l2)) * params.learningRate);
  };
  const all = Uint32Array.from({ length: n }, (_, i) => i);
  const open: Pending[] = [{ node: 0, rows: all, hists: buildHistograms(binned, all, grad, hess), depth: 0 }];
  nodes.push({ leaf: true, value: 0 });
  let leaves = 1;
  const finish = (p: Pending) => {
    const value = leafValue(p.rows);
    nodes[p.node] = { leaf: true, value };
    for (const i of p.rows) leafValueOfRow[i] = value;
  };
  // Best-first growth (largest gain first) up to maxLeaves, as LightGBM does.
  for (const p of open) p.split = p.depth < params.maxDepth ? bestSplit(p.hists, binned.binCount, params) : undefined;
  while (open.length > 0) {
    let bestIndex = -1;
    for (let k = 0; k < open.length; k++) {
      const s = open[k]!.split;
      if (s && (bestIndex < 0 || s.gain > open[bestIndex]!.split!.gain)) bestIndex = k;
    }
    if (bestIndex < 0 || leaves >= params.maxLeaves) break;
    const p = open.splice(bestIndex, 1)[0]!;
    const s = p.split!;
    const [leftRows, rightRows] = partition(p.rows, binned.bins[s.feature]!, s);
    const smallerIsLeft = leftRows.length <= rightRows.length;
    const smallHists = buildHistograms(binned, smallerIsLeft ? leftRows : rightRows, grad, hess);
    const largeHists = subtract(p.hists, smallHists);
    const left = nodes.length;
    const right = left + 1;
    nodes.push({ leaf: true, value: 0 }, { leaf: true, value: 0 });
    nodes[p.node] = {
      leaf: false,
      feature: s.feature,
      threshold: binned.thresholds[s.feature]![s.bin]!,
      missingLeft: s.missingLeft,
      left,
      right,
    };
    leaves++;
    for (const [node, rows, hists] of [
      [left, leftRows, smallerIsLeft ? smallHists : largeHists],
      [right, rightRows, smallerIsLeft ? largeHists : smallHists],
    ] as const) {
      const child: Pending = { node, rows, hists, depth: p.depth + 1 };
      child.split = child.depth < params.maxDepth ? bestSplit(hists, binned.binCount, params) : undefined;
      open.push(child);
    }
  }
  for (const p of open) finish(p);
  return { nodes, leafValueOfRow };
}

/** Raw scores by walking the trees with float32 feature values, as ONNX Runtime does. */
export function rawScores(model: GbdtModel, split: SplitData): Float64Array {
  const out = new Float64Array(split.rows);
  const x = new Float64Array(model.features.length);
  for (let i = 0; i < split.rows; i++) {
    for (let f = 0; f < x.length; f++) x[f] = Math.fround(featureValue(split, f, i));
    let s = model.baseScore;
    for (const tree of model.trees) {
      let node = tree[0]!;
      while (!node.leaf) {
        const v = x[node.feature]!;
        const left = Number.isNaN(v) ? node.missingLeft : v <= node.threshold;
        node = tree[left ? node.left : node.right]!;
      }
      s += node.value;
    }
    out[i] = s;
  }
  return out;
}

/** Probabilities (N × 2) for binary, values (N) for regression. */
export function predictGbdt(model: GbdtModel, split: SplitData): Float64Array {
  const scores = rawScores(model, split);
  if (model.task === 'regression') return scores;
  const out = new Float64Array(split.rows * 2);
  for (let i = 0; i < split.rows; i++) {
    const p = 1 / (1 + Math.exp(-scores[i]!));
    out[i * 2] = 1 - p;
    out[i * 2 + 1] = p;
  }
  return out;
}
