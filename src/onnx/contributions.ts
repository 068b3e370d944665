import type { GbdtModel, TreeNode } from '../training/gbdt';
import type { LinearModel } from '../training/linear';

/**
 * Per-row feature contributions, computed inside the model graph as an extra output
 * `contributions` [N, F + 1]: one column per raw feature, then a constant bias column. A row's
 * columns add up to the model's raw score (log-odds for classifiers, the value for regression),
 * so a prediction log can say why each prediction came out as it did.
 *
 * - Linear models: exact. Feature f contributes Σ_{k ∈ f} w_k (z_k − mean_k) over its encoded
 *   columns z (standardized value, or one-hot), relative to the training mean of each column.
 * - Tree ensembles: path-based (Saabas). Each split on the way to a leaf moves the expected value
 *   (cover-weighted mean of the leaves below) from the node to the child; the move is credited to
 *   the split's feature. That makes contributions a function of the leaf, so they are a second
 *   TreeEnsembleRegressor with one target per feature: ONNX Runtime computes them at tree speed.
 */
export const CONTRIBUTIONS_OUTPUT = 'contributions';
export const BIAS_COLUMN = '(bias)';

/** Linear: a [D, F + 1] matrix and [F + 1] offset, so that contributions = Z · M + offset. */
export function linearContributionMatrix(model: LinearModel): { matrix: number[]; offset: number[] } {
  const f = model.features.length;
  const width = f + 1;
  const d = model.encodedMeans.length;
  const matrix = new Array<number>(d * width).fill(0);
  const offset = new Array<number>(width).fill(0);
  let bias = model.bias[0]!;
  let k = 0;
  model.features.forEach((feature, j) => {
    const columns = feature.kind === 'numeric' ? 1 : feature.categories.length;
    for (let c = 0; c < columns; c++, k++) {
      const w = model.weights[k]!;
      matrix[k * width + j] = w;
      offset[j]! -= w * model.encodedMeans[k]!;
      bias += w * model.encodedMeans[k]!;
    }
  });
  offset[f] = bias;
  return { matrix, offset };
}

export interface TreeContributions {
  /** Per tree and leaf node id: [feature index, contribution] pairs along the path. */
  leaves: Array<Map<number, Array<[number, number]>>>;
  /** Base score plus every tree's expected value at its root. */
  bias: number;
}

export function treeContributions(model: GbdtModel): TreeContributions {
  let bias = model.baseScore;
  const leaves = model.trees.map((tree) => {
    const expected = expectedValues(tree);
    bias += expected[0]!;
    const out = new Map<number, Array<[number, number]>>();
    const walk = (id: number, credit: Map<number, number>) => {
      const n = tree[id]!;
      if (n.leaf) {
        out.set(
          id,
          [...credit.entries()].filter(([, v]) => v !== 0),
        );
        return;
      }
      for (const child of [n.left, n.right]) {
        const next = new Map(credit);
        next.set(n.feature, (next.get(n.feature) ?? 0) + expected[child]! - expected[id]!);
        walk(child, next);
      }
    };
    walk(0, new Map());
    return out;
  });
  return { leaves, bias };
}

/** Cover-weighted mean leaf value below each node (children always come after their parent). */
function expectedValues(tree: TreeNode[]): Float64Array {
  const e = new Float64Array(tree.length);
  for (let id = tree.length - 1; id >= 0; id--) {
    const n = tree[id]!;
    if (n.leaf) e[id] = n.value;
    else {
      const l = tree[n.left]!;
      const r = tree[n.right]!;
      const total = l.cover + r.cover;
      e[id] = total > 0 ? (l.cover * e[n.left]! + r.cover * e[n.right]!) / total : (e[n.left]! + e[n.right]!) / 2;
    }
  }
  return e;
}
