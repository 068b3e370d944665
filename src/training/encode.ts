import type { FeatureSpec, SplitData } from './data';

/**
 * The linear models' preprocessing, in TypeScript: impute missing numerics with the training mean,
 * standardize, one-hot encode categoricals (unknown → all zeros). The exported ONNX graph does the
 * same with Imputer/Scaler/OneHotEncoder in float32, so constants are rounded to float32 here too:
 * what the trainer optimizes is exactly what the model file computes.
 */
export function encodedWidth(features: readonly FeatureSpec[]): number {
  return features.reduce((w, f) => w + (f.kind === 'numeric' ? 1 : f.categories.length), 0);
}

export function scalerOf(f: Extract<FeatureSpec, { kind: 'numeric' }>): { offset: number; scale: number } {
  return { offset: Math.fround(f.mean), scale: Math.fround(1 / f.std) };
}

/** Row-major N × D design matrix. */
export function encode(split: SplitData, features: readonly FeatureSpec[]): Float64Array {
  const width = encodedWidth(features);
  const x = new Float64Array(split.rows * width);
  let col = 0;
  features.forEach((f, j) => {
    const values = split.columns[j]!;
    if (f.kind === 'numeric') {
      const { offset, scale } = scalerOf(f);
      for (let i = 0; i < split.rows; i++) {
        const v = Math.fround(values[i]!);
        x[i * width + col] = Math.fround((Number.isNaN(v) ? offset : v) - offset) * scale;
      }
      col += 1;
    } else {
      for (let i = 0; i < split.rows; i++) {
        const code = values[i]!;
        if (code >= 0) x[i * width + col + code] = 1;
      }
      col += f.categories.length;
    }
  });
  return x;
}
