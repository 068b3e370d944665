import { onnx } from 'onnx-proto';

/**
 * A small typed layer over the ONNX protobuf messages: enough to write the graphs our trainers
 * export (standard ops + the ai.onnx.ml preprocessing and tree-ensemble ops). Shapes use a
 * symbolic batch dimension "N", so one model scores any batch size.
 */
export const OPSET = 17;
export const ML_OPSET = 3;
export const ML_DOMAIN = 'ai.onnx.ml';

/** Integers encode as INT(S); use { float } / { floats } when a float happens to be integral. */
export type AttributeValue = number | string | number[] | string[] | { float: number } | { floats: number[] } | { ints: number[] } | onnx.ITensorProto;

export const TensorType = onnx.TensorProto.DataType;

function attribute(name: string, value: AttributeValue): onnx.IAttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { name, type: A.INT, i: value } : { name, type: A.FLOAT, f: value };
  }
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === 'string')) {
      return { name, type: A.STRINGS, strings: (value as string[]).map((v) => new TextEncoder().encode(v)) };
    }
    return (value as number[]).every(Number.isInteger) ? { name, type: A.INTS, ints: value as number[] } : { name, type: A.FLOATS, floats: value as number[] };
  }
  if ('float' in value) return { name, type: A.FLOAT, f: value.float };
  if ('floats' in value) return { name, type: A.FLOATS, floats: value.floats };
  if ('ints' in value) return { name, type: A.INTS, ints: value.ints };
  return { name, type: A.TENSOR, t: value };
}

export function node(opType: string, inputs: string[], outputs: string[], attributes: Record<string, AttributeValue> = {}, domain = ''): onnx.INodeProto {
  return {
    opType,
    input: inputs,
    output: outputs,
    name: `${opType}_${outputs[0]}`,
    domain,
    attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
  };
}

export function floatTensor(name: string, dims: number[], values: ArrayLike<number>): onnx.ITensorProto {
  return { name, dims, dataType: TensorType.FLOAT, floatData: Array.from(values) };
}

export function int64Tensor(name: string, dims: number[], values: number[]): onnx.ITensorProto {
  return { name, dims, dataType: TensorType.INT64, int64Data: values };
}

export function valueInfo(name: string, elemType: number, dims: Array<number | string>): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

export interface GraphSpec {
  name: string;
  nodes: onnx.INodeProto[];
  initializers: onnx.ITensorProto[];
  inputs: onnx.IValueInfoProto[];
  outputs: onnx.IValueInfoProto[];
  /** Key/value pairs stored in the model (e.g. class names, feature names, model version). */
  metadata: Record<string, string>;
  docString?: string;
}

export function encodeModel(spec: GraphSpec): Uint8Array {
  const model: onnx.IModelProto = {
    irVersion: 8,
    producerName: 'temporal-mlops',
    producerVersion: '0.1.0',
    docString: spec.docString ?? '',
    opsetImport: [
      { domain: '', version: OPSET },
      { domain: ML_DOMAIN, version: ML_OPSET },
    ],
    metadataProps: Object.entries(spec.metadata).map(([key, value]) => ({ key, value })),
    graph: {
      name: spec.name,
      node: spec.nodes,
      initializer: spec.initializers,
      input: spec.inputs,
      output: spec.outputs,
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/**
 * Names for a graph's internal tensors that cannot collide with an input: inputs are named as
 * the data's columns, and a column may well be called "W", "features" or "f0".
 */
export function internalNamer(features: ReadonlyArray<{ name: string }>): (name: string) => string {
  let prefix = 'mlops.';
  while (features.some((f) => f.name.startsWith(prefix))) prefix = `_${prefix}`;
  return (name) => `${prefix}${name}`;
}
