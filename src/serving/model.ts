import * as ort from 'onnxruntime-node';
import type { InferenceSession } from 'onnxruntime-node';
import { type ModelSession, ThreadSession } from './thread-session';
import { acceptableRange } from '../scoring/range';
import type { Contract } from '../contract/schema';
import type { DatasetManifest } from '../datasets/manifest';
import { userError } from '../errors';
import { outputValues } from '../metrics';
import type { ModelCard, ModelVersionSummary } from '../models/card';
import { readModelCard } from '../models/cards';
import { openVerifiedModel, readVerifiedModel } from '../models/files';
import type { ScoreRun } from '../scoring/runs';
import type { ArtifactStore } from '../store/artifact-store';
import { compileInputValidator, type InputFeeds, type InputOptions, type InputValidator, type PredictionInput } from './input';
import { type Inferred, ScoredBatch } from './scored';

export type { RowPrediction } from './scored';

/** Requests this small wait for the turn's other small ones; a batch holds at most this many rows. */
const MICRO_BATCH_ROWS = 64;

interface QueuedRun {
  input: InputFeeds;
  resolve: (out: Inferred) => void;
  reject: (err: Error) => void;
}

/** The requests' feeds, rows one after another: [sum of rows, 1] per input. */
function concatFeeds(inputs: readonly InputFeeds[]): InputFeeds['feeds'] {
  const rows = inputs.reduce((n, i) => n + i.rows, 0);
  const feeds: InputFeeds['feeds'] = {};
  for (const name of Object.keys(inputs[0]!.feeds)) {
    if (inputs[0]!.feeds[name]!.type === 'string') {
      feeds[name] = new ort.Tensor(
        'string',
        inputs.flatMap((i) => i.feeds[name]!.data as string[]),
        [rows, 1],
      );
    } else {
      const data = new Float32Array(rows);
      let at = 0;
      for (const i of inputs) {
        data.set(i.feeds[name]!.data as Float32Array, at);
        at += i.rows;
      }
      feeds[name] = new ort.Tensor('float32', data, [rows, 1]);
    }
  }
  return feeds;
}

export interface RangeOptions {
  range?: { min: number; max: number };
  rangeMargin?: number;
}

export interface SessionPlacement {
  /** ONNX Runtime on a thread of its own (default), or on the event loop (false). */
  inferenceThread?: boolean;
}

/**
 * ONNX Runtime settings for a model server: inference on the calling thread only. By default ORT
 * starts an intra-op pool of one thread per core whose threads spin after each run waiting for
 * more work; on a server whose event loop (HTTP, JSON, the log) and neighbours need those same
 * cores, the spinning steals them, and a run that waits for a descheduled pool thread stalls for
 * milliseconds. Measured on the bench model (100 trees, 2 shared cores, bench/README.md): the bare
 * loop's p99 went from 8-13 ms to 0.2-1 ms and its throughput up 2-4x at 1 and at 64 rows.
 */
export const SERVING_SESSION_OPTIONS: InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  // Keys of onnxruntime_session_options_config_keys.h; moot with one thread, explicit for a
  // caller who raises intraOpNumThreads.
  extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
};

/**
 * A model version ready to serve: its file checked against the registry's sha256 and loaded, its
 * card read, its input checks compiled. Counts the requests using it, so that after a swap the
 * old session is released only when the last of them is done.
 */
export class LoadedModel {
  private inflight = 0;
  private queue: QueuedRun[] = [];
  private queuedRows = 0;
  private retired = false;
  private readonly outputName: 'prediction' | 'probabilities';
  private readonly fetches: string[];

  private constructor(
    readonly summary: ModelVersionSummary,
    readonly card: ModelCard,
    readonly range: ScoreRun['range'],
    private readonly session: ModelSession,
    private readonly validator: InputValidator,
    readonly datasetName: string,
    /** The training dataset's contract (types, keys), when retention has not deleted its manifest. */
    readonly contract: Contract | undefined,
  ) {
    this.outputName = card.task === 'regression' ? 'prediction' : 'probabilities';
    this.fetches = card.explanation ? [this.outputName, card.explanation.output] : [this.outputName];
  }

  static async load(store: ArtifactStore, summary: ModelVersionSummary, options: RangeOptions & InputOptions & SessionPlacement = {}): Promise<LoadedModel> {
    const session: ModelSession =
      options.inferenceThread === false
        ? await openVerifiedModel(store, summary, SERVING_SESSION_OPTIONS)
        : await ThreadSession.start(await readVerifiedModel(store, summary), SERVING_SESSION_OPTIONS, `${summary.model}@${summary.version}`);
    try {
      const card = await readModelCard(store, summary);
      if (card.onnx.sha256 !== summary.onnxSha256)
        throw userError('ModelLoadError', `Model ${summary.model}@${summary.version}: its card names another ONNX file than the registry`);
      // The training dataset's contract says types, nullability and keys; without it (deleted by
      // retention) the card's features alone are checked.
      const manifest = await store.readJson<DatasetManifest>(card.dataset.manifestUri).catch(() => undefined);
      const range = acceptableRange(card, { range: options.range, rangeMargin: options.rangeMargin ?? 0.1 });
      return new LoadedModel(summary, card, range, session, compileInputValidator(card, manifest?.contract, options), card.dataset.name, manifest?.contract);
    } catch (err) {
      await session.release().catch(() => undefined);
      throw err;
    }
  }

  get version(): string {
    return this.summary.version;
  }

  /** Validates (throws PredictionInputError) without touching the session. */
  parse(input: PredictionInput): InputFeeds {
    return this.validator.parse(input);
  }

  /** Runs parsed rows through the model; `keyOf(i)` names rows that have no key columns. */
  async run(input: InputFeeds, keyOf: (row: number) => string): Promise<ScoredBatch> {
    this.inflight++;
    try {
      const inferred = await this.infer(input);
      const keys = Array.from({ length: input.rows }, (_, r) => input.keys[r] ?? keyOf(r));
      return new ScoredBatch(this.card, input.rows, keys, inferred, this.range);
    } finally {
      this.inflight--;
      if (this.retired && this.inflight === 0) void this.session.release().catch(() => undefined);
    }
  }

  /**
   * Micro-batching: small requests parsed in the same turn of the event loop share one
   * session.run (their rows concatenated), started by setImmediate once that turn's I/O is done,
   * so no request waits on a timer. One run per request at 1 row spent ~28% of the event loop
   * in ONNX Runtime's fixed per-call cost at 16 requests in flight (bench/README.md). Rows are
   * independent in every model we export, so a row gets the same outputs alone or in a batch;
   * should a shared run fail, each request is run alone so only its own failure reaches it.
   */
  private infer(input: InputFeeds): Promise<Inferred> {
    if (input.rows >= MICRO_BATCH_ROWS) return this.runFeeds(input.feeds).then((out) => ({ ...out, offset: 0 }));
    return new Promise<Inferred>((resolve, reject) => {
      if (this.queuedRows + input.rows > MICRO_BATCH_ROWS) this.runQueued();
      this.queue.push({ input, resolve, reject });
      this.queuedRows += input.rows;
      if (this.queue.length === 1) setImmediate(() => this.runQueued());
    });
  }

  private runQueued(): void {
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    this.queuedRows = 0;
    const alone = (q: QueuedRun) =>
      this.runFeeds(q.input.feeds).then(
        (out) => q.resolve({ ...out, offset: 0 }),
        (err: Error) => q.reject(err),
      );
    if (batch.length === 1) return void alone(batch[0]!);
    this.runFeeds(concatFeeds(batch.map((q) => q.input))).then(
      (out) => {
        let offset = 0;
        for (const q of batch) {
          q.resolve({ ...out, offset });
          offset += q.input.rows;
        }
      },
      () => batch.forEach(alone),
    );
  }

  private async runFeeds(feeds: InputFeeds['feeds']): Promise<Omit<Inferred, 'offset'>> {
    const out = await this.session.run(feeds, this.fetches);
    const { card } = this;
    const raw = out[this.outputName]?.data as Float32Array | undefined;
    if (!raw) throw userError('ModelLoadError', `Model ${card.model}@${card.version} has no ${this.outputName} output`);
    return {
      raw,
      values: outputValues(card.task, raw, Math.max(card.classes.length, 1)),
      contributions: card.explanation ? (out[card.explanation.output]!.data as Float32Array) : undefined,
    };
  }

  /** No new requests will come; the session goes once the running ones are done. */
  retire(): void {
    this.retired = true;
    if (this.inflight === 0) void this.session.release().catch(() => undefined);
  }
}
