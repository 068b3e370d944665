import type { onnx } from 'onnx-proto';
import type { LinearModel } from '../training/linear';
import { encodedWidth } from '../training/encode';
import { encodeModel, floatTensor, internalNamer, node, TensorType, valueInfo } from './builder';
import { CONTRIBUTIONS_OUTPUT, linearContributionMatrix } from './contributions';
import { linearPreprocessing } from './preprocess';

/**
 * A linear model as a self-contained ONNX graph: raw columns in; `probabilities` [N, C] and
 * `label` [N] (class index) out for classifiers, `prediction` [N, 1] for regression.
 */
export function exportLinear(model: LinearModel, metadata: Record<string, string>): Uint8Array {
  const pre = linearPreprocessing(model.features);
  const t = internalNamer(model.features);
  const d = encodedWidth(model.features);
  const k = model.outputs;
  const nodes: onnx.INodeProto[] = [...pre.nodes];
  const initializers = [...pre.initializers, floatTensor(t('W'), [d, k], model.weights), floatTensor(t('B'), [k], model.bias)];
  nodes.push(node('MatMul', [pre.output, t('W')], [t('xw')]), node('Add', [t('xw'), t('B')], [t('logits')]));
  let outputs: onnx.IValueInfoProto[];
  if (model.task === 'regression') {
    nodes.push(node('Identity', [t('logits')], ['prediction']));
    outputs = [valueInfo('prediction', TensorType.FLOAT, ['N', 1])];
  } else {
    const classes = model.task === 'binary' ? 2 : k;
    if (model.task === 'binary') {
      initializers.push(floatTensor(t('one'), [1], [1]));
      nodes.push(node('Sigmoid', [t('logits')], [t('p1')]), node('Sub', [t('one'), t('p1')], [t('p0')]), node('Concat', [t('p0'), t('p1')], ['probabilities'], { axis: 1 }));
    } else {
      nodes.push(node('Softmax', [t('logits')], ['probabilities'], { axis: 1 }));
    }
    nodes.push(node('ArgMax', ['probabilities'], ['label'], { axis: 1, keepdims: 0 }));
    outputs = [valueInfo('label', TensorType.INT64, ['N']), valueInfo('probabilities', TensorType.FLOAT, ['N', classes])];
  }
  if (k === 1) {
    // Binary and regression: one raw score to explain (multiclass would need one set per class).
    const { matrix, offset } = linearContributionMatrix(model);
    const width = model.features.length + 1;
    initializers.push(floatTensor(t('contribution_matrix'), [d, width], matrix), floatTensor(t('contribution_offset'), [width], offset));
    nodes.push(
      node('MatMul', [pre.output, t('contribution_matrix')], [t('contribution_raw')]),
      node('Add', [t('contribution_raw'), t('contribution_offset')], [CONTRIBUTIONS_OUTPUT]),
    );
    outputs.push(valueInfo(CONTRIBUTIONS_OUTPUT, TensorType.FLOAT, ['N', width]));
  }
  return encodeModel({
    name: `${model.kind}_${model.task}`,
    nodes,
    initializers,
    inputs: pre.inputs,
    outputs,
    metadata: { ...metadata, classes: JSON.stringify(model.classes), features: JSON.stringify(model.features.map((f) => f.name)) },
  });
}
