import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { DuckDBInstance } from '@duckdb/node-api';
import type { ModelCard } from '../models/card';
import { type LogExpressions, logSelectList, predictionLogColumns } from '../scoring/log-columns';
import { quoteIdent, quoteString } from '../sql/quote';
import type { ArtifactStore } from '../store/artifact-store';
import { joinKey } from '../store/backend';
import { layout } from '../store/layout';
import type { RowPrediction } from './model';

/**
 * The online prediction log: the batch log's columns (see scoring/score.ts) plus `request_id`,
 * as Parquet part files under predictions/<model>/<runId>/, so monitoring, live metrics and
 * `mlops sql` read online traffic with the same globs as batch runs. `dataset` is the model's
 * training dataset (labels of that dataset join by key); `dataset_version` is "online".
 *
 * Rows wait in memory and are written in the background: every `flushIntervalMs`, or as soon as
 * `flushRows` are waiting. A crash loses what waits (at most one interval of traffic, and never
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

interface Pending {
  card: ModelCard;
  rows: Array<Record<string, unknown>>;
}

export class OnlinePredictionLog {
  /** Where the parts go: a folder, or an s3:// prefix. */
  readonly dir: string;
  private readonly key: string;
  private pending = new Map<string, Pending>();
  private buffered = 0;
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
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 1000);
    this.timer.unref();
  }

  get bufferedRows(): number {
    return this.buffered;
  }

  append(card: ModelCard, requestId: string, scoredAt: Date, features: ReadonlyArray<Record<string, unknown>>, predictions: readonly RowPrediction[]): void {
    if (this.closed) return;
    let entry = this.pending.get(card.version);
    if (!entry) this.pending.set(card.version, (entry = { card, rows: [] }));
    const at = scoredAt.toISOString();
    predictions.forEach((p, i) => {
      if (this.buffered >= this.maxBufferedRows) {
        this.stats.dropped++;
        return;
      }
      entry!.rows.push({
        row_number: this.rowNumber++,
        key: p.key,
        features: features[i],
        scored_at: at,
        output: p.output,
        predicted_label: p.predictedLabel,
        flag: p.flag,
        contributions: p.contributions ?? null,
        request_id: requestId,
      });
      this.buffered++;
    });
    if (this.buffered >= this.flushRows) void this.flush();
  }

  /** Writes everything waiting now (one part per model version); resolves when it is on disk. */
  flush(): Promise<void> {
    const batch = [...this.pending.values()];
    if (batch.length === 0) return this.writing;
    this.pending = new Map();
    this.writing = this.writing.then(async () => {
      for (const entry of batch) {
        try {
          await this.writePart(entry);
          this.stats.written += entry.rows.length;
        } catch (err) {
          // The server keeps answering; the lost rows are counted and the cause reported.
          this.stats.failedWrites++;
          this.stats.dropped += entry.rows.length;
          this.onError(err as Error);
        } finally {
          this.buffered -= entry.rows.length;
        }
      }
    });
    return this.writing;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
    this.closed = true;
  }

  private async writePart({ card, rows }: Pending): Promise<void> {
    const name = `part-${String(this.parts++).padStart(5, '0')}.parquet`;
    // The rows go to DuckDB as NDJSON in this process's scratch, never in the store.
    const json = path.join(this.store.tmpDir(), `online-log-${process.pid}-${randomBytes(4).toString('hex')}.json`);
    try {
      await fs.mkdir(path.dirname(json), { recursive: true });
      await fs.writeFile(json, rows.map((r) => JSON.stringify(r)).join('\n'));
      await this.store.backend.writeWhole(joinKey(this.key, name), async (target) => {
        const conn = await this.duckdb.connect();
        try {
          await conn.run(`COPY (${logSelect(card, this.runId, json)}) TO ${quoteString(target)} (FORMAT parquet, COMPRESSION zstd)`);
        } finally {
          conn.closeSync();
        }
      });
      this.stats.parts++;
    } finally {
      await fs.rm(json, { force: true });
    }
  }
}

/**
 * The log's columns (scoring/log-columns.ts) from the NDJSON rows, then `request_id`: the rows
 * carry what varies per prediction, the card and the run the rest.
 */
function logSelect(card: ModelCard, runId: string, json: string): string {
  const columns = [...predictionLogColumns(card), { name: 'request_id', type: 'VARCHAR' }];
  const constants: LogExpressions = {
    model: quoteString(card.model),
    model_version: quoteString(card.version),
    run_id: quoteString(runId),
    dataset: quoteString(card.dataset.name),
    dataset_version: quoteString(ONLINE_DATASET_VERSION),
  };
  const fromRows = columns.filter((c) => !(c.name in constants));
  const spec = `{${fromRows.map((c) => `${quoteString(c.name)}: ${quoteString(c.type)}`).join(', ')}}`;
  const expressions = { ...constants, ...Object.fromEntries(fromRows.map((c) => [c.name, quoteIdent(c.name)])) };
  return `SELECT ${logSelectList(columns, expressions)} FROM read_json(${quoteString(json)}, format = 'newline_delimited', columns = ${spec})`;
}
