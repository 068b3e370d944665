import type { ModelCard } from '../models/card';
import { type ParquetColumnValues, type ParquetField, ParquetFileWriter } from '../parquet/writer';

/**
 * One part file of a batch scoring run's prediction log, written straight from the arrays the
 * scoring loop already holds (no staging table, no COPY). Its schema is predictionLogColumns'
 * (log-columns.ts), as the online writer's is: test/log-writer.test.ts reads a part back and
 * checks the two agree column by column, so `read_parquet` over batch and online parts never
 * meets two spellings of a column.
 */
export interface LogRun {
  model: string;
  modelVersion: string;
  runId: string;
  dataset: string;
  datasetVersion: string;
  /** scored_at as TIMESTAMP microseconds: DuckDB's own cast of the run's timestamp text, as the log held it when DuckDB wrote it. */
  scoredAtMicros: number;
}

/** A scored batch, as the batch scoring loop has it (not serving's ScoredBatch, a request's predictions). */
export interface ScoredRows {
  rowNumbers: BigInt64Array;
  /** The key as integers (a single integer key column) or as text. */
  keys: BigInt64Array | ReadonlyArray<string | null>;
  /** Per model input: float features (NaN stands for NULL, as the feeds carry it) or text ('' for NULL). */
  features: ReadonlyArray<Float32Array | readonly string[]>;
  output: Float64Array;
  /** Index into the card's classes; −1: no label. */
  labelIndex: Int32Array;
  /** 0: none, else 1 + index into `flagNames`. */
  flags: Int32Array;
  /** [rows, width] row-major, as ONNX Runtime returns it. */
  contributions?: Float32Array;
}

/** How a writer's rows differ: one timestamp per run (batch) or per row (online, one per request). */
export interface LogFieldOptions {
  scoredAt: { micros: number } | 'per row';
  /** The flag column's dictionary: flag code c (rangeFlag's) is entry c − 1. */
  flagNames: readonly string[];
  /** NULL instead of NaN/±Infinity in `output` (the online log, as its JSON answers say null). */
  nullForNonFiniteOutput?: boolean;
}

/**
 * The log's columns (predictionLogColumns' names and types) as Parquet fields, for the batch
 * writer here and the online one (serving/log.ts, which adds request_id); the run's constants
 * are one-entry dictionaries.
 */
export function predictionLogFields(card: ModelCard, run: Omit<LogRun, 'scoredAtMicros'>, options: LogFieldOptions): ParquetField[] {
  const constant = (name: string, value: string): ParquetField => ({ name, type: 'STRING', dictionary: [value] });
  return [
    { name: 'row_number', type: 'INT64', delta: true },
    { name: 'key', type: 'STRING' },
    { name: 'features', children: card.onnx.inputs.map((i) => (i.type === 'string' ? { name: i.name, type: 'STRING' } : { name: i.name, type: 'FLOAT', nanIsNull: true })) },
    constant('model', run.model),
    constant('model_version', run.modelVersion),
    constant('run_id', run.runId),
    constant('dataset', run.dataset),
    constant('dataset_version', run.datasetVersion),
    options.scoredAt === 'per row' ? { name: 'scored_at', type: 'TIMESTAMP', delta: true } : { name: 'scored_at', type: 'TIMESTAMP', dictionary: [options.scoredAt.micros] },
    { name: 'output', type: 'DOUBLE', nanIsNull: options.nullForNonFiniteOutput ?? false },
    card.classes.length === 0 ? { name: 'predicted_label', type: 'STRING' } : { name: 'predicted_label', type: 'STRING', dictionary: card.classes.map(String) },
    { name: 'flag', type: 'STRING', dictionary: options.flagNames },
    ...(card.explanation ? [{ name: 'contributions', children: card.explanation.columns.map((name) => ({ name, type: 'FLOAT' as const })) }] : []),
  ];
}

export class PredictionLogPart {
  private readonly parquet: ParquetFileWriter;
  private readonly contributionWidth: number;
  private readonly regression: boolean;

  constructor(file: string, card: ModelCard, run: LogRun, flagNames: readonly string[]) {
    this.contributionWidth = card.explanation?.columns.length ?? 0;
    this.regression = card.classes.length === 0;
    const fields = predictionLogFields(card, run, { scoredAt: { micros: run.scoredAtMicros }, flagNames });
    this.parquet = new ParquetFileWriter(file, fields);
  }

  get file(): string {
    return this.parquet.file;
  }

  write(batch: ScoredRows, rows: number): void {
    const flagIndex = new Int32Array(rows);
    for (let i = 0; i < rows; i++) flagIndex[i] = batch.flags[i]! - 1; // 0 (no flag) becomes −1, NULL
    const columns: ParquetColumnValues[] = [
      batch.rowNumbers,
      batch.keys, // integers are written as their decimal text
      ...batch.features.map((f) => (f instanceof Float32Array ? f : f.map((v) => (v === '' ? null : v)))),
      { repeat: 0 },
      { repeat: 0 },
      { repeat: 0 },
      { repeat: 0 },
      { repeat: 0 },
      { repeat: 0 },
      batch.output,
      this.regression ? new Array<null>(rows).fill(null) : { indices: batch.labelIndex },
      { indices: flagIndex },
      ...(this.contributionWidth ? splitRowMajor(batch.contributions!, rows, this.contributionWidth) : []),
    ];
    this.parquet.write(columns, rows);
  }

  close(): void {
    this.parquet.close();
  }

  discard(): void {
    this.parquet.discard();
  }
}

/** [rows, width] row-major → one array per column. */
function splitRowMajor(values: Float32Array, rows: number, width: number): Float32Array[] {
  if (values.length < rows * width) throw new Error(`contributions hold ${values.length} values, not ${rows} × ${width}`);
  const columns = Array.from({ length: width }, () => new Float32Array(rows));
  for (let i = 0, at = 0; i < rows; i++) for (let j = 0; j < width; j++) columns[j]![i] = values[at++]!;
  return columns;
}
