import { describe, expect, it } from 'vitest';
import { binaryMetrics, multiclassMetrics, regressionMetrics } from '../src/metrics';
import { exportLinear } from '../src/onnx/linear';
import { prepareTrainingData } from '../src/training/data';
import { predictLinear, trainLogistic, trainRidge } from '../src/training/linear';
import { contractFor, maxAbsDiff, onnxOutputs, useSyntheticProblems } from './helpers/training';
import { quoteString } from '../src/sql/quote';
import * as path from 'node:path';

const problems = useSyntheticProblems();
const conn = () => problems.conn();

describe('logistic regression', () => {
  it('learns a binary problem and its ONNX model predicts the same probabilities', async () => {
    const data = await prepareTrainingData(conn(), { snapshotUri: problems.file('binary'), contract: contractFor('boolean'), seed: 7 });
    expect(data.task).toBe('binary');
    expect(data.classes).toEqual(['false', 'true']);
    expect(data.features.map((f) => f.name)).toEqual(['x1', 'x2', 'color']);
    expect(data.train.rows + data.validation.rows + data.test.rows).toBe(6000);
    const model = trainLogistic(data.train, data.features, data.classes, 'binary', { C: 1, maxIterations: 200, tolerance: 1e-6 });
    const ours = predictLinear(model, data.test);
    const positive = Array.from({ length: data.test.rows }, (_, i) => ours[i * 2 + 1]!);
    const metrics = binaryMetrics(data.test.label, positive);
    expect(metrics.rocAuc).toBeGreaterThan(0.85);
    // The true coefficient signs are recovered (x1 standardized: positive; x2: negative).
    expect(model.weights[0]).toBeGreaterThan(0);
    expect(model.weights[1]).toBeLessThan(0);

    const out = await onnxOutputs(exportLinear(model, {}), data.test, data.features);
    expect(maxAbsDiff(out.probabilities!.data as Float32Array, ours)).toBeLessThan(1e-5);
    const labels = out.label!.data as BigInt64Array;
    for (let i = 0; i < data.test.rows; i++) expect(Number(labels[i])).toBe(ours[i * 2 + 1]! > ours[i * 2]! ? 1 : 0);
  });

  it('learns a multiclass problem (softmax) with ONNX parity', async () => {
    const data = await prepareTrainingData(conn(), { snapshotUri: problems.file('multi'), contract: contractFor('string'), seed: 3 });
    expect(data.task).toBe('multiclass');
    expect(data.classes).toEqual(['high', 'low', 'mid']);
    const model = trainLogistic(data.train, data.features, data.classes, 'multiclass', { C: 10, maxIterations: 300, tolerance: 1e-6 });
    const ours = predictLinear(model, data.test);
    expect(multiclassMetrics(data.test.label, ours, 3).accuracy).toBeGreaterThan(0.8);
    const out = await onnxOutputs(exportLinear(model, {}), data.test, data.features);
    expect(maxAbsDiff(out.probabilities!.data as Float32Array, ours)).toBeLessThan(1e-5);
  });
});

describe('ridge regression', () => {
  it('recovers a linear target and its ONNX model predicts the same values', async () => {
    const data = await prepareTrainingData(conn(), { snapshotUri: problems.file('reg'), contract: contractFor('double'), seed: 1 });
    expect(data.task).toBe('regression');
    const model = trainRidge(data.train, data.features, { alpha: 1 });
    const ours = predictLinear(model, data.test);
    const metrics = regressionMetrics(data.test.label, ours);
    // x2 is missing for 10% of rows and imputed, which is the only unexplained part besides the noise.
    expect(metrics.r2).toBeGreaterThan(0.9);
    const out = await onnxOutputs(exportLinear(model, {}), data.test, data.features);
    const predictions = out.prediction!.data as Float32Array;
    for (let i = 0; i < ours.length; i++) expect(Math.abs(predictions[i]! - ours[i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(ours[i]!)));
  });
});

describe('training data checks', () => {
  it('refuses a constant label and too few rows with clear errors', async () => {
    await conn().run(`COPY (SELECT i AS id, i * 1.0 AS x1, 0.5 AS x2, 'red' AS color, true AS y FROM range(100) t(i))
      TO ${quoteString(path.join(problems.dir, 'constant.parquet'))} (FORMAT parquet)`);
    await expect(prepareTrainingData(conn(), { snapshotUri: problems.file('constant'), contract: contractFor('boolean'), seed: 1 })).rejects.toThrow(
      /constant in the training data/,
    );
    await conn().run(`COPY (SELECT i AS id, i * 1.0 AS x1, 0.5 AS x2, 'red' AS color, i % 2 = 0 AS y FROM range(10) t(i))
      TO ${quoteString(path.join(problems.dir, 'tiny.parquet'))} (FORMAT parquet)`);
    await expect(prepareTrainingData(conn(), { snapshotUri: problems.file('tiny'), contract: contractFor('boolean'), seed: 1 })).rejects.toThrow(/training rows/);
  });
});
