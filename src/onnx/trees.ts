import type { onnx } from 'onnx-proto';
import type { GbdtModel } from '../training/gbdt';
import { encodeModel, internalNamer, ML_DOMAIN, node, TensorType, valueInfo } from './builder';
import { CONTRIBUTIONS_OUTPUT, treeContributions } from './contributions';
import { rawInputs } from './preprocess';

/**
 * A gradient-boosted tree model as a self-contained ONNX graph. Raw columns in; numerics pass
 * through (NaN follows each node's learned missing direction), categoricals become their category
 * index through a LabelEncoder (unknown → NaN, i.e. treated as missing, as in training). Then
 * ai.onnx.ml TreeEnsembleClassifier (binary, logistic) or TreeEnsembleRegressor.
 */
function treePreprocessing(model: GbdtModel): { nodes: onnx.INodeProto[]; output: string } {
  const t = internalNamer(model.features);
  const nodes: onnx.INodeProto[] = [];
  const parts = model.features.map((f, i) => {
    if (f.kind === 'numeric') return f.name;
    nodes.push(
      node(
        'LabelEncoder',
        [f.name],
        [t(`f${i}`)],
        {
          keys_strings: f.categories,
          values_floats: { floats: f.categories.map((_, k) => k) },
          default_float: { float: Number.NaN },
        },
        ML_DOMAIN,
      ),
    );
    return t(`f${i}`);
  });
  nodes.push(node('Concat', parts, [t('features')], { axis: 1 }));
  return { nodes, output: t('features') };
}

function ensembleAttributes(model: GbdtModel, leafPrefix: 'target' | 'class') {
  const a = {
    nodes_treeids: [] as number[],
    nodes_nodeids: [] as number[],
    nodes_featureids: [] as number[],
    nodes_modes: [] as string[],
    nodes_values: [] as number[],
    nodes_truenodeids: [] as number[],
    nodes_falsenodeids: [] as number[],
    nodes_missing_value_tracks_true: [] as number[],
    leafTree: [] as number[],
    leafNode: [] as number[],
    leafWeight: [] as number[],
  };
  model.trees.forEach((tree, t) => {
    tree.forEach((n, id) => {
      a.nodes_treeids.push(t);
      a.nodes_nodeids.push(id);
      if (n.leaf) {
        a.nodes_featureids.push(0);
        a.nodes_modes.push('LEAF');
        a.nodes_values.push(0);
        a.nodes_truenodeids.push(0);
        a.nodes_falsenodeids.push(0);
        a.nodes_missing_value_tracks_true.push(0);
        a.leafTree.push(t);
        a.leafNode.push(id);
        a.leafWeight.push(n.value);
      } else {
        a.nodes_featureids.push(n.feature);
        a.nodes_modes.push('BRANCH_LEQ');
        a.nodes_values.push(n.threshold);
        a.nodes_truenodeids.push(n.left);
        a.nodes_falsenodeids.push(n.right);
        a.nodes_missing_value_tracks_true.push(n.missingLeft ? 1 : 0);
      }
    });
  });
  return {
    nodes_treeids: { ints: a.nodes_treeids },
    nodes_nodeids: { ints: a.nodes_nodeids },
    nodes_featureids: { ints: a.nodes_featureids },
    nodes_modes: a.nodes_modes,
    nodes_values: { floats: a.nodes_values },
    nodes_truenodeids: { ints: a.nodes_truenodeids },
    nodes_falsenodeids: { ints: a.nodes_falsenodeids },
    nodes_missing_value_tracks_true: { ints: a.nodes_missing_value_tracks_true },
    [`${leafPrefix}_treeids`]: { ints: a.leafTree },
    [`${leafPrefix}_nodeids`]: { ints: a.leafNode },
    [`${leafPrefix}_ids`]: { ints: a.leafTree.map(() => 0) },
    [`${leafPrefix}_weights`]: { floats: a.leafWeight },
    base_values: { floats: [model.baseScore] },
  };
}

export function exportGbdt(model: GbdtModel, metadata: Record<string, string>): Uint8Array {
  const pre = treePreprocessing(model);
  const nodes = [...pre.nodes];
  let outputs: onnx.IValueInfoProto[];
  if (model.task === 'regression') {
    nodes.push(
      node(
        'TreeEnsembleRegressor',
        [pre.output],
        ['prediction'],
        { ...ensembleAttributes(model, 'target'), n_targets: 1, aggregate_function: 'SUM', post_transform: 'NONE' },
        ML_DOMAIN,
      ),
    );
    outputs = [valueInfo('prediction', TensorType.FLOAT, ['N', 1])];
  } else {
    // One score column; ONNX Runtime turns a 2-class LOGISTIC ensemble into [1 - p, p].
    nodes.push(
      node(
        'TreeEnsembleClassifier',
        [pre.output],
        ['label', 'probabilities'],
        { ...ensembleAttributes(model, 'class'), classlabels_int64s: { ints: [0, 1] }, post_transform: 'LOGISTIC' },
        ML_DOMAIN,
      ),
    );
    outputs = [valueInfo('label', TensorType.INT64, ['N']), valueInfo('probabilities', TensorType.FLOAT, ['N', 2])];
  }
  nodes.push(contributionsNode(model, pre.output));
  outputs.push(valueInfo(CONTRIBUTIONS_OUTPUT, TensorType.FLOAT, ['N', model.features.length + 1]));
  return encodeModel({
    name: `gbdt_${model.task}`,
    nodes,
    initializers: [],
    inputs: rawInputs(model.features),
    outputs,
    metadata: { ...metadata, classes: JSON.stringify(model.classes), features: JSON.stringify(model.features.map((f) => f.name)) },
  });
}

/** Path-based contributions as a regressor with one target per feature plus the bias (see contributions.ts). */
function contributionsNode(model: GbdtModel, input: string): onnx.INodeProto {
  const f = model.features.length;
  const { leaves, bias } = treeContributions(model);
  const a = ensembleAttributes(model, 'target');
  const treeIds: number[] = [];
  const nodeIds: number[] = [];
  const targets: number[] = [];
  const weights: number[] = [];
  leaves.forEach((byLeaf, t) => {
    for (const [id, credits] of byLeaf) {
      // The bias rides on every leaf of the first tree (each row reaches exactly one): ONNX
      // Runtime 1.30 ignored base_values for this multi-target ensemble.
      for (const [feature, value] of [...credits, [f, t === 0 ? bias : 0] as [number, number]]) {
        treeIds.push(t);
        nodeIds.push(id);
        targets.push(feature);
        weights.push(value);
      }
    }
  });
  return node(
    'TreeEnsembleRegressor',
    [input],
    [CONTRIBUTIONS_OUTPUT],
    {
      ...a,
      target_treeids: { ints: treeIds },
      target_nodeids: { ints: nodeIds },
      target_ids: { ints: targets },
      target_weights: { floats: weights },
      base_values: { floats: new Array<number>(f + 1).fill(0) },
      n_targets: f + 1,
      aggregate_function: 'SUM',
      post_transform: 'NONE',
    },
    ML_DOMAIN,
  );
}
