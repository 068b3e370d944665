import type { InferenceSession } from 'onnxruntime-node';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Contract } from '../contract/schema';
import { userError } from '../errors';
import { outputValues, rowArgmax } from '../metrics';
import { type ModelCard, missingModelInput } from '../models/card';
import { loadSession } from '../onnx/runtime';
import { batches, chunkSizes, columnNumbers, columnStrings, featureFeeds, featureSelect, type InputKind } from '../sql/batches';
import { quoteIdent, quoteString } from '../sql/quote';
import { PredictionLogPart } from './log-writer';

/**
 * Batch scoring: a dataset version's rows stream from DuckDB through the model in ONNX Runtime,
 * and every row lands in the prediction log with what the model was given, what it said, a flag
 * when the output is outside the acceptable range, and (for models that explain themselves) each
 * feature's contribution. The log is written as Parquet part files of bounded size, so memory
 * stays flat however many rows there are; each part is written from the batch's arrays as they
 * are (log-writer.ts), with the schema of log-columns.ts.
 *
 * Log columns (fixed names, so no feature or key name can collide with them):
 * row_number, key, features (struct), model, model_version, run_id, dataset, dataset_version,
 * scored_at, output, predicted_label, flag, contributions (struct).
 */
export interface ScoreArgs {
  /** Streams the snapshot. */
  conn: DuckDBConnection;
  dataset: { name: string; version: string; snapshotUri: string; contract: Contract };
  card: ModelCard;
  runId: string;
  scoredAt: string;
  /** The local file part `name` is written to. */
  partFile: (name: string) => string;
  /**
   * Moves a written part to where the log is read from and returns its URL: an upload when the
   * log lives in a bucket. Without it a part stays where it was written, and that is its URL.
   */
  publishPart?: (file: string, name: string) => Promise<string>;
  batchSize: number;
  /** Rows per Parquet part file. */
  partRows: number;
  range: { min: number; max: number };
  /** Only these rows of the snapshot (by file_row_number; no count: to the end): one part of a split run. Default: all. */
  rows?: { first: number; count?: number };
  /** A session the caller opened (and releases), e.g. the one it verified the model with. */
  session?: InferenceSession;
  onBatch?: (rowsDone: number) => void;
}

export interface ScoreResult {
  rows: number;
  outOfRange: number;
  notANumber: number;
  /** The part files written: their URLs, as `publishPart` returned them (or their paths). */
  parts: string[];
  output: { min: number | null; mean: number | null; max: number | null };
  /** Sum of the outputs that are numbers: a split run's mean adds these up over its parts. */
  outputSum: number;
  /** Time in ONNX Runtime alone, for the report (and the benchmark's ratio). */
  inferenceMs: number;
}

export const FLAG_OUT_OF_RANGE = 'out-of-range';
export const FLAG_NOT_A_NUMBER = 'not-a-number';
const OUT_OF_RANGE = 1;
const NOT_A_NUMBER = 2;
/** A prediction's range check, as the log's flag codes (0: none, else FLAG_NAMES[code]); shared with online serving. */
export function rangeFlag(value: number, range: { min: number; max: number }): 0 | 1 | 2 {
  if (!Number.isFinite(value)) return NOT_A_NUMBER;
  return value < range.min || value > range.max ? OUT_OF_RANGE : 0;
}
export const FLAG_NAMES = [null, FLAG_OUT_OF_RANGE, FLAG_NOT_A_NUMBER] as const;
/** The log's flag dictionary (both logs): code c is LOG_FLAG_NAMES[c - 1]. */
export const LOG_FLAG_NAMES = [FLAG_OUT_OF_RANGE, FLAG_NOT_A_NUMBER];

/** The row key as text: the key column, or the key columns joined by U+241F; the row number without a key. */
export function keyExpression(contract: Contract): string {
  if (contract.key.length === 0) return 'CAST(file_row_number AS VARCHAR)';
  return contract.key.length === 1
    ? `CAST(${quoteIdent(contract.key[0]!)} AS VARCHAR)`
    : `concat_ws('\u241F', ${contract.key.map((k) => `CAST(${quoteIdent(k)} AS VARCHAR)`).join(', ')})`;
}

export async function scoreDataset(args: ScoreArgs): Promise<ScoreResult> {
  const { conn, dataset, card } = args;
  const columns = new Map(dataset.contract.columns.map((c) => [c.name, c]));
  const inputs: Array<[string, InputKind]> = card.onnx.inputs.map((i) => {
    if (!columns.has(i.name)) {
      throw missingModelInput(card, dataset, i.name, [...columns.keys()]);
    }
    return [i.name, i.type === 'string' ? 'string' : 'float'];
  });
  const outputName = card.task === 'regression' ? 'prediction' : 'probabilities';
  const explain = card.explanation;
  const fetches = explain ? [outputName, explain.output] : [outputName];
  const classes = card.classes.length;

  // A single integer key crosses as numbers (a typed-array copy), any other key as text.
  const keyColumn = dataset.contract.key.length === 1 ? columns.get(dataset.contract.key[0]!) : undefined;
  const numericKey = keyColumn?.type === 'integer';
  // DuckDB's own reading of the run's timestamp, as the log's TIMESTAMP column holds it.
  const scoredAt = await conn.runAndReadAll(`SELECT epoch_us(CAST(${quoteString(args.scoredAt)} AS TIMESTAMP))::DOUBLE`);
  const run = {
    model: card.model,
    modelVersion: card.version,
    runId: args.runId,
    dataset: dataset.name,
    datasetVersion: dataset.version,
    scoredAtMicros: scoredAt.getRows()[0]![0] as number,
  };
  const parts: string[] = [];
  /** The part being written, opened by its first batch (or, for no rows at all, by the end). */
  let part: { log: PredictionLogPart; name: string; rows: number } | undefined;
  const openPart = () => {
    const name = `part-${String(parts.length).padStart(5, '0')}.parquet`;
    return { log: new PredictionLogPart(args.partFile(name), card, run, LOG_FLAG_NAMES), name, rows: 0 };
  };
  const finishPart = async () => {
    const { log, name } = part ?? openPart();
    part = undefined;
    try {
      log.close();
    } catch (err) {
      log.discard(); // no part without its footer is left for a reader
      throw err;
    }
    parts.push(args.publishPart ? await args.publishPart(log.file, name) : log.file);
  };

  const session =
    args.session ??
    (await loadSession(card.onnx.uri).catch((err: Error) => {
      throw userError('ModelLoadError', `Model ${card.model}@${card.version}: ONNX Runtime cannot load it: ${err.message}`);
    }));
  // A row range filters on file_row_number, which DuckDB prunes row groups by: a part reads its rows only.
  const bounds = args.rows ? [`file_row_number >= ${args.rows.first}`, ...(args.rows.count === undefined ? [] : [`file_row_number < ${args.rows.first + args.rows.count}`])] : [];
  const range = bounds.length ? ` WHERE ${bounds.join(' AND ')}` : '';
  const source = `read_parquet(${quoteString(dataset.snapshotUri)}, file_row_number = true)${range}`;
  const key = numericKey ? `CAST(${quoteIdent(keyColumn!.name)} AS BIGINT)` : keyExpression(dataset.contract);
  const selects = [...inputs.map(([name, kind]) => featureSelect(name, kind)), 'file_row_number', key];
  let reader: ReturnType<typeof batches> | undefined;
  const result: ScoreResult = { rows: 0, outOfRange: 0, notANumber: 0, parts, output: { min: null, mean: null, max: null }, outputSum: 0, inferenceMs: 0 };
  let sum = 0;
  try {
    reader = batches(await conn.stream(`SELECT ${selects.join(', ')} FROM ${source}`), args.batchSize);
    for (let chunks = await reader.next(); chunks; chunks = await reader.next()) {
      const sizes = chunkSizes(chunks);
      const rows = sizes.reduce((a, b) => a + b, 0);
      const feeds = featureFeeds(chunks, sizes, inputs);
      const started = process.hrtime.bigint();
      const out = await session.run(feeds, fetches);
      result.inferenceMs += Number(process.hrtime.bigint() - started) / 1e6;
      const raw = out[outputName]?.data as Float32Array | undefined;
      if (!raw) throw userError('ModelLoadError', `Model ${card.model}@${card.version} has no ${outputName} output`);
      const values = outputValues(card.task, raw, Math.max(classes, 1));
      const labelIndex = new Int32Array(rows).fill(-1);
      if (classes > 0) for (let i = 0; i < rows; i++) labelIndex[i] = rowArgmax(raw, i, classes);
      const flags = new Int32Array(rows);
      for (let i = 0; i < rows; i++) {
        const v = values[i]!;
        flags[i] = rangeFlag(v, args.range);
        if (flags[i] === NOT_A_NUMBER) {
          labelIndex[i] = -1; // no class for a prediction that is not a number
          result.notANumber++;
          continue;
        }
        if (flags[i] === OUT_OF_RANGE) result.outOfRange++;
        sum += v;
        result.output.min = result.output.min === null ? v : Math.min(result.output.min, v);
        result.output.max = result.output.max === null ? v : Math.max(result.output.max, v);
      }
      part ??= openPart();
      part.log.write(
        {
          rowNumbers: columnNumbers(chunks, sizes, inputs.length, new BigInt64Array(rows)),
          keys: numericKey ? columnNumbers(chunks, sizes, inputs.length + 1, new BigInt64Array(rows)) : columnStrings(chunks, sizes, inputs.length + 1),
          features: inputs.map(([name]) => feeds[name]!.data as Float32Array | string[]),
          output: values,
          labelIndex,
          flags,
          ...(explain ? { contributions: out[explain.output]!.data as Float32Array } : {}),
        },
        rows,
      );
      part.rows += rows;
      result.rows += rows;
      if (part.rows >= args.partRows) await finishPart();
      args.onBatch?.(result.rows);
    }
    if (part || parts.length === 0) await finishPart();
  } finally {
    await reader?.close();
    part?.log.discard(); // a failed run leaves no half-written part behind
    if (!args.session) await session.release().catch(() => undefined);
  }
  const scored = result.rows - result.notANumber;
  result.output.mean = scored > 0 ? sum / scored : null;
  result.outputSum = sum;
  return result;
}
