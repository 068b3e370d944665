import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseContract } from '../src/contract/schema';
import { exportLinear } from '../src/onnx/linear';
import { exportGbdt } from '../src/onnx/trees';
import { quoteString } from '../src/sql/quote';
import { prepareTrainingData } from '../src/training/data';
import { DEFAULT_GBDT_PARAMS, predictGbdt, trainGbdt } from '../src/training/gbdt';
import { predictLinear, trainLogistic } from '../src/training/linear';
import { maxAbsDiff, onnxOutputs, useSyntheticProblems } from './helpers/training';

const problems = useSyntheticProblems();

/** Columns named like the tensors inside our graphs: a real dataset may well have a "W" or "features" column. */
const COLUMNS = ['W', 'features', 'f0', 'mlops.f0', 'logits'];

async function hostileProblem() {
  const file = path.join(problems.dir, 'hostile.parquet');
  await problems.conn().run(
    `COPY (SELECT id, x1 AS "W", color AS "features", x2 AS "f0", x1 * 0.5 AS "mlops.f0", color AS "logits", y, x1 AS "probabilities"
           FROM read_parquet(${quoteString(problems.file('binary'))})) TO ${quoteString(file)} (FORMAT parquet)`,
  );
  const contract = parseContract({
    columns: [
      { name: 'id', type: 'integer' },
      { name: 'W', type: 'double' },
      { name: 'features', type: 'string' },
      { name: 'f0', type: 'double' },
      { name: 'mlops.f0', type: 'double' },
      { name: 'logits', type: 'string' },
      { name: 'y', type: 'boolean' },
      { name: 'probabilities', type: 'double' },
    ],
    key: ['id'],
    label: 'y',
  });
  return { file, contract };
}

describe('exported graphs with column names that look like their internals', () => {
  it('load and predict exactly as the TypeScript models', async () => {
    const { file, contract } = await hostileProblem();
    const data = await prepareTrainingData(problems.conn(), { snapshotUri: file, contract, features: COLUMNS, seed: 1 });
    const logistic = trainLogistic(data.train, data.features, data.classes, 'binary', { C: 1, maxIterations: 200, tolerance: 1e-6 });
    const linearOut = await onnxOutputs(exportLinear(logistic, {}), data.test, data.features);
    expect(maxAbsDiff(linearOut.probabilities!.data as Float32Array, predictLinear(logistic, data.test))).toBeLessThan(1e-5);
    const gbdt = trainGbdt(data.train, data.features, data.classes, 'binary', { ...DEFAULT_GBDT_PARAMS, nEstimators: 10 });
    const treeOut = await onnxOutputs(exportGbdt(gbdt, {}), data.test, data.features);
    expect(maxAbsDiff(treeOut.probabilities!.data as Float32Array, predictGbdt(gbdt, data.test))).toBeLessThan(1e-5);
  });

  it('refuse a feature named like a model output, saying what to do', async () => {
    const { file, contract } = await hostileProblem();
    await expect(prepareTrainingData(problems.conn(), { snapshotUri: file, contract, features: ['W', 'probabilities'], seed: 1 })).rejects.toThrow(
      'Feature column "probabilities" has the name of a model output (label, probabilities, prediction, contributions); rename the column or leave it out of the features',
    );
  });
});
