import type { DuckDBConnection, DuckDBDataChunk, DuckDBVector } from '@duckdb/node-api';
import * as ort from 'onnxruntime-node';
import type { Contract } from '../contract/schema';
import { userError } from '../errors';
import type { Metrics, ModelCard } from '../models/card';
import { loadSession } from '../onnx/runtime';
import { queryRows } from '../sql/duckdb';
import { quoteIdent, quoteString } from '../sql/quote';
import { testSplitFilter, type Task } from '../training/data';
import { metricsOf } from '../training/train';
import { percentile, summarizeDifferences, type Distribution, distributionOf } from './stats';

/**
 * Shadow evaluation: the candidate and the baseline score the same rows, batch by batch, through
 * ONNX Runtime, fed from DuckDB as typed arrays. Rows a model was trained or tuned on are left
 * out (when the evaluation dataset is its training version), so neither side is judged on data it
 * has seen.
 */
export interface ShadowArgs {
  conn: DuckDBConnection;
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
  rows: number;
  /** Why rows were left out, in words. */
  excluded: string[];
  candidate: ModelSide;
  baseline?: ModelSide;
  /** How often the two agree, and how far apart their outputs are. */
  agreement?: { sameLabel?: number; absoluteDifference: ReturnType<typeof summarizeDifferences> };
  slices: SliceMetrics[];
}

const MAX_SLICE_VALUES = 10;

export async function shadowEvaluate(args: ShadowArgs): Promise<ShadowResult> {
  const { conn, dataset, candidate, baseline } = args;
  if (baseline) checkComparable(candidate, baseline);
  const models = baseline ? [candidate, baseline] : [candidate];
  const columns = new Map(dataset.contract.columns.map((c) => [c.name, c]));
  const inputs = new Map<string, 'float' | 'string'>();
  for (const card of models) {
    for (const input of card.onnx.inputs) {
      if (!columns.has(input.name)) {
        throw userError('SchemaMismatch', `Model ${card.model}@${card.version} needs column "${input.name}", which dataset ${dataset.name}@${dataset.version} does not have`);
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
  const sliceExprs = await Promise.all(args.sliceColumns.map((s) => sliceExpression(conn, source, where, s, columns.get(s)!.type)));
  const featureNames = [...inputs.keys()];
  const selects = [
    ...featureNames.map((name) =>
      inputs.get(name) === 'float'
        ? `coalesce(CAST(${quoteIdent(name)} AS FLOAT), 'NaN'::FLOAT)`
        : `coalesce(CAST(${quoteIdent(name)} AS VARCHAR), '')`,
    ),
    labelExpression(candidate),
    ...sliceExprs,
  ];
  const result = await conn.stream(`SELECT ${selects.join(', ')} FROM ${source} WHERE ${where}`);

  const sides = models.map(() => ({ outputs: [] as Float32Array[], batchMs: [] as number[], runMs: 0 }));
  const labels: number[] = [];
  const sliceValues = args.sliceColumns.map(() => [] as string[]);
  const sessions = await Promise.all(models.map((card) => loadSession(card.onnx.uri)));
  try {
    let pending: DuckDBDataChunk[] = [];
    let pendingRows = 0;
    const flush = async () => {
      if (pendingRows === 0) return;
      const batch = readBatch(pending, pendingRows, featureNames, inputs, args.sliceColumns.length);
      labels.push(...batch.label);
      batch.slices.forEach((values, j) => sliceValues[j]!.push(...values));
      for (let m = 0; m < models.length; m++) {
        const feeds: Record<string, ort.Tensor> = {};
        for (const input of models[m]!.onnx.inputs) feeds[input.name] = batch.feeds[input.name]!;
        const started = process.hrtime.bigint();
        const out = await sessions[m]!.run(feeds);
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        sides[m]!.batchMs.push(ms);
        sides[m]!.runMs += ms;
        sides[m]!.outputs.push(outputOf(out, candidate.task));
      }
      pending = [];
      pendingRows = 0;
      args.onBatch?.(labels.length);
    };
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      pending.push(chunk);
      pendingRows += chunk.rowCount;
      if (pendingRows >= args.batchSize) await flush();
    }
    await flush();
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
  }
  const rows = labels.length;
  if (rows === 0) {
    throw userError('InvalidInput', `No rows to evaluate in ${dataset.name}@${dataset.version} after leaving out ${excluded.join(', ')}; evaluate on a newer dataset version`);
  }

  const label = Float64Array.from(labels);
  const classes = candidate.classes.length;
  const outputs = sides.map((s) => concat(s.outputs));
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
  });

  const slices: SliceMetrics[] = [];
  args.sliceColumns.forEach((column, j) => {
    const byValue = new Map<string, number[]>();
    sliceValues[j]!.forEach((v, i) => {
      const list = byValue.get(v) ?? [];
      list.push(i);
      byValue.set(v, list);
    });
    for (const [value, indices] of [...byValue].sort((a, b) => a[0].localeCompare(b[0]))) {
      const sliceLabel = Float64Array.from(indices, (i) => label[i]!);
      const metricsFor = (m: number) => metricsOf(candidate.task, sliceLabel, pick(outputs[m]!, indices, candidate.task === 'regression' ? 1 : classes), classes);
      slices.push({ column, value, rows: indices.length, candidate: metricsFor(0), ...(baseline ? { baseline: metricsFor(1) } : {}) });
    }
  });

  return {
    task: candidate.task,
    rows,
    excluded,
    candidate: sideOf(0),
    ...(baseline ? { baseline: sideOf(1), agreement: agreementOf(candidate.task, outputs[0]!, outputs[1]!, classes) } : {}),
    slices,
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
  const classes = `[${card.classes.map(quoteString).join(', ')}]::VARCHAR[]`;
  return `CAST(list_position(${classes}, CAST(${label} AS VARCHAR)) - 1 AS DOUBLE)`;
}

/** A slice's value per row: quartile ranges for numerics, the most common values (+ "other") for the rest. */
async function sliceExpression(conn: DuckDBConnection, source: string, where: string, column: string, type: string): Promise<string> {
  const col = quoteIdent(column);
  if (type === 'integer' || type === 'double') {
    const [q] = await queryRows<{ q: Array<number | null> | null }>(conn, `SELECT quantile_cont(CAST(${col} AS DOUBLE), [0.25, 0.5, 0.75]) AS q FROM ${source} WHERE ${where}`);
    const edges = [...new Set((q?.q ?? []).filter((v): v is number => v !== null && Number.isFinite(v)))];
    const label = (i: number) => (i === 0 ? `≤ ${fmtEdge(edges[0]!)}` : i === edges.length ? `> ${fmtEdge(edges[i - 1]!)}` : `(${fmtEdge(edges[i - 1]!)}, ${fmtEdge(edges[i]!)}]`);
    const cases = edges.map((e, i) => `WHEN CAST(${col} AS DOUBLE) <= ${e} THEN ${quoteString(label(i))}`).join(' ');
    return `CASE WHEN ${col} IS NULL OR isnan(CAST(${col} AS DOUBLE)) THEN 'missing' ${cases} ELSE ${quoteString(edges.length ? label(edges.length) : 'all')} END`;
  }
  const top = await queryRows<{ v: string }>(
    conn,
    `SELECT CAST(${col} AS VARCHAR) AS v FROM ${source} WHERE ${where} AND ${col} IS NOT NULL GROUP BY v ORDER BY count(*) DESC, v LIMIT ${MAX_SLICE_VALUES}`,
  );
  const list = `[${top.map((r) => quoteString(r.v)).join(', ')}]::VARCHAR[]`;
  return `CASE WHEN ${col} IS NULL THEN 'missing' WHEN list_contains(${list}, CAST(${col} AS VARCHAR)) THEN CAST(${col} AS VARCHAR) ELSE 'other' END`;
}

function fmtEdge(v: number): string {
  return Number(v.toPrecision(4)).toString();
}

interface Batch {
  feeds: Record<string, ort.Tensor>;
  label: number[];
  slices: string[][];
}

/** DuckDB chunks → one batch of [N, 1] tensors (float32 copied straight from the vectors), labels and slice values. */
function readBatch(chunks: DuckDBDataChunk[], rows: number, features: string[], inputs: Map<string, 'float' | 'string'>, sliceCount: number): Batch {
  const feeds: Record<string, ort.Tensor> = {};
  features.forEach((name, j) => {
    if (inputs.get(name) === 'float') {
      const values = new Float32Array(rows);
      let offset = 0;
      for (const chunk of chunks) {
        copyFloats(chunk.getColumnVector(j), chunk.rowCount, values, offset);
        offset += chunk.rowCount;
      }
      feeds[name] = new ort.Tensor('float32', values, [rows, 1]);
    } else {
      const values: string[] = [];
      for (const chunk of chunks) {
        const vector = chunk.getColumnVector(j);
        for (let i = 0; i < chunk.rowCount; i++) values.push(vector.getItem(i) as string);
      }
      feeds[name] = new ort.Tensor('string', values, [rows, 1]);
    }
  });
  const label: number[] = [];
  const slices = Array.from({ length: sliceCount }, () => [] as string[]);
  for (const chunk of chunks) {
    const labelVector = chunk.getColumnVector(features.length);
    for (let i = 0; i < chunk.rowCount; i++) label.push((labelVector.getItem(i) as number | null) ?? Number.NaN);
    for (let s = 0; s < sliceCount; s++) {
      const vector = chunk.getColumnVector(features.length + 1 + s);
      for (let i = 0; i < chunk.rowCount; i++) slices[s]!.push(vector.getItem(i) as string);
    }
  }
  return { feeds, label, slices };
}

/**
 * FLOAT vectors keep their values in a Float32Array; copying it whole is far faster than reading
 * item by item. The field is not public API, so anything else falls back to getItem.
 */
function copyFloats(vector: DuckDBVector, count: number, target: Float32Array, offset: number): void {
  const items = (vector as unknown as { items?: unknown }).items;
  if (items instanceof Float32Array && items.length >= count) {
    target.set(items.subarray(0, count), offset);
    return;
  }
  for (let i = 0; i < count; i++) target[offset + i] = (vector.getItem(i) as number | null) ?? Number.NaN;
}

/** The output metricsOf expects: probabilities (N × C) for classification, predictions (N) for regression. */
function outputOf(out: ort.InferenceSession.OnnxValueMapType, task: Task): Float32Array {
  const tensor = task === 'regression' ? out.prediction : out.probabilities;
  if (!tensor) throw userError('ModelLoadError', `The model has no ${task === 'regression' ? 'prediction' : 'probabilities'} output`);
  return tensor.data as Float32Array;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function pick(outputs: Float32Array, indices: number[], width: number): Float32Array {
  const out = new Float32Array(indices.length * width);
  indices.forEach((i, k) => out.set(outputs.subarray(i * width, (i + 1) * width), k * width));
  return out;
}

function agreementOf(task: Task, a: Float32Array, b: Float32Array, classes: number): NonNullable<ShadowResult['agreement']> {
  if (task === 'regression') return { absoluteDifference: summarizeDifferences(a, b, 1, 0) };
  const rows = a.length / classes;
  let same = 0;
  for (let i = 0; i < rows; i++) if (argmax(a, i, classes) === argmax(b, i, classes)) same++;
  // Differences of the positive-class probability (binary) or of the winning class's (multiclass).
  return { sameLabel: same / rows, absoluteDifference: summarizeDifferences(a, b, classes, classes === 2 ? 1 : -1) };
}

export function argmax(values: Float32Array, row: number, classes: number): number {
  let best = 0;
  for (let k = 1; k < classes; k++) if (values[row * classes + k]! > values[row * classes + best]!) best = k;
  return best;
}
