import type { InferenceSession } from 'onnxruntime-node';
import { ARRAY, BIGINT, DOUBLE, DuckDBDataChunk, type DuckDBConnection, type DuckDBType, FLOAT, INTEGER, VARCHAR } from '@duckdb/node-api';
import type { Contract } from '../contract/schema';
import { userError } from '../errors';
import { outputValues, rowArgmax } from '../metrics';
import { type ModelCard, missingModelInput } from '../models/card';
import { loadSession } from '../onnx/runtime';
import { batches, chunkSizes, columnNumbers, columnStrings, featureFeeds, featureSelect, type InputKind } from '../sql/batches';
import { quoteIdent, quoteString, varcharList } from '../sql/quote';
import { logSelectList, predictionLogColumns } from './log-columns';

/**
 * Batch scoring: a dataset version's rows stream from DuckDB through the model in ONNX Runtime,
 * and every row lands in the prediction log with what the model was given, what it said, a flag
 * when the output is outside the acceptable range, and (for models that explain themselves) each
 * feature's contribution. The log is written as Parquet part files of bounded size, so memory
 * stays flat however many rows there are.
 *
 * Log columns (fixed names, so no feature or key name can collide with them):
 * row_number, key, features (struct), model, model_version, run_id, dataset, dataset_version,
 * scored_at, output, predicted_label, flag, contributions (struct).
 */
export interface ScoreArgs {
  /** Streams the snapshot. */
  conn: DuckDBConnection;
  /** Stages and writes the log: a second connection, because the first is busy streaming. */
  writer: DuckDBConnection;
  dataset: { name: string; version: string; snapshotUri: string; contract: Contract };
  card: ModelCard;
  runId: string;
  scoredAt: string;
  /** Where part file `name` is written: a path, or an s3:// URL DuckDB writes itself. */
  partUrl: (name: string) => string;
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
  /** The part files written, as `partUrl` named them. */
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
/** A prediction's range check, as the log's flag codes (0: none; see FLAG_NAMES); shared with online serving. */
export function rangeFlag(value: number, range: { min: number; max: number }): 0 | 1 | 2 {
  if (!Number.isFinite(value)) return NOT_A_NUMBER;
  return value < range.min || value > range.max ? OUT_OF_RANGE : 0;
}
export const FLAG_NAMES = [null, FLAG_OUT_OF_RANGE, FLAG_NOT_A_NUMBER] as const;
/** Appender chunks hold at most this many rows (DuckDB's vector size). */
const CHUNK_ROWS = 2048;
const STAGING = 'mlops_scored';

/** The row key as text: the key column, or the key columns joined by U+241F; the row number without a key. */
export function keyExpression(contract: Contract): string {
  if (contract.key.length === 0) return 'CAST(file_row_number AS VARCHAR)';
  return contract.key.length === 1
    ? `CAST(${quoteIdent(contract.key[0]!)} AS VARCHAR)`
    : `concat_ws('\u241F', ${contract.key.map((k) => `CAST(${quoteIdent(k)} AS VARCHAR)`).join(', ')})`;
}

export async function scoreDataset(args: ScoreArgs): Promise<ScoreResult> {
  const { conn, writer, dataset, card } = args;
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
  const contributionWidth = explain?.columns.length ?? 0;
  const classes = card.classes.length;

  // A single integer key crosses as numbers (a typed-array copy), any other key as text.
  const keyColumn = dataset.contract.key.length === 1 ? columns.get(dataset.contract.key[0]!) : undefined;
  const numericKey = keyColumn?.type === 'integer';
  // Staging: one row per scored row, typed as the chunks we append.
  const staged: Array<{ name: string; type: DuckDBType; sql: string }> = [
    { name: 'row_number', type: BIGINT, sql: 'BIGINT' },
    numericKey ? { name: 'row_key', type: BIGINT, sql: 'BIGINT' } : { name: 'row_key', type: VARCHAR, sql: 'VARCHAR' },
    ...inputs.map(([, kind], j) => (kind === 'float' ? { name: `f${j}`, type: FLOAT, sql: 'FLOAT' } : { name: `f${j}`, type: VARCHAR, sql: 'VARCHAR' })),
    { name: 'output', type: DOUBLE, sql: 'DOUBLE' },
    { name: 'label_index', type: INTEGER, sql: 'INTEGER' },
    { name: 'flag', type: INTEGER, sql: 'INTEGER' },
    // One fixed-size array per row, filled straight from ONNX Runtime's row-major output.
    ...(contributionWidth ? [{ name: 'contribution', type: ARRAY(FLOAT, contributionWidth), sql: `FLOAT[${contributionWidth}]` }] : []),
  ];
  const newStaging = async () => {
    await writer.run(`CREATE OR REPLACE TEMP TABLE ${STAGING} (${staged.map((c) => `${c.name} ${c.sql}`).join(', ')})`);
    return writer.createAppender(STAGING);
  };
  const logSelect = logSelectList(predictionLogColumns(card), {
    row_number: 'row_number',
    key: 'row_key',
    features: `{${inputs.map(([name], j) => `${quoteString(name)}: nullif(f${j}, ${inputs[j]![1] === 'float' ? "'NaN'::FLOAT" : "''"})`).join(', ')}}`,
    model: quoteString(card.model),
    model_version: quoteString(card.version),
    run_id: quoteString(args.runId),
    dataset: quoteString(dataset.name),
    dataset_version: quoteString(dataset.version),
    scored_at: quoteString(args.scoredAt),
    output: 'output',
    predicted_label: classes > 0 ? `list_extract(${varcharList(card.classes)}, label_index + 1)` : 'NULL',
    flag: `CASE flag WHEN ${OUT_OF_RANGE} THEN '${FLAG_OUT_OF_RANGE}' WHEN ${NOT_A_NUMBER} THEN '${FLAG_NOT_A_NUMBER}' END`,
    ...(explain ? { contributions: `{${explain.columns.map((name, j) => `${quoteString(name)}: contribution[${j + 1}]`).join(', ')}}` } : {}),
  });

  const parts: string[] = [];
  let appender = await newStaging();
  let stagedRows = 0;
  const writePart = async () => {
    appender.closeSync(); // flushes
    const file = args.partUrl(`part-${String(parts.length).padStart(5, '0')}.parquet`);
    // No dictionary encoding: features, outputs and contributions are nearly all distinct, and
    // trying dictionaries first cost a third of the write (same file size without).
    await writer.run(`COPY (SELECT ${logSelect} FROM ${STAGING}) TO ${quoteString(file)} (FORMAT parquet, COMPRESSION zstd, DICTIONARY_SIZE_LIMIT 1)`);
    parts.push(file);
    appender = await newStaging();
    stagedRows = 0;
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
      const columnsOut: Array<ArrayLike<unknown> | ArrayColumn> = [
        columnNumbers(chunks, sizes, inputs.length, new BigInt64Array(rows)),
        numericKey ? columnNumbers(chunks, sizes, inputs.length + 1, new BigInt64Array(rows)) : columnStrings(chunks, sizes, inputs.length + 1),
        ...inputs.map(([name]) => feeds[name]!.data as Float32Array | string[]),
        values,
        labelIndex,
        flags,
        ...(contributionWidth ? [{ rowMajor: out[explain!.output]!.data as Float32Array, width: contributionWidth }] : []),
      ];
      appendRows(appender, staged, columnsOut, rows);
      result.rows += rows;
      stagedRows += rows;
      if (stagedRows >= args.partRows) await writePart();
      args.onBatch?.(result.rows);
    }
    if (stagedRows > 0 || parts.length === 0) await writePart();
  } finally {
    await reader?.close();
    try {
      appender.closeSync();
    } catch {
      // Already closed by a part write that failed after closing it; that failure is the one to report.
    }
    await writer.run(`DROP TABLE IF EXISTS ${STAGING}`).catch(() => undefined);
    if (!args.session) await session.release().catch(() => undefined);
  }
  const scored = result.rows - result.notANumber;
  result.output.mean = scored > 0 ? sum / scored : null;
  result.outputSum = sum;
  return result;
}

/** A column of fixed-size arrays, given as one [N, width] row-major buffer. */
interface ArrayColumn {
  rowMajor: Float32Array;
  width: number;
}

/**
 * Columns → appender, one DuckDB data chunk (≤ 2048 rows) at a time: a few native calls per
 * chunk, not per value. Numeric vectors keep their values in a typed array (`items`, the same
 * non-public field batches.ts reads): filled with one copy, then flushed; strings go through setItem.
 */
function appendRows(
  appender: Awaited<ReturnType<DuckDBConnection['createAppender']>>,
  staged: ReadonlyArray<{ type: DuckDBType }>,
  columns: ReadonlyArray<ArrayLike<unknown> | ArrayColumn>,
  rows: number,
): void {
  const types = staged.map((c) => c.type);
  for (let offset = 0; offset < rows; offset += CHUNK_ROWS) {
    const n = Math.min(CHUNK_ROWS, rows - offset);
    const chunk = DuckDBDataChunk.create(types, n);
    columns.forEach((values, j) => {
      const vector = chunk.getColumnVector(j);
      if ('rowMajor' in values) {
        const child = (vector as unknown as { childData: { items: Float32Array } }).childData;
        child.items.set(values.rowMajor.subarray(offset * values.width, (offset + n) * values.width));
        vector.flush();
        return;
      }
      const items = (vector as unknown as { items?: unknown }).items;
      if (ArrayBuffer.isView(values) && items instanceof (values.constructor as typeof Float32Array)) {
        (items as Float32Array).set((values as unknown as Float32Array).subarray(offset, offset + n));
      } else {
        for (let i = 0; i < n; i++) vector.setItem(i, values[offset + i] as never);
      }
      vector.flush();
    });
    appender.appendDataChunk(chunk);
  }
}
