import { BOOLEAN, DOUBLE, DuckDBDataChunk, type DuckDBInstance, type DuckDBType, type DuckDBVector, FLOAT, INTEGER, UTINYINT, VARCHAR } from '@duckdb/node-api';
import type { ModelCard } from '../models/card';
import { type LogExpressions, logSelectList, predictionLogColumns } from '../scoring/log-columns';
import { FLAG_NAMES } from '../scoring/score';
import { quoteString } from '../sql/quote';
import type { ArtifactStore } from '../store/artifact-store';
import { joinKey } from '../store/backend';
import { layout } from '../store/layout';
import type { InputFeeds } from './input';
import type { ScoredBatch } from './scored';

/**
 * The online prediction log: the batch log's columns (see scoring/score.ts) plus `request_id`,
 * as Parquet part files under predictions/<model>/<runId>/, so monitoring, live metrics and
 * `mlops sql` read online traffic with the same globs as batch runs. `dataset` is the model's
 * training dataset (labels of that dataset join by key); `dataset_version` is "online".
 *
 * A request's rows wait in memory as the request left them — its input columns and the model's
 * output tensors, no value copied per row — and are written in the background: typed arrays
 * copied whole into DuckDB vectors through an appender (a temporary table of numbers: codes for
 * labels and flags, keys only where the rows carried key columns; one row per request for its
 * id and time), then COPY'd to Parquet, where SQL spells the codes out. Per-value work in
 * JavaScript (boxed numbers in arrays, a string per row for key, time, label and flag) was the
 * log's cost at 64-row requests: it halved the server's throughput (bench/README.md).
 *
 * A part is written every `flushIntervalMs`, or as soon as `flushRows` are waiting; one part is
 * written at a time, and rows that arrive meanwhile go into the next part (not one tiny part per
 * request while a write is slow). A crash loses what waits (at most one interval of traffic, and
 * never more than `maxBufferedRows`); a part appears whole (renamed into place on a local store,
 * one upload on S3: see StoreBackend.writeWhole), so none is ever half-written.
 * When writes fall behind and `maxBufferedRows` wait, further rows are dropped and counted
 * (mlops_serve_log_rows{state="dropped"}) rather than growing memory without bound.
 */
export interface OnlineLogOptions {
  flushRows?: number;
  flushIntervalMs?: number;
  maxBufferedRows?: number;
}

export const ONLINE_DATASET_VERSION = 'online';

/** One request's rows, as the request left them. */
interface Segment {
  requestId: string;
  scoredAt: string;
  /** Rows kept (fewer than the request's when the buffer was full). */
  rows: number;
  /** Rows in the request: its keys are `<id>/<row>` when it has more than one. */
  requestRows: number;
  /** row_number of its first row. */
  firstRow: number;
  features: InputFeeds['features'];
  keys: InputFeeds['keys'];
  batch: ScoredBatch;
}

/** One model version's waiting requests. */
interface Pending {
  card: ModelCard;
  rows: number;
  segments: Segment[];
}

/**
 * The temporary tables a part is appended to: one row per request (`online_log_requests`: id,
 * time, first row number, row count) and one per prediction (`online_log_rows`: numbers only,
 * but for keys that came with the rows and string features; the features and contributions one
 * column each, named by position so any feature name is safe). logSelect rebuilds the log's
 * columns from them.
 */
interface TableShape {
  names: string[];
  types: DuckDBType[];
  /** Column index of each log value. */
  featureAt: number;
  contributionsAt: number;
}

const REQUEST_TABLE = 'online_log_requests';
const ROW_TABLE = 'online_log_rows';
const REQUEST_COLUMNS = 'seq INTEGER, request_id VARCHAR, scored_at VARCHAR, first_row DOUBLE, request_rows INTEGER';

function tableShape(card: ModelCard): TableShape {
  // label: index into the card's classes, -1 for none; flag: FLAG_NAMES' code.
  const names = ['seq', 'row_in_request', 'key', 'output', 'label', 'flag', 'has_contributions'];
  const types: DuckDBType[] = [INTEGER, INTEGER, VARCHAR, DOUBLE, INTEGER, UTINYINT, BOOLEAN];
  const featureAt = names.length;
  card.onnx.inputs.forEach((input, j) => {
    names.push(`feature_${j}`);
    types.push(input.type === 'string' ? VARCHAR : FLOAT);
  });
  const contributionsAt = names.length;
  (card.explanation?.columns ?? []).forEach((_, j) => {
    names.push(`contribution_${j}`);
    types.push(FLOAT);
  });
  return { names, types, featureAt, contributionsAt };
}

/** A numeric vector's own typed array: filled in place, then flushed to DuckDB in one copy. */
const itemsOf = <T>(vector: DuckDBVector) => (vector as unknown as { items: T }).items;

/** Fills `chunk` (rows `at`… of it) with `count` rows of `segment` from its row `from`. */
function fillRows(chunk: DuckDBDataChunk, shape: TableShape, seq: number, segment: Segment, from: number, count: number, at: number): void {
  const { batch } = segment;
  const column = (name: string) => chunk.getColumnVector(shape.names.indexOf(name));
  itemsOf<Int32Array>(column('seq')).fill(seq, at, at + count);
  const rowInRequest = itemsOf<Int32Array>(column('row_in_request'));
  const output = itemsOf<Float64Array>(column('output'));
  const label = itemsOf<Int32Array>(column('label'));
  const hasContributions = column('has_contributions');
  const key = column('key');
  for (let i = 0; i < count; i++) {
    const r = from + i;
    rowInRequest[at + i] = r;
    output[at + i] = batch.rawOutput(r);
    label[at + i] = batch.labelIndex(r);
    key.setItem(at + i, segment.keys[r] ?? null);
    hasContributions.setItem(at + i, batch.hasContributions);
  }
  itemsOf<Uint8Array>(column('flag')).set(batch.flagCodes.subarray(from, from + count), at);
  segment.features.forEach((values, j) => {
    const vector = chunk.getColumnVector(shape.featureAt + j);
    if (values instanceof Float32Array) itemsOf<Float32Array>(vector).set(values.subarray(from, from + count), at);
    else for (let i = 0; i < count; i++) vector.setItem(at + i, values[from + i] ?? null);
  });
  const contributions = batch.contributionsTensor();
  for (let j = 0; j < batch.width; j++) {
    const target = itemsOf<Float32Array>(chunk.getColumnVector(shape.contributionsAt + j));
    for (let i = 0; i < count; i++) target[at + i] = contributions ? contributions[(from + i) * batch.width + j]! : 0;
  }
}

/** DuckDB's vector size: one data chunk holds at most this many rows. */
const CHUNK_ROWS = 2048;

export class OnlinePredictionLog {
  /** Where the parts go: a folder, or an s3:// prefix. */
  readonly dir: string;
  private readonly key: string;
  private pending = new Map<string, Pending>();
  /** Rows in memory: waiting for a part, and in the part being written. */
  private buffered = 0;
  /** Rows waiting for a part. */
  private pendingRows = 0;
  private writingPart = false;
  private rowNumber = 0;
  private parts = 0;
  private writing: Promise<void> = Promise.resolve();
  private readonly shapes = new Map<string, TableShape>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  readonly stats = { written: 0, dropped: 0, parts: 0, failedWrites: 0 };
  private readonly flushRows: number;
  private readonly maxBufferedRows: number;

  constructor(
    private readonly store: ArtifactStore,
    private readonly duckdb: DuckDBInstance,
    model: string,
    readonly runId: string,
    options: OnlineLogOptions = {},
    private readonly onError: (err: Error) => void = () => undefined,
  ) {
    this.key = store.key(...layout.predictionRun(model, runId));
    this.dir = store.backend.url(this.key);
    this.flushRows = options.flushRows ?? 5000;
    this.maxBufferedRows = options.maxBufferedRows ?? 100_000;
    this.timer = setInterval(() => this.flushUnlessWriting(), options.flushIntervalMs ?? 1000);
    this.timer.unref();
  }

  get bufferedRows(): number {
    return this.buffered;
  }

  private shapeOf(card: ModelCard): TableShape {
    let shape = this.shapes.get(card.version);
    if (!shape) this.shapes.set(card.version, (shape = tableShape(card)));
    return shape;
  }

  /** `input`: the request's checked input (its columns and keys); `batch`: what the model answered. */
  append(card: ModelCard, requestId: string, scoredAt: Date, input: Pick<InputFeeds, 'features' | 'keys'>, batch: ScoredBatch): void {
    if (this.closed) return;
    const room = this.maxBufferedRows - this.buffered;
    if (room < batch.rows) this.stats.dropped += batch.rows - Math.max(room, 0);
    const rows = Math.min(batch.rows, Math.max(room, 0));
    if (rows === 0) return;
    let entry = this.pending.get(card.version);
    if (!entry) this.pending.set(card.version, (entry = { card, rows: 0, segments: [] }));
    entry.segments.push({
      requestId,
      scoredAt: scoredAt.toISOString(),
      rows,
      requestRows: batch.rows,
      firstRow: this.rowNumber,
      features: input.features,
      keys: input.keys,
      batch,
    });
    this.rowNumber += rows;
    entry.rows += rows;
    this.pendingRows += rows;
    this.buffered += rows;
    if (this.pendingRows >= this.flushRows) this.flushUnlessWriting();
  }

  /** A part being written takes what waits when it is done (see flush). */
  private flushUnlessWriting(): void {
    if (!this.writingPart) void this.flush();
  }

  /** Writes everything waiting now (one part per model version); resolves when it is on disk. */
  flush(): Promise<void> {
    const batch = [...this.pending.values()];
    if (batch.length === 0) return this.writing;
    this.pending = new Map();
    this.pendingRows = 0;
    this.writingPart = true;
    this.writing = this.writing.then(async () => {
      for (const entry of batch) {
        try {
          await this.writePart(entry);
          this.stats.written += entry.rows;
        } catch (err) {
          // The server keeps answering; the lost rows are counted and the cause reported.
          this.stats.failedWrites++;
          this.stats.dropped += entry.rows;
          this.onError(err as Error);
        } finally {
          this.buffered -= entry.rows;
        }
      }
      this.writingPart = false;
      // What arrived during a slow write goes out now, not at the next tick.
      if (this.pendingRows >= this.flushRows) void this.flush();
    });
    return this.writing;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
    this.closed = true;
  }

  private async writePart({ card, rows, segments }: Pending): Promise<void> {
    const name = `part-${String(this.parts++).padStart(5, '0')}.parquet`;
    const shape = this.shapeOf(card);
    // Temporary tables live in their connection only: no name clash with another part or server.
    const conn = await this.duckdb.connect();
    try {
      await conn.run(`CREATE TEMP TABLE ${REQUEST_TABLE} (${REQUEST_COLUMNS})`);
      await conn.run(`CREATE TEMP TABLE ${ROW_TABLE} (${shape.names.map((n, j) => `${n} ${shape.types[j]!.toString()}`).join(', ')})`);
      const requests = await conn.createAppender(REQUEST_TABLE);
      try {
        segments.forEach((s, seq) => {
          requests.appendInteger(seq);
          requests.appendVarchar(s.requestId);
          requests.appendVarchar(s.scoredAt);
          requests.appendDouble(s.firstRow);
          requests.appendInteger(s.requestRows);
          requests.endRow();
        });
      } finally {
        requests.closeSync();
      }
      const appender = await conn.createAppender(ROW_TABLE);
      try {
        let seq = 0;
        let from = 0; // the next row of segments[seq] to append
        for (let start = 0; start < rows; start += CHUNK_ROWS) {
          const n = Math.min(CHUNK_ROWS, rows - start);
          const chunk = DuckDBDataChunk.create(shape.types, n);
          for (let at = 0; at < n;) {
            const segment = segments[seq]!;
            const count = Math.min(segment.rows - from, n - at);
            fillRows(chunk, shape, seq, segment, from, count, at);
            at += count;
            from += count;
            if (from === segment.rows) {
              seq++;
              from = 0;
            }
          }
          for (let c = 0; c < shape.names.length; c++) chunk.getColumnVector(c).flush();
          appender.appendDataChunk(chunk);
        }
      } finally {
        appender.closeSync(); // flushes
      }
      await this.store.backend.writeWhole(joinKey(this.key, name), async (target) => {
        await conn.run(`COPY (${logSelect(card, this.runId, shape)}) TO ${quoteString(target)} (FORMAT parquet, COMPRESSION zstd)`);
      });
      this.stats.parts++;
    } finally {
      conn.closeSync();
    }
  }
}

/**
 * The log's columns (scoring/log-columns.ts) from the temporary table, then `request_id`: the
 * table carries what varies per prediction, the card and the run the rest.
 */
function logSelect(card: ModelCard, runId: string, shape: TableShape): string {
  const columns = [...predictionLogColumns(card), { name: 'request_id', type: 'VARCHAR' }];
  const struct = (names: readonly string[], at: number, value: (column: string) => string) =>
    `{${names.map((n, j) => `${quoteString(n)}: ${value(shape.names[at + j]!)}`).join(', ')}}`;
  // A missing number waits as NaN in its float32 column (as fed to the model); the log has NULL.
  const feature = (column: string, j: number) => (card.onnx.inputs[j]!.type === 'string' ? column : `CASE WHEN isnan(${column}) THEN NULL ELSE ${column} END`);
  const flagNames = FLAG_NAMES.map((name, code) => (name === null ? '' : `WHEN ${code} THEN ${quoteString(name)} `)).join('');
  const classes = `[${card.classes.map(quoteString).join(', ')}]::VARCHAR[]`;
  const expressions: LogExpressions = {
    model: quoteString(card.model),
    model_version: quoteString(card.version),
    run_id: quoteString(runId),
    dataset: quoteString(card.dataset.name),
    dataset_version: quoteString(ONLINE_DATASET_VERSION),
    row_number: 'q.first_row + r.row_in_request',
    // The row's key columns; else the request id, and the row's index when the request has many.
    key: "coalesce(r.key, CASE WHEN q.request_rows = 1 THEN q.request_id ELSE q.request_id || '/' || r.row_in_request END)",
    // An ISO time with its Z, as read_json took it before: UTC, kept as a plain TIMESTAMP.
    scored_at: 'q.scored_at',
    output: 'CASE WHEN isfinite(r.output) THEN r.output END',
    predicted_label: card.classes.length ? `CASE WHEN r.label >= 0 THEN (${classes})[r.label + 1] END` : 'NULL',
    flag: flagNames ? `CASE r.flag ${flagNames}END` : 'NULL',
    request_id: 'q.request_id',
    features: `{${card.onnx.inputs.map((input, j) => `${quoteString(input.name)}: ${feature(`r.${shape.names[shape.featureAt + j]}`, j)}`).join(', ')}}`,
  };
  if (card.explanation) {
    expressions.contributions = `CASE WHEN r.has_contributions THEN ${struct(card.explanation.columns, shape.contributionsAt, (c) => `r.${c}`)} END`;
  }
  return `SELECT ${logSelectList(columns, expressions)} FROM ${ROW_TABLE} r JOIN ${REQUEST_TABLE} q USING (seq) ORDER BY q.seq, r.row_in_request`;
}
