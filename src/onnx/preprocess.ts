import type { onnx } from 'onnx-proto';
import type { FeatureSpec } from '../training/data';
import { scalerOf } from '../training/encode';
import { int64Tensor, internalNamer, ML_DOMAIN, node, TensorType, valueInfo } from './builder';

/**
 * The preprocessing part of an exported graph. Inputs are the raw feature columns, one [N, 1]
 * tensor each, named as the columns: float for numerics (NaN = missing), string for categoricals.
 */
export interface Preprocessed {
  inputs: onnx.IValueInfoProto[];
  nodes: onnx.INodeProto[];
  initializers: onnx.ITensorProto[];
  /** Name of the [N, D] float tensor the model consumes. */
  output: string;
}

export function rawInputs(features: readonly FeatureSpec[]): onnx.IValueInfoProto[] {
  return features.map((f) => valueInfo(f.name, f.kind === 'numeric' ? TensorType.FLOAT : TensorType.STRING, ['N', 1]));
}

/** Linear models: impute (training mean), standardize, one-hot (unknown → zeros), concatenate. */
export function linearPreprocessing(features: readonly FeatureSpec[]): Preprocessed {
  const t = internalNamer(features);
  const nodes: onnx.INodeProto[] = [];
  const initializers: onnx.ITensorProto[] = [];
  const parts = features.map((f, i) => {
    if (f.kind === 'numeric') {
      const { offset, scale } = scalerOf(f);
      nodes.push(
        node('Imputer', [f.name], [t(`f${i}_imputed`)], { imputed_value_floats: { floats: [offset] }, replaced_value_float: { float: Number.NaN } }, ML_DOMAIN),
        node('Scaler', [t(`f${i}_imputed`)], [t(`f${i}`)], { offset: { floats: [offset] }, scale: { floats: [scale] } }, ML_DOMAIN),
      );
    } else {
      initializers.push(int64Tensor(t(`f${i}_shape`), [2], [-1, f.categories.length]));
      nodes.push(
        node('OneHotEncoder', [f.name], [t(`f${i}_onehot`)], { cats_strings: f.categories, zeros: 1 }, ML_DOMAIN),
        node('Reshape', [t(`f${i}_onehot`), t(`f${i}_shape`)], [t(`f${i}`)]),
      );
    }
    return t(`f${i}`);
  });
  nodes.push(node('Concat', parts, [t('features')], { axis: 1 }));
  return { inputs: rawInputs(features), nodes, initializers, output: t('features') };
}
