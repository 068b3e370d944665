import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { registryState, startTraining } from '../src/client/train';
import type { ModelCard } from '../src/models/card';
import { exportLinear } from '../src/onnx/linear';
import type { TrainRequestInput } from '../src/training/request';
import { type TestEnv, startTestEnv } from './helpers/env';
import { rootFailure } from './helpers/failures';
import { ingestChurn } from './helpers/training';

const python = inject('sklearnPython');
const TRAIN_PY = path.resolve(__dirname, '..', 'examples', 'sklearn-trainer', 'train.py');

let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv('external', { MLOPS_TRAINER_COMMANDS: `${python}:sh` });
  await ingestChurn(env);
});
afterAll(async () => {
  await env?.shutdown();
});

const command = (argv: string[], extra: Partial<{ timeoutSeconds: number }> = {}): TrainRequestInput => ({
  model: 'churn-ext',
  dataset: 'churn',
  trainer: { kind: 'command', command: argv, ...extra },
});

async function train(request: TrainRequestInput, run: string) {
  return (await startTraining(env.client, env.config, request, run)).result();
}

describe('external trainer command', () => {
  it('trains with scikit-learn + skl2onnx and registers next to a built-in model', async () => {
    const builtIn = await train({ model: 'churn-ext', dataset: 'churn', trainer: { kind: 'logistic', params: {} } }, 'builtin');
    const sklearn = await train(command([python, TRAIN_PY], { timeoutSeconds: 60 }), 'sklearn');
    // Metrics are the platform's own, from ONNX Runtime on the holdout: the same logistic
    // problem gives nearly the same AUC however it was trained.
    expect(sklearn.summary.metrics.test.rocAuc).toBeGreaterThan(0.8);
    expect(Math.abs(sklearn.summary.metrics.test.rocAuc! - builtIn.summary.metrics.test.rocAuc!)).toBeLessThan(0.01);
    const card = JSON.parse(fs.readFileSync(sklearn.summary.cardUri, 'utf8')) as ModelCard;
    expect(card.onnx.outputs).toEqual(['label', 'probabilities']);
    expect(card.trainer).toMatchObject({ kind: 'command', command: [python, TRAIN_PY] });
    const log = fs.readFileSync(path.join(path.dirname(sklearn.summary.cardUri), 'trainer.log'), 'utf8');
    expect(log).toContain('trained LogisticRegression');
    const state = await registryState(env.client, 'churn-ext');
    expect(state.versions.map((v) => v.trainer.kind).sort()).toEqual(['command', 'logistic']);
  });

  it("takes the path as train.py's docstring writes it: relative to where the command is given", async () => {
    // vitest runs from the repository root, as the docstring's `mlops train … --command` does.
    expect(path.resolve('examples/sklearn-trainer/train.py')).toBe(TRAIN_PY);
    const relative = await train(command([python, 'examples/sklearn-trainer/train.py'], { timeoutSeconds: 60 }), 'relative');
    const card = JSON.parse(fs.readFileSync(relative.summary.cardUri, 'utf8')) as ModelCard;
    expect(card.trainer).toMatchObject({ kind: 'command', command: [python, TRAIN_PY] });
    await expect(train(command([python, 'examples/no-such-trainer.py']), 'missing')).rejects.toThrow(
      /looks like a relative path, and nothing is at .*examples\/no-such-trainer\.py/,
    );
  });

  it('fails clearly when the command writes no model, crashes, or runs too long', async () => {
    const none = await rootFailure(train(command(['sh', '-c', 'echo working; exit 0']), 'no-model'));
    expect(none.type).toBe('TrainerFailed');
    expect(none.message).toMatch(/wrote no model\.onnx[\s\S]*working/);

    const crash = await rootFailure(train(command(['sh', '-c', 'echo "boom: bad column" >&2; exit 3']), 'crash'));
    expect(crash.message).toMatch(/exited with code 3[\s\S]*boom: bad column/);

    const started = Date.now();
    const slow = await rootFailure(train(command(['sh', '-c', 'sleep 60'], { timeoutSeconds: 2 }), 'timeout'));
    expect(slow.type).toBe('TrainerTimeout');
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('refuses corrupt models and models whose inputs are not the features', async () => {
    const corrupt = await rootFailure(train(command(['sh', '-c', 'head -c 2000 /dev/urandom > model.onnx']), 'corrupt'));
    expect(corrupt.type).toBe('ModelLoadError');

    const other = path.join(env.inputDir, 'other.onnx');
    fs.writeFileSync(
      other,
      exportLinear(
        {
          kind: 'logistic',
          task: 'binary',
          features: [{ name: 'age', kind: 'numeric', mean: 0, std: 1 }],
          classes: ['false', 'true'],
          weights: Float64Array.of(1),
          bias: Float64Array.of(0),
          outputs: 1,
          encodedMeans: Float64Array.of(0),
        },
        {},
      ),
    );
    const wrong = await rootFailure(train(command(['sh', '-c', `cp '${other}' model.onnx`]), 'wrong-inputs'));
    expect(wrong.type).toBe('ModelLoadError');
    expect(wrong.message).toMatch(/missing input "x1"[\s\S]*unexpected input "age"/);
  });

  it('runs only allowed executables', async () => {
    await expect(train(command(['perl', '-e', '1']), 'not-allowed')).rejects.toThrow();
    const refused = await rootFailure(train(command(['perl', '-e', '1']), 'not-allowed-2'));
    expect(refused.message).toMatch(/"perl" is not allowed on this worker/);
    expect((await registryState(env.client, 'churn-ext')).versions).toHaveLength(2);
  });
});
