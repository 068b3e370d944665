import { onnx } from 'onnx-proto';
import type { FeatureSpec, Task } from '../training/data';
import { userError } from '../errors';
import { node, TensorType, valueInfo } from './builder';

/**
 * Brings a model from an external trainer to our output convention, so every registered model is
 * scored the same way: `probabilities` [N, C] (+ `label` [N], class index) for classifiers,
 * `prediction` for regression. A skl2onnx ZipMap (probabilities as a sequence of maps, which
 * ONNX Runtime for Node cannot return) is removed and its input tensor exposed instead.
 * Then the inputs are checked against the feature spec: one per feature, named as the column,
 * float for numerics and string for categoricals.
 */
export function normalizeExternalModel(bytes: Uint8Array, task: Task, features: readonly FeatureSpec[]): Uint8Array {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw userError('ModelLoadError', `model.onnx is not a valid ONNX file (${(err as Error).message}); was it truncated?`);
  }
  const graph = model.graph;
  if (!graph) throw userError('ModelLoadError', 'model.onnx has no graph');
  checkInputs(graph, features);

  const nodes = graph.node ?? [];
  const zipMapIndex = nodes.findIndex((n) => n.opType === 'ZipMap');
  if (zipMapIndex >= 0) {
    const zipMap = nodes[zipMapIndex]!;
    nodes.splice(zipMapIndex, 1);
    graph.output = (graph.output ?? []).filter((o) => o.name !== zipMap.output?.[0]);
    graph.output.push(valueInfo(zipMap.input![0]!, TensorType.FLOAT, ['N', 'C']) as onnx.ValueInfoProto);
  }

  const wanted = task === 'regression' ? 'prediction' : 'probabilities';
  const floatOutputs = (graph.output ?? []).filter((o) => o.type?.tensorType?.elemType === TensorType.FLOAT);
  const chosen = floatOutputs.find((o) => o.name === wanted) ?? floatOutputs[0];
  if (!chosen) {
    const kinds = (graph.output ?? []).map((o) => `${o.name} (${o.type?.tensorType ? 'tensor' : 'sequence/map'})`).join(', ');
    throw userError('ModelLoadError', `model.onnx has no float tensor output for ${wanted}; outputs: ${kinds}`);
  }
  renameValue(graph, chosen.name!, wanted);
  graph.output = [chosen];
  if (task !== 'regression') {
    // Our `label` is the class index; a trainer's own label output may hold class values instead.
    if (valueExists(graph, 'label')) renameValue(graph, 'label', 'external_label');
    graph.node!.push(node('ArgMax', ['probabilities'], ['label'], { axis: 1, keepdims: 0 }) as onnx.NodeProto);
    graph.output.unshift(valueInfo('label', TensorType.INT64, ['N']) as onnx.ValueInfoProto);
  }
  return onnx.ModelProto.encode(model).finish();
}

function checkInputs(graph: onnx.IGraphProto, features: readonly FeatureSpec[]): void {
  const initializers = new Set((graph.initializer ?? []).map((i) => i.name));
  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name));
  const byName = new Map(inputs.map((i) => [i.name!, i]));
  const problems: string[] = [];
  for (const f of features) {
    const input = byName.get(f.name);
    const expected = f.kind === 'numeric' ? TensorType.FLOAT : TensorType.STRING;
    if (!input) problems.push(`missing input "${f.name}"`);
    else if (input.type?.tensorType?.elemType !== expected) {
      problems.push(`input "${f.name}" must be ${f.kind === 'numeric' ? 'float' : 'string'} (tensor element type ${input.type?.tensorType?.elemType})`);
    }
    byName.delete(f.name);
  }
  for (const extra of byName.keys()) problems.push(`unexpected input "${extra}" (not a feature)`);
  if (problems.length) {
    throw userError(
      'ModelLoadError',
      `model.onnx does not take the features as inputs: ${problems.join('; ')}. ` +
        'Each feature must be its own [N, 1] input named as the column: float for numerics, string for categoricals (see spec.json).',
    );
  }
}

function valueExists(graph: onnx.IGraphProto, name: string): boolean {
  return (graph.node ?? []).some((n) => n.output?.includes(name) || n.input?.includes(name));
}

function renameValue(graph: onnx.IGraphProto, from: string, to: string): void {
  if (from === to) return;
  for (const n of graph.node ?? []) {
    n.input = (n.input ?? []).map((v) => (v === from ? to : v));
    n.output = (n.output ?? []).map((v) => (v === from ? to : v));
  }
  for (const o of graph.output ?? []) if (o.name === from) o.name = to;
}
