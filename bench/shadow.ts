/**
 * `npm run bench:shadow [-- --rows 1000000]`
 *
 * Shadow evaluation of two models (logistic regression and a 100-tree GBDT over 20 numeric
 * features) on the same rows, end to end: DuckDB reads the Parquet snapshot in batches, both
 * models score every batch through ONNX Runtime, metrics, slices and latency are computed. The
 * reference, in the same run: bare ONNX Runtime loops over the same batches (tensors built
 * beforehand, only session.run timed) for both models. Target: ratio (bare time / our time) ≥ 0.6.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { formatTable } from '../src/cli/output';
import { parseContract } from '../src/contract/schema';
import { shadowEvaluate } from '../src/evaluation/shadow';
import type { ModelCard } from '../src/models/card';
import { exportLinear } from '../src/onnx/linear';
import { loadSession } from '../src/onnx/runtime';
import { exportGbdt } from '../src/onnx/trees';
import { openDuckDb } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { ArtifactStore } from '../src/store/artifact-store';
import { sha256 } from '../src/store/hash';
import { prepareTrainingData } from '../src/training/data';
import { DEFAULT_GBDT_PARAMS, trainGbdt } from '../src/training/gbdt';
import { trainLogistic } from '../src/training/linear';

const OUT = path.join(__dirname, 'out', 'shadow');
const FEATURES = 20;
const BATCH = 16_384;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const rows = arg('--rows', 1_000_000);
  fs.mkdirSync(OUT, { recursive: true });
  const db = await openDuckDb();
  const conn = await db.connect();
  const names = Array.from({ length: FEATURES }, (_, j) => `f${j}`);
  const cols = names.map((n, j) => `((hash(i, ${j}) % 100000) / 50000.0 - 1) AS ${n}`);
  const write = async (file: string, n: number, offset: number) =>
    conn.run(`COPY (SELECT *, (hash(i, 999) % 1000000) / 1000000.0 < 1 / (1 + exp(-(1.5 * f0 - f1 + 0.8 * f2 * f3 + CASE WHEN f4 > 0.3 THEN 1 ELSE -0.5 END))) AS y
      FROM (SELECT i, ${cols.join(', ')} FROM range(${offset}, ${offset + n}) t(i))) TO ${quoteString(file)} (FORMAT parquet)`);
  const trainFile = path.join(OUT, 'train.parquet');
  const evalFile = path.join(OUT, `eval-${rows}.parquet`);
  await write(trainFile, 100_000, 0);
  await write(evalFile, rows, 10_000_000);
  const contract = parseContract({
    columns: [{ name: 'i', type: 'integer' }, ...names.map((name) => ({ name, type: 'double' as const })), { name: 'y', type: 'boolean' }],
    key: ['i'],
    label: 'y',
    features: names,
  });

  // Two models trained on separate rows, exported, and described by the card fields evaluation reads.
  const data = await prepareTrainingData(conn, { snapshotUri: trainFile, contract, seed: 1 });
  const cardFor = (version: string, bytes: Uint8Array): ModelCard => {
    const uri = path.join(OUT, `${version}.onnx`);
    fs.writeFileSync(uri, bytes);
    return {
      model: 'bench',
      version,
      task: 'binary',
      label: 'y',
      classes: data.classes,
      seed: 1,
      dataset: { name: 'bench-train', version: 'train', manifestUri: '' },
      onnx: { uri, sha256: sha256(bytes), inputs: names.map((name) => ({ name, type: 'float' })) },
    } as unknown as ModelCard;
  };
  const logistic = cardFor('logistic', exportLinear(trainLogistic(data.train, data.features, data.classes, 'binary', { C: 1, maxIterations: 200, tolerance: 1e-6 }), {}));
  const gbdt = cardFor('gbdt', exportGbdt(trainGbdt(data.train, data.features, data.classes, 'binary', DEFAULT_GBDT_PARAMS), {}));

  const evaluate = async () => {
    const started = process.hrtime.bigint();
    const result = await shadowEvaluate({
      conn,
      store: new ArtifactStore(OUT),
      dataset: { name: 'bench-eval', version: 'eval', snapshotUri: evalFile, contract },
      candidate: gbdt,
      baseline: logistic,
      sliceColumns: ['f0'],
      batchSize: BATCH,
    });
    return { seconds: Number(process.hrtime.bigint() - started) / 1e9, result };
  };

  // Bare ONNX Runtime: the same batches as tensors, built before the clock starts.
  const batches: Array<Record<string, ort.Tensor>> = [];
  const reader = await conn.runAndReadAll(`SELECT ${names.map((n) => `CAST(${n} AS FLOAT) AS ${n}`).join(', ')} FROM read_parquet(${quoteString(evalFile)})`);
  const columns = names.map((_, j) => Float32Array.from(reader.getColumns()[j] as number[]));
  for (let start = 0; start < rows; start += BATCH) {
    const n = Math.min(BATCH, rows - start);
    batches.push(Object.fromEntries(names.map((name, j) => [name, new ort.Tensor('float32', columns[j]!.slice(start, start + n), [n, 1])])));
  }
  const sessions = await Promise.all([loadSession(gbdt.onnx.uri), loadSession(logistic.onnx.uri)]);
  const bare = async () => {
    let seconds = 0;
    for (const feeds of batches) {
      for (const session of sessions) {
        const started = process.hrtime.bigint();
        await session.run(feeds, ['probabilities']);
        seconds += Number(process.hrtime.bigint() - started) / 1e9;
      }
    }
    return seconds;
  };

  await bare(); // warm-up, both sides
  await evaluate();
  const runs = [0, 1, 2].map(() => ({ ours: 0, bare: 0 }));
  let last: Awaited<ReturnType<typeof evaluate>>['result'] | undefined;
  for (const run of runs) {
    run.bare = await bare();
    const ours = await evaluate();
    run.ours = ours.seconds;
    last = ours.result;
  }
  await Promise.all(sessions.map((s) => s.release()));
  db.closeSync();
  const best = (k: 'ours' | 'bare') => Math.min(...runs.map((r) => r[k]));
  console.log(`\nShadow evaluation benchmark: ${rows} rows × ${FEATURES} features, batches of ${BATCH}, GBDT (100 trees) vs logistic regression; best of 3`);
  console.log(
    formatTable([
      {
        'rows evaluated': last!.rows,
        'ours s': best('ours').toFixed(2),
        'ours rows/s': Math.round(rows / best('ours')),
        'bare ORT s': best('bare').toFixed(2),
        'bare rows/s': Math.round(rows / best('bare')),
        'ratio (≥0.6)': (best('bare') / best('ours')).toFixed(2),
      },
    ]),
  );
  console.log(
    `candidate ${last!.candidate.metrics.rocAuc!.toFixed(4)} AUC, p50 ${last!.candidate.latency.p50Ms.toFixed(1)} ms/batch; baseline ${last!.baseline!.metrics.rocAuc!.toFixed(4)} AUC, p50 ${last!.baseline!.latency.p50Ms.toFixed(1)} ms/batch`,
  );
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
