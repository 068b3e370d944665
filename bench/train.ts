/**
 * `npm run bench:train [-- --rows 1000000]`
 *
 * Our logistic regression and GBDT vs scikit-learn (LogisticRegression lbfgs with a
 * StandardScaler; HistGradientBoostingClassifier with matching settings) on the same generated
 * data (20 numeric features, binary label from a known non-linear model), the same train and
 * validation rows, in the same run. Wall time of the fit and holdout ROC AUC side by side.
 * Targets: at most 2× scikit-learn's time for the GBDT (3× for the logistic regression), AUC within 0.001.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatTable } from '../src/cli/output';
import { recordHeadline } from './peers-common';
import { parseContract } from '../src/contract/schema';
import { rocAuc } from '../src/metrics';
import { openDuckDb } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { prepareTrainingData } from '../src/training/data';
import { DEFAULT_GBDT_PARAMS, predictGbdt, trainGbdt } from '../src/training/gbdt';
import { predictLinear, trainLogistic } from '../src/training/linear';
import { ensureSklearnPython } from '../scripts/python-env';

const OUT = path.join(__dirname, 'out', 'train');
const FEATURES = 20;

function rowsArg(): number {
  const i = process.argv.indexOf('--rows');
  return i >= 0 ? Number(process.argv[i + 1]) : 1_000_000;
}

function seconds<T>(fn: () => T): { s: number; value: T } {
  const start = process.hrtime.bigint();
  const value = fn();
  return { s: Number(process.hrtime.bigint() - start) / 1e9, value };
}

async function main(): Promise<void> {
  const rows = rowsArg();
  fs.mkdirSync(OUT, { recursive: true });
  const python = ensureSklearnPython();
  const db = await openDuckDb();
  const conn = await db.connect();
  const snapshot = path.join(OUT, `data-${rows}.parquet`);
  const cols = Array.from({ length: FEATURES }, (_, j) => `((hash(i, ${j}) % 100000) / 50000.0 - 1) AS f${j}`);
  // Label: logistic in a few features plus an interaction and a threshold, so trees have something to add.
  await conn.run(
    `COPY (SELECT *, (hash(i, 999) % 1000000) / 1000000.0 < 1 / (1 + exp(-(1.5 * f0 - f1 + 0.8 * f2 * f3 + CASE WHEN f4 > 0.3 THEN 1 ELSE -0.5 END + 0.3 * f5))) AS y
      FROM (SELECT i, ${cols.join(', ')} FROM range(${rows}) t(i))) TO ${quoteString(snapshot)} (FORMAT parquet)`,
  );
  const contract = parseContract({
    columns: [{ name: 'i', type: 'integer' }, ...Array.from({ length: FEATURES }, (_, j) => ({ name: `f${j}`, type: 'double' as const })), { name: 'y', type: 'boolean' }],
    key: ['i'],
    label: 'y',
    features: Array.from({ length: FEATURES }, (_, j) => `f${j}`),
  });
  const prepStart = Date.now();
  const data = await prepareTrainingData(conn, { snapshotUri: snapshot, contract, seed: 1, exportDir: OUT });
  const prepSeconds = (Date.now() - prepStart) / 1000;
  db.closeSync();
  const valid = data.validation;
  const positive = (p: Float64Array) => Float64Array.from({ length: valid.rows }, (_, i) => p[i * 2 + 1]!);

  const logistic = seconds(() => trainLogistic(data.train, data.features, data.classes, 'binary', { C: 1, maxIterations: 200, tolerance: 1e-6 }));
  const logisticAuc = rocAuc(valid.label, positive(predictLinear(logistic.value, valid)));
  const gbdt = seconds(() => trainGbdt(data.train, data.features, data.classes, 'binary', DEFAULT_GBDT_PARAMS));
  const gbdtAuc = rocAuc(valid.label, positive(predictGbdt(gbdt.value, valid)));

  const sk = spawnSync(python, [path.join(__dirname, 'sklearn', 'train_bench.py'), OUT, 'y'], { encoding: 'utf8' });
  if (sk.status !== 0) throw new Error(`scikit-learn benchmark failed:\n${sk.stderr}`);
  const sklearn = JSON.parse(sk.stdout.trim().split('\n').pop()!) as Record<'logistic' | 'gbdt', { seconds: number; auc: number }>;

  const row = (name: string, ours: { s: number }, auc: number, theirs: { seconds: number; auc: number }) => ({
    model: name,
    'ours s': ours.s.toFixed(2),
    'sklearn s': theirs.seconds.toFixed(2),
    'time ratio (≤2)': (ours.s / theirs.seconds).toFixed(2),
    'ours AUC': auc.toFixed(4),
    'sklearn AUC': theirs.auc.toFixed(4),
    'AUC diff (≤0.001)': Math.abs(auc - theirs.auc).toFixed(4),
  });
  console.log(
    `\nTraining benchmark: ${rows} rows × ${FEATURES} features; ${data.train.rows} train / ${valid.rows} validation rows; data preparation in DuckDB ${prepSeconds.toFixed(1)} s`,
  );
  console.log(formatTable([row('logistic regression', logistic, logisticAuc, sklearn.logistic), row('gradient-boosted trees', gbdt, gbdtAuc, sklearn.gbdt)]));
  const aucGap = Math.abs(gbdtAuc - sklearn.gbdt.auc);
  recordHeadline([
    {
      bench: `GBDT training, ${rows.toLocaleString('en')} rows × ${FEATURES} features`,
      what: `AUC ${gbdtAuc.toFixed(4)} vs ${sklearn.gbdt.auc.toFixed(4)}`,
      ours: `${gbdt.s.toFixed(2)} s`,
      peer: `scikit-learn HistGradientBoosting ${sklearn.gbdt.seconds.toFixed(2)} s`,
      vs: `ours ÷ peer ${(gbdt.s / sklearn.gbdt.seconds).toFixed(2)}`,
      target: '≤ 2× at AUC ± 0.001',
      met: gbdt.s / sklearn.gbdt.seconds <= 2 && aucGap <= 0.001,
    },
  ]);
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
