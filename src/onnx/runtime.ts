import * as ort from 'onnxruntime-node';
import type { FeatureSpec, SplitData } from '../training/data';

/**
 * ONNX Runtime sessions, and feeds built from split data: the raw-column inputs that every model
 * we export takes ([N, 1] float for numerics, [N, 1] string for categoricals).
 */
export async function loadSession(model: Uint8Array | string, options: ort.InferenceSession.SessionOptions = {}): Promise<ort.InferenceSession> {
  // Two calls because the overloads (path vs bytes) do not accept the union.
  return typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
}

export function feedsFromSplit(split: SplitData, features: readonly FeatureSpec[]): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  features.forEach((f, j) => {
    const values = split.columns[j]!;
    if (f.kind === 'numeric') {
      feeds[f.name] = new ort.Tensor('float32', Float32Array.from(values), [split.rows, 1]);
    } else {
      // Codes back to the strings they stand for; -1 (missing or unseen) as a value the model never saw.
      const strings = Array.from(values, (code) => (code >= 0 ? f.categories[code]! : ''));
      feeds[f.name] = new ort.Tensor('string', strings, [split.rows, 1]);
    }
  });
  return feeds;
}
