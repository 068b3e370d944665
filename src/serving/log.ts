import { BOOLEAN, DOUBLE, DuckDBDataChunk, type DuckDBInstance, type DuckDBType, type DuckDBValue, FLOAT, VARCHAR } from '@duckdb/node-api';
import type { ModelCard } from '../models/card';
import { type LogExpressions, logSelectList, predictionLogColumns } from '../scoring/log-columns';
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
 * Rows wait in memory column by column (plain arrays, no object per row) and are written in the
 * background through a DuckDB appender into a temporary table, then COPY'd to Parquet: no JSON
 * text on the way, which at 64-row requests cost the event loop ~22 µs a row and let the log fall
 * behind and drop rows under load (bench/README.md). Every `flushIntervalMs`, or as soon as
 * `flushRows` are waiting; one part is written at a time, and rows that arrive meanwhile go into
 * the next part (not one tiny part per request while a write is slow). A crash loses what waits (at most one interval of traffic, and never
 * more than `maxBufferedRows`); a part appears whole (renamed into place on a local store, one upload
on S3: see StoreBackend.writeWhole), so none is ever half-written.
 * When writes fall behind and `maxBufferedRows` wait, further rows are dropped and counted
 * (mlops_serve_log_dropped_rows_total) rather than growing memory without bound.
 */
export interface OnlineLogOptions {
  flushRows?: number;
  flushIntervalMs?: number;
  maxBufferedRows?: number;
}

export const ONLINE_DATASET_VERSION = 'online';

/** One model version's waiting rows, a plain array per column of the temporary table. */
interface Pending {
  card: ModelCard;
  rows: number;
  columns: DuckDBValue[][];
}

/**
 * The temporary table a part is appended to: what varies per row, flat (the features and
 * contributions one column each, named by position so any feature name is safe), with the
 * expressions that rebuild the log's columns from it (see logSelect).
 */
interface TableShape {
  names: string[];
  types: DuckDBType[];
  /** Column index of each log value. */
  featureAt: number;
  contributionsAt: number;
}

function tableShape(card: ModelCard): TableShape {
  const names = ['row_number', 'key', 'scored_at', 'output', 'predicted_label', 'flag', 'request_id', 'has_contributions'];
  const types: DuckDBType[] = [DOUBLE, VARCHAR, VARCHAR, DOUBLE, VARCHAR, VARCHAR, VARCHAR, BOOLEAN];
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

  /** `features`: the request's input columns as InputFeeds carries them (card.onnx.inputs order). */
  append(card: ModelCard, requestId: string, scoredAt: Date, features: InputFeeds['features'], batch: ScoredBatch): void {
    if (this.closed) return;
    const shape = this.shapeOf(card);
    let entry = this.pending.get(card.version);
    if (!entry) this.pending.set(card.version, (entry = { card, rows: 0, columns: shape.names.map(() => []) }));
    const at = scoredAt.toISOString();
    const c = entry.columns;
    const inputs = card.onnx.inputs;
    const explained = card.explanation?.columns ?? [];
    const explainedHere = batch.hasContributions;
    for (let i = 0; i < batch.rows; i++) {
      if (this.buffered >= this.maxBufferedRows) {
        this.stats.dropped++;
        continue;
      }
      c[0]!.push(this.rowNumber++);
      c[1]!.push(batch.keys[i]!);
      c[2]!.push(at);
      c[3]!.push(batch.output(i));
      c[4]!.push(batch.predictedLabel(i));
      c[5]!.push(batch.flag(i));
      c[6]!.push(requestId);
      c[7]!.push(explainedHere);
      for (let j = 0; j < inputs.length; j++) {
        const v = features[j]![i];
        c[shape.featureAt + j]!.push(v === undefined || (typeof v === 'number' && Number.isNaN(v)) ? null : v);
      }
      for (let j = 0; j < explained.length; j++) c[shape.contributionsAt + j]!.push(batch.contribution(i, j) ?? null);
      entry.rows++;
      this.pendingRows++;
      this.buffered++;
    }
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

  private async writePart({ card, rows, columns }: Pending): Promise<void> {
    const name = `part-${String(this.parts++).padStart(5, '0')}.parquet`;
    const shape = this.shapeOf(card);
    // A temporary table lives in its connection only: no name clash with another part or server.
    const table = 'online_log_part';
    const conn = await this.duckdb.connect();
    try {
      await conn.run(`CREATE TEMP TABLE ${table} (${shape.names.map((n, j) => `${n} ${shape.types[j]!.toString()}`).join(', ')})`);
      const appender = await conn.createAppender(table);
      try {
        for (let start = 0; start < rows; start += CHUNK_ROWS) {
          const n = Math.min(CHUNK_ROWS, rows - start);
          const chunk = DuckDBDataChunk.create(shape.types, n);
          chunk.setColumns(columns.map((values) => values.slice(start, start + n)));
          appender.appendDataChunk(chunk);
        }
      } finally {
        appender.closeSync(); // flushes
      }
      await this.store.backend.writeWhole(joinKey(this.key, name), async (target) => {
        await conn.run(`COPY (${logSelect(card, this.runId, shape, table)}) TO ${quoteString(target)} (FORMAT parquet, COMPRESSION zstd)`);
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
function logSelect(card: ModelCard, runId: string, shape: TableShape, table: string): string {
  const columns = [...predictionLogColumns(card), { name: 'request_id', type: 'VARCHAR' }];
  const struct = (names: readonly string[], at: number) => `{${names.map((n, j) => `${quoteString(n)}: ${shape.names[at + j]}`).join(', ')}}`;
  const expressions: LogExpressions = {
    model: quoteString(card.model),
    model_version: quoteString(card.version),
    run_id: quoteString(runId),
    dataset: quoteString(card.dataset.name),
    dataset_version: quoteString(ONLINE_DATASET_VERSION),
    row_number: 'row_number',
    key: 'key',
    // An ISO time with its Z, as read_json took it before: UTC, kept as a plain TIMESTAMP.
    scored_at: 'scored_at',
    output: 'output',
    predicted_label: 'predicted_label',
    flag: 'flag',
    request_id: 'request_id',
    features: struct(
      card.onnx.inputs.map((i) => i.name),
      shape.featureAt,
    ),
  };
  if (card.explanation) expressions.contributions = `CASE WHEN has_contributions THEN ${struct(card.explanation.columns, shape.contributionsAt)} END`;
  // DuckDB keeps insertion order (preserve_insertion_order), so the part is in row_number order.
  return `SELECT ${logSelectList(columns, expressions)} FROM ${table}`;
}
