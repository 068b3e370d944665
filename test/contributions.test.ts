import { describe, expect, it } from 'vitest';
import { exportLinear } from '../src/onnx/linear';
import { exportGbdt } from '../src/onnx/trees';
import { prepareTrainingData } from '../src/training/data';
import { rawScores, trainGbdt } from '../src/training/gbdt';
import { trainLogistic, trainRidge } from '../src/training/linear';
import { contractFor, onnxOutputs, useSyntheticProblems } from './helpers/training';

const problems = useSyntheticProblems();

/** Each row's contributions plus bias must add up to the raw score the model computes. */
function expectRowsAddUp(contributions: Float32Array, width: number, rawScore: (i: number) => number, tolerance: number): void {
  const rows = contributions.length / width;
  expect(rows).toBeGreaterThan(100);
  let worst = 0;
  for (let i = 0; i < rows; i++) {
    let sum = 0;
    for (let j = 0; j < width; j++) sum += contributions[i * width + j]!;
    worst = Math.max(worst, Math.abs(sum - rawScore(i)));
  }
  expect(worst).toBeLessThan(tolerance);
}

const logit = (p: number) => Math.log(p / (1 - p));

describe('feature contributions in the exported model', () => {
  it('logistic: exact, add up to the log-odds, and credit the informative feature', async () => {
    const data = await prepareTrainingData(problems.conn(), { snapshotUri: problems.file('binary'), contract: contractFor('boolean'), seed: 7 });
    const model = trainLogistic(data.train, data.features, data.classes, 'binary', { C: 1, maxIterations: 200, tolerance: 1e-6 });
    const out = await onnxOutputs(exportLinear(model, {}), data.test, data.features);
    const width = data.features.length + 1;
    const c = out.contributions!.data as Float32Array;
    expect(out.contributions!.dims).toEqual([data.test.rows, width]);
    const p = out.probabilities!.data as Float32Array;
    expectRowsAddUp(c, width, (i) => logit(p[i * 2 + 1]!), 1e-3);
    // x1 (column 0) drives the label up: rows with larger x1 get a larger contribution from it.
    const x1 = data.test.columns[0]!;
    const order = Array.from({ length: data.test.rows }, (_, i) => i)
      .filter((i) => !Number.isNaN(x1[i]!))
      .sort((a, b) => x1[a]! - x1[b]!);
    expect(c[order[order.length - 1]! * width]!).toBeGreaterThan(c[order[0]! * width]!);
    // Averaged over the training rows, a feature contributes nothing (the reference is the mean).
    const train = await onnxOutputs(exportLinear(model, {}), data.train, data.features);
    const tc = train.contributions!.data as Float32Array;
    for (let j = 0; j < data.features.length; j++) {
      let mean = 0;
      for (let i = 0; i < data.train.rows; i++) mean += tc[i * width + j]!;
      expect(Math.abs(mean / data.train.rows)).toBeLessThan(1e-3);
    }
  });

  it('ridge: add up to the prediction', async () => {
    const data = await prepareTrainingData(problems.conn(), { snapshotUri: problems.file('reg'), contract: contractFor('double'), seed: 1 });
    const model = trainRidge(data.train, data.features, { alpha: 1 });
    const out = await onnxOutputs(exportLinear(model, {}), data.test, data.features);
    const prediction = out.prediction!.data as Float32Array;
    expectRowsAddUp(out.contributions!.data as Float32Array, data.features.length + 1, (i) => prediction[i]!, 1e-3);
  });

  it('gbdt: path-based, add up to the raw score', async () => {
    const data = await prepareTrainingData(problems.conn(), { snapshotUri: problems.file('binary'), contract: contractFor('boolean'), seed: 7 });
    const model = trainGbdt(data.train, data.features, data.classes, 'binary', {
      nEstimators: 30,
      learningRate: 0.1,
      maxDepth: 4,
      maxLeaves: 15,
      minSamplesLeaf: 20,
      l2: 1,
      maxBins: 64,
    });
    const out = await onnxOutputs(exportGbdt(model, {}), data.test, data.features);
    const scores = rawScores(model, data.test);
    const width = data.features.length + 1;
    const c = out.contributions!.data as Float32Array;
    expectRowsAddUp(c, width, (i) => scores[i]!, 1e-3);
    // The bias column is the same for every row.
    expect(c[width - 1]).toBeCloseTo(c[2 * width - 1]!, 6);
  });
});
