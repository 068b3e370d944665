import type { DuckDBConnection, DuckDBDataChunk } from '@duckdb/node-api';
import * as ort from 'onnxruntime-node';
import type { Contract } from '../contract/schema';
import { userError } from '../errors';
import { type Metrics, type ModelCard, missingModelInput } from '../models/card';
import { openVerifiedModel } from '../models/files';
import type { ArtifactStore } from '../store/artifact-store';
import { batches, chunkSizes, columnNumbers, concat, featureFeeds, featureSelect, type InputKind } from '../sql/batches';
import { queryRows } from '../sql/duckdb';
import { categoryCode, formatEdge, numericBinCode } from '../sql/bins';
import { quoteIdent, quoteString, varcharList } from '../sql/quote';
import { testSplitFilter, type Task } from '../training/data';
import { metricsOf, rowArgmax } from '../metrics';
import { histogramOf, type Histogram } from '../metrics/curves';
import { curvesOf, type ModelCurves } from './curves';
import { absoluteDifferences, type DifferenceSummary, percentile, summarizeDifferences, type Distribution, distributionOf } from './stats';

/**
 * Shadow evaluation: the candidate and the baseline score the same rows, batch by batch, through
 * ONNX Runtime, fed from DuckDB as typed arrays. Rows a model was trained or tuned on are left
 * out (when the evaluation dataset is its training version), so neither side is judged on data it
 * has seen.
 */
export interface ShadowArgs {
  conn: DuckDBConnection;
  /** Where the models' files are read from (their cards' onnx.uri: a path or an s3:// URL). */
  store: ArtifactStore;
  dataset: { name: string; version: string; snapshotUri: string; contract: Contract };
  candidate: ModelCard;
  baseline?: ModelCard;
  /** Columns to report metrics per value for; numerics are cut into quartiles. */
  sliceColumns: string[];
  batchSize: number;
  onBatch?: (rowsDone: number) => void;
}

export interface ModelSide {
  version: string;
  metrics: Metrics;
  latency: { batches: number; p50Ms: number; p99Ms: number; rowsPerSecond: number };
  distribution: Distribution;
  /** The data of the report's charts (reports written before this field lack it). */
  curves?: ModelCurves;
}

export interface SliceMetrics {
  column: string;
  value: string;
  rows: number;
  candidate: Metrics;
  baseline?: Metrics;
}

export interface ShadowResult {
  task: Task;
  /** Class names in the models' order (classification; reports written before this field lack it). */
  classes?: string[];
  rows: number;
  /** Why rows were left out, in words. */
  excluded: string[];
  candidate: ModelSide;
  baseline?: ModelSide;
  /** How often the two agree, and how far apart their outputs are. */
  agreement?: { sameLabel?: number; absoluteDifference: DifferenceSummary; /** The differences binned (reports written before this field lack it). */ histogram?: Histogram };
  slices: SliceMetrics[];
}

const MAX_SLICE_VALUES = 10;

export async function shadowEvaluate(args: ShadowArgs): Promise<ShadowResult> {
  const { conn, dataset, candidate, baseline } = args;
  if (baseline) checkComparable(candidate, baseline);
  const models = baseline ? [candidate, baseline] : [candidate];
  const columns = new Map(dataset.contract.columns.map((c) => [c.name, c]));
  const inputs = new Map<string, InputKind>();
  for (const card of models) {
    for (const input of card.onnx.inputs) {
      if (!columns.has(input.name)) {
        throw missingModelInput(card, dataset, input.name, [...columns.keys()]);
      }
      inputs.set(input.name, input.type === 'string' ? 'string' : 'float');
    }
  }
  if (!columns.has(candidate.label)) {
    throw userError('SchemaMismatch', `Dataset ${dataset.name}@${dataset.version} has no label column "${candidate.label}"`);
  }
  for (const s of args.sliceColumns) {
    if (!columns.has(s)) throw userError('InvalidInput', `Slice column "${s}" is not in dataset ${dataset.name}@${dataset.version}`);
  }

  const source = `read_parquet(${quoteString(dataset.snapshotUri)}, file_row_number = true)`;
  const filters = [`${labelExpression(candidate)} IS NOT NULL`];
  const excluded = [candidate.task === 'regression' ? 'rows without a label' : 'rows without a label or with a class the model does not know'];
  for (const card of models) {
    if (card.dataset.name === dataset.name && card.dataset.version === dataset.version) {
      filters.push(testSplitFilter(dataset.contract, card.seed));
      excluded.push(`rows ${card.version} was trained or validated on (only its test split is used)`);
    }
  }
  const where = filters.join(' AND ');
  // Loading the models (native, off this thread) overlaps with the slice queries.
  // Checked against the card's sha256 again: the bytes scored are the bytes that were verified.
  const loading = Promise.all(
    models.map((card) => openVerifiedModel(args.store, { model: card.model, version: card.version, onnxUri: card.onnx.uri, onnxSha256: card.onnx.sha256 })),
  );
  loading.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
  const sides = models.map(() => ({ outputs: [] as Float32Array[], batchMs: [] as number[], runMs: 0 }));
  const labelParts: Float64Array[] = [];
  let slices: Slice[] = [];
  let sliceParts: Int32Array[][] = [];
  let rows = 0;
  let reader: ReturnType<typeof batches> | undefined;
  try {
    slices = await Promise.all(args.sliceColumns.map((s) => sliceOf(conn, source, where, s, columns.get(s)!.type)));
    sliceParts = slices.map(() => []);
    const inputList = [...inputs.entries()];
    const selects = [...inputList.map(([name, kind]) => featureSelect(name, kind)), labelExpression(candidate), ...slices.map((slice) => slice.codeExpression)];
    const result = await conn.stream(`SELECT ${selects.join(', ')} FROM ${source} WHERE ${where}`);
    const sessions = await loading;
    // Only the output the metrics need: a model may also compute contributions, which cost time here.
    const fetches = [candidate.task === 'regression' ? 'prediction' : 'probabilities'];
    // Read-ahead: DuckDB decodes the next batch while ONNX Runtime scores this one.
    reader = batches(result, args.batchSize);
    for (let chunks = await reader.next(); chunks; chunks = await reader.next()) {
      const batch = readBatch(chunks, inputList, slices.length);
      labelParts.push(batch.label);
      batch.slices.forEach((codes, j) => sliceParts[j]!.push(codes));
      rows += batch.label.length;
      // One model after the other, so that each one's latency is its own.
      for (let m = 0; m < models.length; m++) {
        const feeds: Record<string, ort.Tensor> = {};
        for (const input of models[m]!.onnx.inputs) feeds[input.name] = batch.feeds[input.name]!;
        const started = process.hrtime.bigint();
        const out = await sessions[m]!.run(feeds, fetches);
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        sides[m]!.batchMs.push(ms);
        sides[m]!.runMs += ms;
        sides[m]!.outputs.push(outputOf(out, candidate.task, m === 0 ? 'ModelLoadError' : 'BaselineLoadError'));
      }
      args.onBatch?.(rows);
    }
  } finally {
    // A fetch still running on the connection must end before the connection is closed.
    await reader?.close();
    // Native memory: release now, on every path, rather than whenever GC runs.
    await loading.then((loaded) => Promise.all(loaded.map((session) => session.release()))).catch(() => undefined);
  }
  if (rows === 0) {
    throw userError('InvalidInput', `No rows to evaluate in ${dataset.name}@${dataset.version} after leaving out ${excluded.join(', ')}; evaluate on a newer dataset version`);
  }

  const label = concat(labelParts, Float64Array);
  const classes = candidate.classes.length;
  const outputs = sides.map((s) => concat(s.outputs, Float32Array));
  const sideOf = (m: number): ModelSide => ({
    version: models[m]!.version,
    metrics: metricsOf(candidate.task, label, outputs[m]!, classes),
    latency: {
      batches: sides[m]!.batchMs.length,
      p50Ms: percentile(sides[m]!.batchMs, 0.5),
      p99Ms: percentile(sides[m]!.batchMs, 0.99),
      rowsPerSecond: rows / (sides[m]!.runMs / 1000),
    },
    distribution: distributionOf(candidate.task, outputs[m]!, classes),
    curves: curvesOf(candidate.task, label, outputs[m]!, classes),
  });

  const sliceMetrics: SliceMetrics[] = [];
  slices.forEach((slice, j) => {
    const codes = concat(sliceParts[j]!, Int32Array);
    const byCode = slice.values.map(() => [] as number[]);
    for (let i = 0; i < rows; i++) byCode[codes[i]!]?.push(i);
    slice.values.forEach((value, code) => {
      const indices = byCode[code]!;
      if (indices.length === 0) return;
      const sliceLabel = Float64Array.from(indices, (i) => label[i]!);
      const metricsFor = (m: number) => metricsOf(candidate.task, sliceLabel, pick(outputs[m]!, indices, candidate.task === 'regression' ? 1 : classes), classes);
      sliceMetrics.push({ column: slice.column, value, rows: indices.length, candidate: metricsFor(0), ...(baseline ? { baseline: metricsFor(1) } : {}) });
    });
  });

  return {
    task: candidate.task,
    ...(classes > 0 ? { classes: candidate.classes } : {}),
    rows,
    excluded,
    candidate: sideOf(0),
    ...(baseline ? { baseline: sideOf(1), agreement: agreementOf(candidate.task, outputs[0]!, outputs[1]!, classes) } : {}),
    slices: sliceMetrics,
  };
}

function checkComparable(candidate: ModelCard, baseline: ModelCard): void {
  if (candidate.task !== baseline.task) {
    throw userError('InvalidInput', `Cannot compare a ${candidate.task} candidate with a ${baseline.task} baseline`);
  }
  if (candidate.label !== baseline.label || candidate.classes.join('\u0000') !== baseline.classes.join('\u0000')) {
    throw userError('InvalidInput', `Candidate and baseline predict different labels (${candidate.label} [${candidate.classes}] vs ${baseline.label} [${baseline.classes}])`);
  }
}

/** The label as the model's class index (classification) or value (regression); unknown classes become NULL → NaN. */
function labelExpression(card: ModelCard): string {
  const label = quoteIdent(card.label);
  if (card.task === 'regression') return `CAST(${label} AS DOUBLE)`;
  return `CAST(list_position(${varcharList(card.classes)}, CAST(${label} AS VARCHAR)) - 1 AS DOUBLE)`;
}

/** A slice column: its values' names, and the SQL that gives each row's value as an index into them. */
interface Slice {
  column: string;
  values: string[];
  codeExpression: string;
}

/** Quartile ranges for numerics, the most common values (+ "other") for the rest; "missing" for NULL. */
async function sliceOf(conn: DuckDBConnection, source: string, where: string, column: string, type: string): Promise<Slice> {
  const col = quoteIdent(column);
  if (type === 'integer' || type === 'double') {
    const [q] = await queryRows<{ q: Array<number | null> | null }>(conn, `SELECT quantile_cont(CAST(${col} AS DOUBLE), [0.25, 0.5, 0.75]) AS q FROM ${source} WHERE ${where}`);
    const edges = [...new Set((q?.q ?? []).filter((v): v is number => v !== null && Number.isFinite(v)))];
    const values = edges.length
      ? [...edges.map((e, i) => (i === 0 ? `≤ ${formatEdge(e)}` : `(${formatEdge(edges[i - 1]!)}, ${formatEdge(e)}]`)), `> ${formatEdge(edges[edges.length - 1]!)}`]
      : ['all'];
    return { column, values: [...values, 'missing'], codeExpression: numericBinCode(column, edges) };
  }
  const top = await queryRows<{ v: string }>(
    conn,
    `SELECT CAST(${col} AS VARCHAR) AS v FROM ${source} WHERE ${where} AND ${col} IS NOT NULL GROUP BY v ORDER BY count(*) DESC, v LIMIT ${MAX_SLICE_VALUES}`,
  );
  const values = top.map((r) => r.v).sort();
  return { column, values: [...values, 'other', 'missing'], codeExpression: categoryCode(column, values) };
}

interface Batch {
  feeds: Record<string, ort.Tensor>;
  label: Float64Array;
  /** Per slice column, each row's value index. */
  slices: Int32Array[];
}

/** DuckDB chunks → one batch of [N, 1] tensors, labels and slice codes, copied straight from the vectors' arrays. */
function readBatch(chunks: DuckDBDataChunk[], inputs: ReadonlyArray<[string, InputKind]>, sliceCount: number): Batch {
  const sizes = chunkSizes(chunks);
  const rows = sizes.reduce((a, b) => a + b, 0);
  const first = inputs.length;
  return {
    feeds: featureFeeds(chunks, sizes, inputs),
    label: columnNumbers(chunks, sizes, first, new Float64Array(rows)),
    slices: Array.from({ length: sliceCount }, (_, s) => columnNumbers(chunks, sizes, first + 1 + s, new Int32Array(rows))),
  };
}

/** The output metricsOf expects: probabilities (N × C) for classification, predictions (N) for regression. */
function outputOf(out: ort.InferenceSession.OnnxValueMapType, task: Task, errorType: 'ModelLoadError' | 'BaselineLoadError'): Float32Array {
  const tensor = task === 'regression' ? out.prediction : out.probabilities;
  if (!tensor)
    throw userError(errorType, `The ${errorType === 'ModelLoadError' ? 'candidate' : 'baseline'} model has no ${task === 'regression' ? 'prediction' : 'probabilities'} output`);
  return tensor.data as Float32Array;
}

function pick(outputs: Float32Array, indices: number[], width: number): Float32Array {
  const out = new Float32Array(indices.length * width);
  for (let k = 0; k < indices.length; k++) {
    const from = indices[k]! * width;
    for (let c = 0; c < width; c++) out[k * width + c] = outputs[from + c]!;
  }
  return out;
}

function agreementOf(task: Task, a: Float32Array, b: Float32Array, classes: number): NonNullable<ShadowResult['agreement']> {
  // Differences of the prediction (regression), the positive-class probability (binary) or the winning class's (multiclass).
  const differences = absoluteDifferences(a, b, task === 'regression' ? 1 : classes, task === 'regression' ? 0 : classes === 2 ? 1 : -1);
  const absoluteDifference = summarizeDifferences(differences);
  const histogram = histogramOf(differences, 30);
  if (task === 'regression') return { absoluteDifference, histogram };
  const rows = a.length / classes;
  let same = 0;
  for (let i = 0; i < rows; i++) if (rowArgmax(a, i, classes) === rowArgmax(b, i, classes)) same++;
  return { sameLabel: same / rows, absoluteDifference, histogram };
}
