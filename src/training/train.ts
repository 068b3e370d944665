import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { featureColumns } from '../contract/schema';
import type { DatasetManifest } from '../datasets/manifest';
import { userError } from '../errors';
import { metricsOf, outputValues } from '../metrics';
import { fitCalibration } from '../monitoring/cbpe';
import type { ModelCard, ModelVersionSummary, TrainerConfig } from '../models/card';
import { summaryOf } from '../models/card';
import { feedsFromSplit, loadSession } from '../onnx/runtime';
import { type ArtifactStore, writeFileNamed } from '../store/artifact-store';
import { canonicalJson, sha256 } from '../store/hash';
import { CARD_FILE, layout, MODEL_FILE, TRAINER_LOG } from '../store/layout';
import { type PreparedData, prepareTrainingData, type SplitData, type TrainingRows } from './data';
import { fitInThread } from './fit';
import { childEnvironment } from '../secrets';
import { allowedExecutable } from './allowlist';
import { runExternalTrainer } from './external';
import { resolveTrainer, type TrainRequest } from './request';
import { normalizeExternalModel } from '../onnx/external';
import { BIAS_COLUMN, CONTRIBUTIONS_OUTPUT } from '../onnx/contributions';
import { decileProfile } from '../monitoring/prediction-drift';

/**
 * Dataset version + trainer config → a published model version: ONNX file and model card in
 * models/<model>/versions/<id>/. The id hashes everything that determines the model, so a retried
 * activity finds its finished version instead of training twice. Holdout metrics come from running
 * the exported file through ONNX Runtime, never from the trainer's own view of itself.
 *
 * Published like a dataset version (store/backend.ts): the files of one attempt first, the card
 * last as the marker readers believe. Locally the attempt is a folder renamed into place; on S3 a
 * unique `.attempt-<id>/` prefix that the card's onnx.uri names, put only if no card is there, so
 * two workers training the same version at once end with one card and the model file it names
 * (the id does not hash the bytes: an external trainer need not be deterministic).
 */
export interface TrainArgs {
  conn: DuckDBConnection;
  store: ArtifactStore;
  request: TrainRequest & { datasetVersion: string };
  manifest: DatasetManifest;
  manifestUri: string;
  now: Date;
  /** Executables external trainer commands may start ('*': any); empty: command trainers are off. */
  allowedCommands: readonly string[];
  signal?: AbortSignal;
  progress?: (phase: string, details?: Record<string, number>) => void;
  /** Train and measure, but publish nothing (the retraining loop's baseline proof). */
  verifyOnly?: boolean;
}

export function modelVersionId(request: TrainRequest, trainer: TrainerConfig): string {
  const { model, dataset, datasetVersion, seed, label, features } = request;
  return sha256(canonicalJson({ model, dataset, datasetVersion, trainer, seed, label: label ?? null, features: features ?? null })).slice(0, 16);
}

export interface TrainedVersion {
  summary: ModelVersionSummary;
  reused: boolean;
  /** The training data's rows used and left out (from the card; absent for cards written before it was recorded). */
  rows?: TrainingRows;
}

export async function trainModelVersion(args: TrainArgs): Promise<TrainedVersion> {
  const { conn, store, request, manifest } = args;
  const progress = args.progress ?? (() => undefined);
  const trainer = resolveTrainer(request.trainer);
  // Checked before any work; the path found is the one that runs.
  const executable = trainer.kind === 'command' ? await allowedExecutable(trainer.command[0]!, args.allowedCommands, childEnvironment(), process.cwd()) : undefined;
  // Defaults resolved first, so the same model asked for explicitly or by default gets one id.
  const version = modelVersionId({ ...request, label: request.label ?? manifest.contract.label, features: request.features ?? featureColumns(manifest.contract) }, trainer);
  const versionKey = store.key(...layout.modelVersion(request.model, version));
  const cardFile = store.cardFile(request.model, version);
  const existing = args.verifyOnly ? undefined : await store.readJson<ModelCard>(cardFile);
  if (existing) return { summary: summaryOf(existing, cardFile), reused: true, ...(existing.rows ? { rows: existing.rows } : {}) };

  const tmp = await store.makeTempDir(`model-${request.model}-${version}`);
  try {
    progress('prepare');
    const workDir = trainer.kind === 'command' ? path.join(tmp, 'work') : undefined;
    if (workDir) await fs.mkdir(workDir);
    const data = await prepareTrainingData(conn, {
      snapshotUri: manifest.snapshot.uri,
      contract: manifest.contract,
      label: request.label,
      features: request.features,
      seed: request.seed,
      task: trainer.kind === 'linear' ? 'regression' : undefined,
      exportDir: workDir,
    });
    progress('train', { rows: data.train.rows });
    const onnxBytes =
      trainer.kind === 'command'
        ? await fitExternal(trainer, executable!, data, request.seed, workDir!, args)
        : await fitInThread(
            { trainer, data: { task: data.task, features: data.features, classes: data.classes, train: data.train }, ids: { model: request.model, version } },
            args.signal,
          );
    progress('evaluate');
    const session = await loadSession(onnxBytes).catch((err: Error) => {
      throw userError('ModelLoadError', `ONNX Runtime cannot load the trained model: ${err.message}`);
    });
    const { validation, test, outputNames } = await (async () => {
      try {
        return {
          validation: await scoreSplit(session, data, data.validation),
          test: await scoreSplit(session, data, data.test),
          outputNames: [...session.outputNames],
        };
      } finally {
        // Native memory: release now, also when scoring fails, rather than whenever GC runs.
        await session.release();
      }
    })();
    const label = request.label ?? manifest.contract.label!;
    const testValues = outputValues(data.task, test, data.classes.length);
    const card: ModelCard = {
      model: request.model,
      version,
      createdAt: args.now.toISOString(),
      task: data.task,
      trainer,
      seed: request.seed,
      label,
      classes: data.classes,
      features: data.features,
      dataset: { name: manifest.dataset, version: manifest.version, manifestUri: args.manifestUri },
      split: { train: data.train.rows, validation: data.validation.rows, test: data.test.rows },
      rows: data.rows,
      metrics: {
        validation: metricsOf(data.task, data.validation.label, validation, data.classes.length),
        test: metricsOf(data.task, data.test.label, test, data.classes.length),
      },
      trainingProfile: manifest.profile.filter((p) => data.features.some((f) => f.name === p.name)),
      expectedPredictionRange: rangeOf(testValues),
      predictionProfile: decileProfile(testValues),
      // Fitted on the test split, whose predictions are at hand here: the rows the card's test metrics describe.
      ...(data.task === 'binary' && data.test.rows > 0 ? { calibration: fitCalibration(testValues, data.test.label) } : {}),
      ...(outputNames.includes(CONTRIBUTIONS_OUTPUT) && trainer.kind !== 'command'
        ? {
            explanation: {
              output: CONTRIBUTIONS_OUTPUT,
              columns: [...data.features.map((f) => f.name), BIAS_COLUMN],
              scale: data.task === 'regression' ? 'value' : 'log-odds',
              method: trainer.kind === 'gbdt' ? 'tree-path' : 'linear-exact',
            },
          }
        : {}),
      onnx: {
        // Where a local store publishes it; publishModelVersion records where its attempt does.
        uri: store.url(...layout.modelVersion(request.model, version), MODEL_FILE),
        sha256: sha256(onnxBytes),
        bytes: onnxBytes.length,
        inputs: data.features.map((f) => ({ name: f.name, type: f.kind === 'numeric' ? 'float' : 'string' })),
        outputs: outputNames,
      },
    };
    if (args.verifyOnly) return { summary: summaryOf(card, cardFile), reused: false, rows: data.rows };
    progress('publish');
    const published = await publishModelVersion(store, versionKey, card, onnxBytes, workDir && path.join(workDir, TRAINER_LOG));
    const stored = published ? card : (await store.readJson<ModelCard>(cardFile))!;
    return { summary: summaryOf(stored, cardFile), reused: !published, ...(stored.rows ? { rows: stored.rows } : {}) };
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Writes the model file (and an external trainer's log) into an attempt, then the card naming the
 * file last: false when another attempt published this version first (ours is removed). `card` is
 * completed with the file's URL.
 */
async function publishModelVersion(store: ArtifactStore, versionKey: string, card: ModelCard, onnxBytes: Uint8Array, trainerLog?: string): Promise<boolean> {
  const attempt = await store.backend.beginAttempt(versionKey, `model-${card.model}-${card.version}`);
  try {
    await store.writeFileAtomic(attempt.writeUrl(MODEL_FILE), onnxBytes);
    if (trainerLog) await store.writeFileAtomic(attempt.writeUrl(TRAINER_LOG), await fs.readFile(trainerLog));
    card.onnx.uri = attempt.publishedUrl(MODEL_FILE);
    return await store.backend.publishAttempt(attempt, versionKey, CARD_FILE, `${JSON.stringify(card, null, 2)}\n`);
  } catch (err) {
    await store.backend.abandonAttempt(attempt).catch(() => undefined);
    throw err;
  }
}

async function fitExternal(
  trainer: Extract<TrainerConfig, { kind: 'command' }>,
  executable: string,
  data: PreparedData,
  seed: number,
  workDir: string,
  args: TrainArgs,
): Promise<Uint8Array> {
  const spec = { task: data.task, label: data.label, classes: data.classes, features: data.features, seed, params: trainer.params };
  await writeFileNamed(path.join(workDir, 'spec.json'), `${JSON.stringify(spec, null, 2)}\n`);
  await runExternalTrainer({
    dir: workDir,
    command: [executable, ...trainer.command.slice(1)],
    timeoutMs: trainer.timeoutSeconds * 1000,
    groupsDir: args.store.trainerGroupsDir(),
    signal: args.signal,
    onTick: (seconds) => args.progress?.('external-trainer', { seconds }),
  });
  const bytes = await fs.readFile(path.join(workDir, 'model.onnx'));
  return normalizeExternalModel(bytes, data.task, data.features);
}

/** Model outputs on a split through ONNX Runtime: probabilities (N × C) or predictions (N). */
async function scoreSplit(session: Awaited<ReturnType<typeof loadSession>>, data: PreparedData, split: SplitData): Promise<Float32Array> {
  const output = data.task === 'regression' ? 'prediction' : 'probabilities';
  const out = await session.run(feedsFromSplit(split, data.features), [output]);
  const tensor = out[output];
  if (!tensor) throw new Error(`model did not produce ${output}`);
  return tensor.data as Float32Array;
}

function rangeOf(values: Float64Array): ModelCard['expectedPredictionRange'] {
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))]!;
  return { min: sorted[0]!, p01: at(0.01), p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]! };
}
