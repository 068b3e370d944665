import * as path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Contract, ContractColumn } from '../contract/schema';
import { featureColumns } from '../contract/schema';
import { userError } from '../errors';
import { didYouMean } from '../suggest';
import { queryRows } from '../sql/duckdb';
import { quoteIdent, quoteString, varcharList } from '../sql/quote';

/**
 * Training data, prepared in DuckDB: a deterministic train/validation/test split, the feature
 * statistics a model needs for its own preprocessing (computed on the training split only, so no
 * information leaks from the holdout), and each split as typed arrays for the trainers.
 */
export type FeatureSpec = { name: string; kind: 'numeric'; mean: number; std: number } | { name: string; kind: 'categorical'; categories: string[] };

export type Task = 'binary' | 'multiclass' | 'regression';

export interface SplitData {
  rows: number;
  /** Per feature, in spec order: numerics as doubles (NaN = missing), categoricals as codes (-1 = unknown or missing). */
  columns: Array<Float64Array | Int32Array>;
  /** Class index (classification) or target value (regression). */
  label: Float64Array;
}

/** Rows of the dataset version a model was trained from, and those left out with why. */
export interface TrainingRows {
  dataset: number;
  used: number;
  dropped: Array<{ reason: string; rows: number }>;
}

export interface PreparedData {
  /** Rows of the snapshot, and those left out (no split, no training, no metrics) with why. */
  rows: TrainingRows;
  task: Task;
  label: string;
  features: FeatureSpec[];
  /** Class names in index order (classification only). */
  classes: string[];
  train: SplitData;
  validation: SplitData;
  test: SplitData;
}

/** The outputs every exported model has; a model input (a feature column) cannot share their names. */
export const MODEL_OUTPUT_NAMES = ['label', 'probabilities', 'prediction', 'contributions'] as const;

export const SPLIT_FRACTIONS = { train: 0.7, validation: 0.15 } as const;
const MAX_CATEGORIES = 64;
const MIN_TRAIN_ROWS = 20;

export interface PrepareOptions {
  snapshotUri: string;
  contract: Contract;
  /** Default: the contract's label. */
  label?: string;
  /** Default: the contract's features. */
  features?: string[];
  seed: number;
  task?: Task;
  /** Also write train.parquet and validation.parquet (raw feature columns + label) here, for external trainers. */
  exportDir?: string;
}

function column(contract: Contract, name: string): ContractColumn {
  const c = contract.columns.find((col) => col.name === name);
  if (!c)
    throw userError(
      'InvalidInput',
      `Column "${name}" is not in the dataset's contract${didYouMean(
        name,
        contract.columns.map((col) => col.name),
        'columns',
      )}`,
    );
  return c;
}

/**
 * A row's place in [0, 1) for the train/validation/test split: a hash of the key (stable under row
 * reordering) or else the file row number (read_parquet with file_row_number), salted by the seed.
 */
export function splitHash(contract: Contract, seed: number): string {
  const rowId = contract.key.length ? contract.key.map(quoteIdent).join(', ') : 'file_row_number';
  return `((hash(${rowId}, ${Math.trunc(seed)}) % 1000000) / 1000000.0)`;
}

/** Rows of a model's training dataset version it never saw during training or model selection. */
export function testSplitFilter(contract: Contract, seed: number): string {
  return `${splitHash(contract, seed)} >= ${SPLIT_FRACTIONS.train + SPLIT_FRACTIONS.validation}`;
}

export async function prepareTrainingData(conn: DuckDBConnection, options: PrepareOptions): Promise<PreparedData> {
  const { contract, seed } = options;
  const labelName = options.label ?? contract.label;
  if (!labelName) throw userError('InvalidInput', 'No label: the contract names none; pass the label column');
  const labelColumn = column(contract, labelName);
  const featureNames = options.features ?? featureColumns(contract).filter((f) => f !== labelName);
  if (featureNames.length === 0) throw userError('InvalidInput', 'No feature columns to train on');
  const clash = featureNames.find((f) => (MODEL_OUTPUT_NAMES as readonly string[]).includes(f));
  if (clash) {
    throw userError(
      'InvalidInput',
      `Feature column "${clash}" has the name of a model output (${MODEL_OUTPUT_NAMES.join(', ')}); rename the column or leave it out of the features`,
    );
  }
  const featureCols = featureNames.map((n) => column(contract, n));
  for (const f of featureCols) {
    if (f.type === 'date' || f.type === 'timestamp') {
      throw userError('InvalidInput', `Feature "${f.name}" is a ${f.type}; derive a numeric feature from it (e.g. age in days) first`);
    }
  }

  // A row without a label cannot be learned from or scored against; it is left out, and said so.
  const [counted] = await queryRows<{ total: number; labeled: number }>(
    conn,
    `SELECT count(*) AS total, count(${quoteIdent(labelName)}) AS labeled FROM read_parquet(${quoteString(options.snapshotUri)})`,
  );
  const rows: TrainingRows = {
    dataset: counted!.total,
    used: counted!.labeled,
    dropped: counted!.total > counted!.labeled ? [{ reason: `label "${labelName}" is missing`, rows: counted!.total - counted!.labeled }] : [],
  };
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE mlops_split AS SELECT *, CASE
       WHEN h < ${SPLIT_FRACTIONS.train} THEN 'train'
       WHEN h < ${SPLIT_FRACTIONS.train + SPLIT_FRACTIONS.validation} THEN 'validation' ELSE 'test' END AS _mlops_split
     FROM (SELECT *, ${splitHash(contract, seed)} AS h
           FROM read_parquet(${quoteString(options.snapshotUri)}, file_row_number = true))
     WHERE ${quoteIdent(labelName)} IS NOT NULL`,
  );

  const { task, classes } = await labelTask(conn, labelColumn, options.task);
  const features = await featureSpecs(conn, featureCols);
  const labelExpr = task === 'regression' ? `CAST(${quoteIdent(labelName)} AS DOUBLE)` : `list_position(${varcharList(classes)}, CAST(${quoteIdent(labelName)} AS VARCHAR)) - 1`;
  const splits = {} as Record<'train' | 'validation' | 'test', SplitData>;
  for (const split of ['train', 'validation', 'test'] as const) {
    splits[split] = await readSplit(conn, split, features, labelExpr);
  }
  if (splits.train.rows < MIN_TRAIN_ROWS) {
    throw userError('InvalidInput', `Only ${splits.train.rows} training rows after the split; at least ${MIN_TRAIN_ROWS} are needed`);
  }
  if (splits.test.rows === 0 || splits.validation.rows === 0) {
    throw userError('InvalidInput', 'Too few rows for a validation and a test split; ingest more data');
  }
  if (options.exportDir) {
    const columns = [...features.map((f) => quoteIdent(f.name)), quoteIdent(labelName)].join(', ');
    for (const split of ['train', 'validation'] as const) {
      const file = path.join(options.exportDir, `${split}.parquet`);
      await conn.run(`COPY (SELECT ${columns} FROM mlops_split WHERE _mlops_split = '${split}') TO ${quoteString(file)} (FORMAT parquet)`);
    }
  }
  await conn.run('DROP TABLE mlops_split');
  return { rows, task, label: labelName, features, classes, ...splits };
}

async function labelTask(conn: DuckDBConnection, label: ContractColumn, requested: Task | undefined): Promise<{ task: Task; classes: string[] }> {
  const numeric = label.type === 'integer' || label.type === 'double';
  const [{ n, distinct }] = (await queryRows<{ n: number; distinct: number }>(
    conn,
    `SELECT count(*) AS n, count(DISTINCT ${quoteIdent(label.name)}) AS distinct FROM mlops_split WHERE _mlops_split = 'train'`,
  )) as [{ n: number; distinct: number }];
  if (n === 0) throw userError('InvalidInput', `Label "${label.name}" has no values in the training split`);
  if (distinct < 2) {
    throw userError('InvalidInput', `Label "${label.name}" is constant in the training data; there is nothing to learn`);
  }
  const task: Task = requested ?? (label.type === 'double' || (numeric && distinct > 20) ? 'regression' : distinct === 2 ? 'binary' : 'multiclass');
  if (task === 'regression') {
    if (!numeric) throw userError('InvalidInput', `Regression needs a numeric label; "${label.name}" is ${label.type}`);
    return { task, classes: [] };
  }
  // Classes in a stable order (false/0 first), so "positive" is the second class of a binary label.
  const rows = await queryRows<{ v: string }>(
    conn,
    `SELECT DISTINCT CAST(${quoteIdent(label.name)} AS VARCHAR) AS v, ${quoteIdent(label.name)} AS raw FROM mlops_split ORDER BY raw`,
  );
  const classes = rows.map((r) => r.v);
  if (task === 'binary' && classes.length !== 2) {
    throw userError('InvalidInput', `Binary classification needs exactly 2 label values; "${label.name}" has ${classes.length}`);
  }
  if (classes.length > 50) throw userError('InvalidInput', `Label "${label.name}" has ${classes.length} classes; at most 50 are supported`);
  return { task, classes };
}

async function featureSpecs(conn: DuckDBConnection, columns: ContractColumn[]): Promise<FeatureSpec[]> {
  const specs: FeatureSpec[] = [];
  for (const c of columns) {
    const col = quoteIdent(c.name);
    if (c.type === 'integer' || c.type === 'double' || c.type === 'boolean') {
      const [s] = await queryRows<{ mean: number | null; std: number | null }>(
        conn,
        `SELECT avg(CAST(${col} AS DOUBLE)) AS mean, stddev_pop(CAST(${col} AS DOUBLE)) AS std
         FROM mlops_split WHERE _mlops_split = 'train'`,
      );
      // A column with no values (or one value) still gets a defined, harmless transform.
      const std = s?.std && s.std > 0 ? s.std : 1;
      specs.push({ name: c.name, kind: 'numeric', mean: s?.mean ?? 0, std });
    } else {
      const rows = await queryRows<{ v: string }>(
        conn,
        `SELECT CAST(${col} AS VARCHAR) AS v FROM mlops_split WHERE _mlops_split = 'train' AND ${col} IS NOT NULL
         GROUP BY v ORDER BY count(*) DESC, v LIMIT ${MAX_CATEGORIES}`,
      );
      specs.push({ name: c.name, kind: 'categorical', categories: rows.map((r) => r.v) });
    }
  }
  return specs;
}

async function readSplit(conn: DuckDBConnection, split: string, features: FeatureSpec[], labelExpr: string): Promise<SplitData> {
  const selects = features.map((f) =>
    f.kind === 'numeric'
      ? `coalesce(CAST(${quoteIdent(f.name)} AS DOUBLE), 'NaN'::DOUBLE)`
      : `coalesce(list_position(${varcharList(f.categories)}, CAST(${quoteIdent(f.name)} AS VARCHAR)), 0)::DOUBLE - 1`,
  );
  const result = await conn.run(`SELECT ${[...selects, `CAST(${labelExpr} AS DOUBLE)`].join(', ')} FROM mlops_split WHERE _mlops_split = ${quoteString(split)}`);
  const rows = result.rowCount;
  const columns: Array<Float64Array | Int32Array> = features.map((f) => (f.kind === 'numeric' ? new Float64Array(rows) : new Int32Array(rows)));
  const label = new Float64Array(rows);
  let offset = 0;
  for (let c = 0; c < result.chunkCount; c++) {
    const chunk = result.getChunk(c);
    const size = chunk.rowCount;
    for (let j = 0; j <= features.length; j++) {
      const vector = chunk.getColumnVector(j);
      const target = j < features.length ? columns[j]! : label;
      for (let i = 0; i < size; i++) target[offset + i] = (vector.getItem(i) as number | null) ?? Number.NaN;
    }
    offset += size;
  }
  return { rows, columns, label };
}
