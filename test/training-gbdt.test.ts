import { describe, expect, it } from 'vitest';
import { binaryMetrics, regressionMetrics } from '../src/metrics';
import { exportGbdt } from '../src/onnx/trees';
import { prepareTrainingData } from '../src/training/data';
import { fitInThread } from '../src/training/fit';
import { DEFAULT_GBDT_PARAMS, predictGbdt, trainGbdt } from '../src/training/gbdt';
import { contractFor, maxAbsDiff, onnxOutputs, useSyntheticProblems } from './helpers/training';

const problems = useSyntheticProblems();
const conn = () => problems.conn();

const params = { ...DEFAULT_GBDT_PARAMS, nEstimators: 60 };

describe('gradient-boosted trees', () => {
  it('learn a binary problem, and the ONNX TreeEnsembleClassifier routes every row the same way', async () => {
    const data = await prepareTrainingData(conn(), { snapshotUri: problems.file('binary'), contract: contractFor('boolean'), seed: 7 });
    const model = trainGbdt(data.train, data.features, data.classes, 'binary', params);
    const ours = predictGbdt(model, data.test);
    const positive = Array.from({ length: data.test.rows }, (_, i) => ours[i * 2 + 1]!);
    expect(binaryMetrics(data.test.label, positive).rocAuc).toBeGreaterThan(0.83);
    // Missing x2 and the categorical column are used by the trees, not ignored.
    const usedFeatures = new Set(model.trees.flatMap((t) => t.flatMap((n) => (n.leaf ? [] : [n.feature]))));
    expect([...usedFeatures].sort()).toEqual([0, 1, 2]);

    const out = await onnxOutputs(exportGbdt(model, {}), data.test, data.features);
    expect(maxAbsDiff(out.probabilities!.data as Float32Array, ours)).toBeLessThan(1e-5);
  });

  it('learn a regression problem with ONNX TreeEnsembleRegressor parity', async () => {
    const data = await prepareTrainingData(conn(), { snapshotUri: problems.file('reg'), contract: contractFor('double'), seed: 2 });
    const model = trainGbdt(data.train, data.features, data.classes, 'regression', params);
    const ours = predictGbdt(model, data.test);
    expect(regressionMetrics(data.test.label, ours).r2).toBeGreaterThan(0.85);
    const out = await onnxOutputs(exportGbdt(model, {}), data.test, data.features);
    const predictions = out.prediction!.data as Float32Array;
    for (let i = 0; i < ours.length; i++) expect(Math.abs(predictions[i]! - ours[i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(ours[i]!)));
  });

  it('is deterministic', async () => {
    const data = await prepareTrainingData(conn(), { snapshotUri: problems.file('binary'), contract: contractFor('boolean'), seed: 7 });
    const a = trainGbdt(data.train, data.features, data.classes, 'binary', { ...params, nEstimators: 10 });
    const b = trainGbdt(data.train, data.features, data.classes, 'binary', { ...params, nEstimators: 10 });
    expect(JSON.stringify(a.trees)).toBe(JSON.stringify(b.trees));
  });

  it('grows the same trees on one thread as on several (the model does not depend on the machine)', async () => {
    const data = await prepareTrainingData(conn(), { snapshotUri: problems.file('binary'), contract: contractFor('boolean'), seed: 7 });
    const alone = trainGbdt(data.train, data.features, data.classes, 'binary', { ...params, nEstimators: 10 }, { threads: 1 });
    // Three threads over three features: each helper gets one feature's histograms and a third of the rows.
    const shared = trainGbdt(data.train, data.features, data.classes, 'binary', { ...params, nEstimators: 10 }, { threads: 3 });
    expect(alone.trees.length).toBe(10);
    expect(JSON.stringify(shared.trees)).toBe(JSON.stringify(alone.trees));
    const reg = await prepareTrainingData(conn(), { snapshotUri: problems.file('reg'), contract: contractFor('double'), seed: 2 });
    const regAlone = trainGbdt(reg.train, reg.features, reg.classes, 'regression', { ...params, nEstimators: 5 }, { threads: 1 });
    const regShared = trainGbdt(reg.train, reg.features, reg.classes, 'regression', { ...params, nEstimators: 5 }, { threads: 2 });
    expect(JSON.stringify(regShared.trees)).toBe(JSON.stringify(regAlone.trees));
  });

  it('fits on a worker thread: the calling thread keeps running (heartbeats), and cancelling ends the fit', async () => {
    const data = await prepareTrainingData(conn(), { snapshotUri: problems.file('binary'), contract: contractFor('boolean'), seed: 7 });
    const request = { trainer: { kind: 'gbdt' as const, params: { ...params, nEstimators: 150 } }, data, ids: { model: 'm', version: 'v' } };
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    const started = Date.now();
    try {
      const onnx = await fitInThread(request);
      const elapsed = Date.now() - started;
      expect(onnx.byteLength).toBeGreaterThan(1000);
      // A fit on this thread would let no tick through until it finished.
      expect(ticks).toBeGreaterThan(elapsed / 10 / 3);
    } finally {
      clearInterval(ticker);
    }
    const abort = new AbortController();
    const cancelled = fitInThread({ ...request, trainer: { kind: 'gbdt', params: { ...params, nEstimators: 5000 } } }, abort.signal);
    setTimeout(() => abort.abort(new Error('cancelled by the test')), 200);
    const before = Date.now();
    await expect(cancelled).rejects.toThrow('cancelled by the test');
    expect(Date.now() - before).toBeLessThan(2000);
  });
});
