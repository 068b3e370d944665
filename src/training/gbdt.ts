import type { FeatureSpec, SplitData } from './data';
import { type GbdtParams } from './gbdt-params';
import { MISSING_BIN } from './gbdt-bins';
import { GbdtThreads, type HistogramKernel } from './gbdt-threads';

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
export { DEFAULT_GBDT_PARAMS, type GbdtParams } from './gbdt-params';

/** `cover`: training rows that reached the node (path-based explanations weigh by it). */
export type TreeNode =
  { leaf: true; value: number; cover: number } | { leaf: false; feature: number; threshold: number; missingLeft: boolean; left: number; right: number; cover: number };

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

interface Binned {
  /** thresholds[f][b] = largest value in bin b (b ≥ 1), as float32. */
  thresholds: Float64Array[];
  binCount: number[];
}

/** Feature values as doubles: numerics as they are, categorical codes as numbers, missing as NaN. */
function featureValue(split: SplitData, f: number, i: number): number {
  const column = split.columns[f]!;
  const v = column[i]!;
  return column instanceof Int32Array && v < 0 ? Number.NaN : v;
}

/** Bins every feature (on the threads, a feature each) into their row-major and column-major bin tables. */
function binFeatures(split: SplitData, features: readonly FeatureSpec[], maxBins: number, threads: GbdtThreads): Binned {
  const thresholds: Float64Array[] = [];
  const binCount: number[] = [];
  for (let first = 0; first < features.length; first += threads.threads) {
    const count = Math.min(threads.threads, features.length - first);
    for (let t = 0; t < count; t++) {
      // Float32 values (NaN = missing), as the ONNX tree ensemble will compare them.
      const values = threads.binningValues(t);
      for (let i = 0; i < split.rows; i++) values[i] = Math.fround(featureValue(split, first + t, i));
    }
    threads.bin(first, maxBins);
    for (let t = 0; t < count; t++) {
      const edges = threads.binEdges(t);
      thresholds.push(edges);
      binCount.push(edges.length);
    }
  }
  return { thresholds, binCount };
}

interface Split {
  gain: number;
  feature: number;
  bin: number;
  missingLeft: boolean;
  /** Gradient and hessian sums of the left side and of the whole node. */
  gl: number;
  hl: number;
  gTotal: number;
  hTotal: number;
}

export interface GbdtRunOptions {
  /** Threads for histograms and gradients (default: by problem size and cores). The model is the same for any count. */
  threads?: number;
  /** The histogram loop (default WebAssembly, TypeScript where there can be no shared WebAssembly memory). The model is the same with either. */
  kernel?: HistogramKernel;
}

export function trainGbdt(
  split: SplitData,
  features: FeatureSpec[],
  classes: string[],
  task: 'binary' | 'regression',
  params: GbdtParams,
  options: GbdtRunOptions = {},
): GbdtModel {
  const n = split.rows;
  const threads = new GbdtThreads(n, features.length, options.threads, options.kernel);
  try {
    const { score, label } = threads.buffers;
    const binned = binFeatures(split, features, params.maxBins, threads);
    label.set(split.label);
    let mean = 0;
    for (let i = 0; i < n; i++) mean += label[i]!;
    mean /= n;
    const baseScore = task === 'binary' ? Math.log(Math.max(mean, 1e-12) / Math.max(1 - mean, 1e-12)) : mean;
    score.fill(baseScore);
    const trees: TreeNode[][] = [];
    const grower = new TreeGrower(binned, threads, n, params);
    for (let t = 0; t < params.nEstimators; t++) {
      threads.gradients(task);
      trees.push(grower.grow());
    }
    return { kind: 'gbdt', task, features, classes, baseScore: Math.fround(baseScore), trees };
  } finally {
    threads.close();
  }
}

type Histogram = Float64Array;

function subtract(parent: Histogram, child: Histogram): Histogram {
  const out = new Float64Array(parent.length);
  for (let j = 0; j < out.length; j++) out[j] = parent[j]! - child[j]!;
  return out;
}

/** Gradient and hessian sums over all bins of the first feature, i.e. over the node's rows. */
function totals(hist: Histogram, bins: number): [number, number] {
  let g = 0;
  let h = 0;
  for (let b = 0; b < bins; b++) {
    g += hist[b * 3]!;
    h += hist[b * 3 + 1]!;
  }
  return [g, h];
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
        if (gain > 1e-12 && (!best || gain > best.gain)) best = { gain, feature: f, bin: b, missingLeft, gl, hl, gTotal, hTotal };
      }
      if (missingCount === 0) break; // no missing values: both directions are the same split
    }
  }
  return best;
}

/** A node waiting to be split or to become a leaf: its rows are order[start, end). */
interface Pending {
  node: number;
  start: number;
  end: number;
  hists: Histogram | undefined;
  depth: number;
  /** Gradient and hessian sums of the node's rows (its leaf value needs no pass over them). */
  g: number;
  h: number;
  split?: Split;
}

class TreeGrower {
  private readonly order: Uint32Array;

  constructor(
    private readonly binned: Binned,
    private readonly threads: GbdtThreads,
    private readonly n: number,
    private readonly params: GbdtParams,
  ) {
    this.order = threads.buffers.order;
  }

  /** Grows one tree on the current gradients and adds its leaf values to the scores. */
  grow(): TreeNode[] {
    const { order, params, binned } = this;
    for (let i = 0; i < this.n; i++) order[i] = i;
    const nodes: TreeNode[] = [{ leaf: true, value: 0, cover: this.n }];
    const hists = this.threads.histograms(0, this.n, true);
    const [g, h] = totals(hists, this.binned.binCount[0] ?? 0);
    const root: Pending = { node: 0, start: 0, end: this.n, hists, depth: 0, g, h };
    root.split = this.splitOf(root);
    const open: Pending[] = [root];
    let leaves = 1;
    // Best-first growth (largest gain first) up to maxLeaves, as LightGBM does.
    for (;;) {
      let bestIndex = -1;
      for (let k = 0; k < open.length; k++) {
        const s = open[k]!.split;
        if (s && (bestIndex < 0 || s.gain > open[bestIndex]!.split!.gain)) bestIndex = k;
      }
      if (bestIndex < 0 || leaves >= params.maxLeaves) break;
      const p = open.splice(bestIndex, 1)[0]!;
      const s = p.split!;
      const mid = this.threads.partition(p.start, p.end, s.feature, s.bin, s.missingLeft);
      const left = nodes.length;
      const right = left + 1;
      nodes.push({ leaf: true, value: 0, cover: mid - p.start }, { leaf: true, value: 0, cover: p.end - mid });
      nodes[p.node] = { leaf: false, feature: s.feature, threshold: binned.thresholds[s.feature]![s.bin]!, missingLeft: s.missingLeft, left, right, cover: p.end - p.start };
      leaves++;
      const children: [Pending, Pending] = [
        { node: left, start: p.start, end: mid, hists: undefined, depth: p.depth + 1, g: s.gl, h: s.hl },
        { node: right, start: mid, end: p.end, hists: undefined, depth: p.depth + 1, g: s.gTotal - s.gl, h: s.hTotal - s.hl },
      ];
      // Children that can never split need no histograms (after the last split, or at the depth limit).
      if (leaves < params.maxLeaves && p.depth + 1 < params.maxDepth) {
        const [small, large] = mid - p.start <= p.end - mid ? children : [children[1], children[0]];
        small.hists = this.threads.histograms(small.start, small.end);
        large.hists = subtract(p.hists!, small.hists);
        for (const child of children) child.split = this.splitOf(child);
      }
      open.push(...children);
    }
    for (const p of open) this.finish(p, nodes);
    return nodes;
  }

  private splitOf(p: Pending): Split | undefined {
    return p.hists && p.depth < this.params.maxDepth ? bestSplit(p.hists, this.binned.binCount, this.params) : undefined;
  }

  /** Makes the node a leaf and adds its value to its rows' scores. */
  private finish(p: Pending, nodes: TreeNode[]): void {
    const { order } = this;
    const { score } = this.threads.buffers;
    const value = Math.fround((-p.g / (p.h + this.params.l2)) * this.params.learningRate);
    nodes[p.node] = { leaf: true, value, cover: p.end - p.start };
    for (let k = p.start; k < p.end; k++) score[order[k]!]! += value;
  }
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
