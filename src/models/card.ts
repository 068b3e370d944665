import type { ColumnProfile } from '../datasets/profile';
import type { Calibration } from '../monitoring/cbpe';
import { userError } from '../errors';
import { didYouMean } from '../suggest';
import type { FeatureSpec, Task, TrainingRows } from '../training/data';

import type { TrainerConfig } from '../training/request';

export type { TrainerConfig };

export type Metrics = Record<string, number>;

/** The model card: everything needed to know what a model version is, where it came from, and how good it was. */
export interface ModelCard {
  model: string;
  version: string;
  createdAt: string;
  task: Task;
  trainer: TrainerConfig;
  seed: number;
  label: string;
  classes: string[];
  features: FeatureSpec[];
  dataset: { name: string; version: string; manifestUri: string };
  split: { train: number; validation: number; test: number };
  /** The training dataset version's rows: how many were used, which were left out and why (absent on older cards). */
  rows?: TrainingRows;
  /** Computed by running the ONNX file through ONNX Runtime on the holdout splits. */
  metrics: { validation: Metrics; test: Metrics };
  /** The training dataset's profile of the feature columns (the drift baseline). */
  trainingProfile: ColumnProfile[];
  /** Quantiles of the model's output on the test split (positive-class probability or value). */
  expectedPredictionRange: { min: number; p01: number; p50: number; p99: number; max: number };
  /** Deciles of that output on the test split with the test rows per bin: the baseline of prediction drift. */
  predictionProfile: { innerEdges: number[]; counts: number[] };
  /**
   * Binary models: isotonic calibration of the positive-class probability fitted on the test split, the
   * basis of performance estimation before labels arrive (CBPE). Absent on older cards and other tasks.
   */
  calibration?: Calibration;
  /** Present when the model file has a per-row `contributions` output (built-in binary/regression models). */
  explanation?: { output: 'contributions'; columns: string[]; scale: 'log-odds' | 'value'; method: 'linear-exact' | 'tree-path' };
  onnx: { uri: string; sha256: string; bytes: number; inputs: Array<{ name: string; type: string }>; outputs: string[] };
}

/** What crosses Temporal and what the registry keeps per version: the card without the bulky parts. */
export interface ModelVersionSummary {
  model: string;
  version: string;
  createdAt: string;
  task: Task;
  trainer: TrainerConfig;
  dataset: { name: string; version: string };
  metrics: { validation: Metrics; test: Metrics };
  cardUri: string;
  onnxUri: string;
  onnxSha256: string;
}

export function summaryOf(card: ModelCard, cardUri: string): ModelVersionSummary {
  return {
    model: card.model,
    version: card.version,
    createdAt: card.createdAt,
    task: card.task,
    trainer: card.trainer,
    dataset: { name: card.dataset.name, version: card.dataset.version },
    metrics: card.metrics,
    cardUri,
    onnxUri: card.onnx.uri,
    onnxSha256: card.onnx.sha256,
  };
}

/** A model input the dataset to score or evaluate lacks: a SchemaMismatch naming the near misses. */
export function missingModelInput(card: Pick<ModelCard, 'model' | 'version'>, dataset: { name: string; version: string }, input: string, columns: readonly string[]): Error {
  return userError(
    'SchemaMismatch',
    `Model ${card.model}@${card.version} needs column "${input}", which dataset ${dataset.name}@${dataset.version} does not have${didYouMean(input, columns, 'its columns')}`,
  );
}
