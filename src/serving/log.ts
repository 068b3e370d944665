import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ModelCard } from '../models/card';
import { type ParquetColumnValues, ParquetFileWriter } from '../parquet/writer';
import { predictionLogFields } from '../scoring/log-writer';
import { LOG_FLAG_NAMES } from '../scoring/score';
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
 * output tensors, no value copied per row — and are written in the background: the waiting
 * requests' typed arrays are concatenated column by column and written as Parquet by the batch
 * log's writer (src/parquet/writer.ts, the same fields: scoring/log-writer.ts), request ids as
 * the part's dictionary. Until 2026-12-08 the rows went through a DuckDB appender and a COPY;
 * at 64-row requests that cost the server a third of its throughput (bench/README.md).
 *
 * A part is written every `flushIntervalMs`, or as soon as `flushRows` are waiting; one part is
 * written at a time, and rows that arrive meanwhile go into the next part (not one tiny part per
 * request while a write is slow). A crash loses what waits (at most one interval of traffic, and
 * never more than `maxBufferedRows`); a part appears whole (renamed into place on a local store,
 * one upload of a finished local file on S3), so none is ever half-written.
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
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  readonly stats = { written: 0, dropped: 0, parts: 0, failedWrites: 0 };
  private readonly flushRows: number;
  private readonly maxBufferedRows: number;

  constructor(
    private readonly store: ArtifactStore,
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
    const key = joinKey(this.key, name);
    const write = (file: string) => writeOnlinePart(file, card, this.runId, segments, rows);
    if (this.store.backend.kind === 'local') {
      await this.store.backend.writeWhole(key, async (tmp) => write(tmp));
    } else {
      // Written locally, then one upload: a reader of the bucket never sees part of a part.
      const dir = await this.store.makeTempDir('online-log');
      try {
        write(path.join(dir, name));
        await this.store.backend.putFile(key, path.join(dir, name));
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    }
    this.stats.parts++;
  }
}

/**
 * One part: the waiting requests' rows, each column concatenated over the requests (one page per
 * column, not one per request), in the batch log's columns (predictionLogFields) and then
 * request_id, the part's request ids as its dictionary.
 */
function writeOnlinePart(file: string, card: ModelCard, runId: string, segments: readonly Segment[], rows: number): void {
  const fields = [
    ...predictionLogFields(
      card,
      { model: card.model, modelVersion: card.version, runId, dataset: card.dataset.name, datasetVersion: ONLINE_DATASET_VERSION },
      { scoredAt: 'per row', flagNames: LOG_FLAG_NAMES, nullForNonFiniteOutput: true },
    ),
    { name: 'request_id', type: 'STRING' as const, dictionary: segments.map((s) => s.requestId) },
  ];
  const rowNumbers = new Float64Array(rows);
  const keys: string[] = [];
  const scoredAt = new Float64Array(rows);
  const output = new Float64Array(rows);
  const labels = new Int32Array(rows);
  const flags = new Int32Array(rows);
  const requests = new Int32Array(rows);
  const features = card.onnx.inputs.map((input) => (input.type === 'string' ? ([] as Array<string | null>) : new Float32Array(rows)));
  const width = card.explanation?.columns.length ?? 0;
  const contributions = Array.from({ length: width }, () => new Float32Array(rows));
  const noContributions = new Uint8Array(rows);
  let at = 0;
  segments.forEach((segment, s) => {
    const { batch, rows: n } = segment;
    const micros = Date.parse(segment.scoredAt) * 1000;
    for (let r = 0; r < n; r++) {
      const i = at + r;
      rowNumbers[i] = segment.firstRow + r;
      // The row's key columns; else the request id, and the row's index when the request has many.
      keys.push(segment.keys[r] ?? (segment.requestRows === 1 ? segment.requestId : `${segment.requestId}/${r}`));
      scoredAt[i] = micros;
      const value = batch.rawOutput(r);
      output[i] = Number.isFinite(value) ? value : NaN;
      labels[i] = batch.labelIndex(r);
      flags[i] = batch.flagCodes[r]! - 1; // 0 (no flag) becomes −1: NULL
      requests[i] = s;
    }
    segment.features.forEach((values, j) => {
      const target = features[j]!;
      if (target instanceof Float32Array) target.set((values as Float32Array).subarray(0, n), at);
      else for (let r = 0; r < n; r++) target.push((values as Array<string | null>)[r] ?? null);
    });
    const tensor = batch.contributionsTensor();
    if (tensor) for (let r = 0; r < n; r++) for (let j = 0; j < width; j++) contributions[j]![at + r] = tensor[r * width + j]!;
    else noContributions.fill(1, at, at + n);
    at += n;
  });
  const anyWithout = noContributions.includes(1);
  const columns: ParquetColumnValues[] = [
    int64s(rowNumbers),
    keys,
    ...features,
    { repeat: 0 },
    { repeat: 0 },
    { repeat: 0 },
    { repeat: 0 },
    { repeat: 0 },
    int64s(scoredAt),
    output,
    card.classes.length === 0 ? new Array<null>(rows).fill(null) : { indices: labels },
    { indices: flags },
    // A request answered without contributions has a NULL struct, not zeros.
    ...contributions.map((values) => (anyWithout ? { values, groupNull: noContributions } : values)),
    { indices: requests },
  ];
  const writer = new ParquetFileWriter(file, fields);
  try {
    writer.write(columns, rows);
    writer.close();
  } catch (err) {
    writer.discard();
    throw err;
  }
}

/** Safe integers as INT64 values. */
function int64s(values: Float64Array): BigInt64Array {
  const out = new BigInt64Array(values.length);
  const words = new Int32Array(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    words[2 * i] = (v % 2 ** 32) | 0;
    words[2 * i + 1] = Math.floor(v / 2 ** 32);
  }
  return out;
}
