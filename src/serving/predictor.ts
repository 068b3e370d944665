import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import { registryState } from '../client/train';
import type { Contract } from '../contract/schema';
import type { ModelCard } from '../models/card';
import type { ArtifactStore } from '../store/artifact-store';
import { registryStateQuery, registryWorkflowId, type RegistryState } from '../api/registry';
import { FlagWindow, raiseServingAlert } from './alerts';
import type { InputOptions, PredictionInput } from './input';
import { OnlinePredictionLog, type OnlineLogOptions } from './log';
import { LoadedModel, type RangeOptions, type SessionPlacement } from './model';
import type { RowPrediction, ScoredBatch } from './scored';
import { PromotionTraffic, type PromotionTrafficEvent, type PromotionTrafficStatus } from './promotion-traffic';
import { ONLINE_RUN_PREFIX } from '../scoring/runs';

/**
 * Online predictions for applications: the production version of one model, followed through the
 * registry, with the batch path's input columns, range checks, contributions and prediction log.
 * `mlops serve` is a thin HTTP layer over this; a Node application can embed it directly.
 *
 * How it learns of a promotion or rollback: it queries the registry workflow every
 * `pollIntervalMs` (and whenever `refresh()` is called, the hook for a push). Polling, because the
 * registry is the one source of truth and any number of servers, started or restarted at any
 * time, converge on it without registering anywhere; a missed push would leave a server stale
 * forever, a missed poll only until the next one. A query costs the registry no history events.
 */
export interface PredictorOptions extends RangeOptions, InputOptions, SessionPlacement {
  model: string;
  store: ArtifactStore;
  /** Where the registry is read and alerts are raised. */
  client: Client;
  /** Task queue of the workers that run alert workflows. */
  taskQueue: string;
  pollIntervalMs?: number;
  /** false: no prediction log (benchmarks of the bare path). */
  log?: false | OnlineLogOptions;
  alerts?: false | { windowRows?: number; minRows?: number; maxFlaggedShare?: number; acknowledgeTimeout?: string };
  /** Names this server's log folder (online-<time>-<id>) and its live-traffic files. */
  serverId?: string;
  /**
   * Shadow and canary during promotions (promotion-traffic.ts); false: production answers
   * everything and nothing is shadowed.
   */
  promotions?: false | { reportIntervalMs?: number; shadowQueue?: number };
  /** Swaps, failed loads, alerts, log write failures: for the server's log. */
  onEvent?: (event: PredictorEvent) => void;
}

export type PredictorEvent =
  | { kind: 'swapped'; from: string | null; to: string }
  | { kind: 'load-failed'; version: string; message: string }
  | { kind: 'registry-unreachable'; message: string }
  | { kind: 'alert'; runId: string; reason: string }
  | { kind: 'alert-failed'; message: string }
  | { kind: 'log-failed'; message: string }
  | PromotionTrafficEvent;

export interface PredictResponse {
  requestId: string;
  model: string;
  modelVersion: string;
  predictions: RowPrediction[];
}

/** The same answer as columns over the model's outputs, with no object per row. */
export interface BatchPredictResponse {
  requestId: string;
  model: string;
  modelVersion: string;
  batch: ScoredBatch;
}

export interface PredictOptions {
  requestId?: string;
  /** Picks the canary side (default: the first row's key columns, else the request id). */
  routingKey?: string;
  /** Only this version may answer (the production serving now; no canary): a VersionNotServed error otherwise. */
  version?: string;
}

/** The HTTP status each serving error answers with, on both protocols. */
const SERVING_ERROR_STATUS = { NotReady: 503, VersionNotServed: 404 } as const;
type ServingErrorType = keyof typeof SERVING_ERROR_STATUS;

/**
 * A request the server cannot answer as it stands, said with the HTTP status that fits: no
 * verified production version to serve yet (NotReady, 503), or a version named that does not
 * serve here now (VersionNotServed, 404).
 */
export class ServingError extends Error {
  constructor(
    readonly type: ServingErrorType,
    message: string,
  ) {
    super(message);
    this.name = `${type}Error`;
  }

  get status(): (typeof SERVING_ERROR_STATUS)[ServingErrorType] {
    return SERVING_ERROR_STATUS[this.type];
  }
}

export const notReady = (message: string) => new ServingError('NotReady', message);
export const versionNotServed = (message: string) => new ServingError('VersionNotServed', message);

export interface PredictorStatus {
  model: string;
  /** Serving a production version whose file matched the registry's sha256 and loaded. */
  ready: boolean;
  version: string | null;
  /** What the registry names as production now (differs from `version` while a new one loads, or when it failed to). */
  registryProduction: string | null;
  lastRegistryCheck: string | null;
  /** The last version that failed to load, and why: the old one keeps serving meanwhile. */
  failedVersion?: { version: string; message: string; at: string };
  loadFailures: number;
  flaggedShare: number;
  alerting: boolean;
  log?: { dir: string; written: number; dropped: number; buffered: number; parts: number };
  /** The promotion this server shadows or canaries for, if one runs. */
  promotion?: PromotionTrafficStatus;
}

export interface Predictor {
  /** Rows as JSON objects of feature columns, answered row by row. */
  predict(rows: readonly unknown[], options?: PredictOptions): Promise<PredictResponse>;
  /** Rows or columns (the Open Inference Protocol's tensors), answered as columns: the same checks, model, flags and log. */
  predictBatch(input: PredictionInput, options?: PredictOptions): Promise<BatchPredictResponse>;
  status(): PredictorStatus;
  /** The card and training contract of the version serving now (undefined before one loaded). */
  serving(): { card: ModelCard; contract: Contract | undefined } | undefined;
  /** Checks the registry now and swaps if production moved; resolves when done (or failed). */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

function compactTime(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

export async function createPredictor(options: PredictorOptions): Promise<Predictor> {
  const { model, store, client } = options;
  const emit = options.onEvent ?? (() => undefined);
  // Fails with "no model named …" (and the names that exist) for a model without a registry.
  let registry: RegistryState | undefined = await registryState(client, model);
  let current: LoadedModel | undefined;
  let lastCheck: Date | undefined;
  let production: string | null = null;
  let failed: PredictorStatus['failedVersion'];
  let loadFailures = 0;
  let closed = false;
  const alertedVersions = new Set<string>();

  const alerts = options.alerts === false ? undefined : (options.alerts ?? {});
  const window = new FlagWindow(alerts?.windowRows ?? 1000, alerts?.minRows ?? 100, alerts?.maxFlaggedShare ?? 0.01);
  const raise = (kind: 'flagged-share' | 'model-load', version: string, alert: string) => {
    if (!alerts) return;
    raiseServingAlert(client, options.taskQueue, {
      kind,
      model,
      modelVersion: version,
      alert,
      ...(alerts.acknowledgeTimeout ? { acknowledgeTimeout: alerts.acknowledgeTimeout } : {}),
    })
      .then((runId) => emit({ kind: 'alert', runId, reason: alert }))
      .catch((err: Error) => emit({ kind: 'alert-failed', message: err.message }));
  };

  const serverId = options.serverId ?? randomUUID().slice(0, 8);
  const promotions =
    options.promotions === false
      ? undefined
      : new PromotionTraffic({ ...options, serverId: `${compactTime(new Date())}-${serverId}`, onEvent: emit, ...(options.promotions ?? {}) });

  let log: OnlinePredictionLog | undefined;
  if (options.log !== false) {
    const runId = `${ONLINE_RUN_PREFIX}${compactTime(new Date())}-${serverId}`;
    log = new OnlinePredictionLog(store, model, runId, options.log ?? {}, (err) => emit({ kind: 'log-failed', message: err.message }));
  }

  const swapTo = async (version: string) => {
    const summary = registry?.versions.find((v) => v.version === version);
    try {
      if (!summary) throw new Error(`the registry names ${version} as production but lists no such version`);
      const next = await LoadedModel.load(store, summary, options);
      if (closed) return next.retire();
      const previous = current;
      current = next; // one assignment: every request sees the old model or the new one, whole
      previous?.retire();
      failed = undefined;
      emit({ kind: 'swapped', from: previous?.version ?? null, to: version });
    } catch (err) {
      const message = (err as Error).message;
      loadFailures++;
      failed = { version, message, at: new Date().toISOString() };
      emit({ kind: 'load-failed', version, message });
      if (!alertedVersions.has(version)) {
        alertedVersions.add(version);
        raise(
          'model-load',
          version,
          `The model server cannot load production ${model}@${version} (${message}); it keeps serving ${current ? current.version : 'nothing'}. Restore the file or roll back (mlops rollback ${model}).`,
        );
      }
    }
  };

  let refreshing: Promise<void> | undefined;
  const refresh = (): Promise<void> =>
    (refreshing ??= (async () => {
      try {
        registry = registry ?? (await client.workflow.getHandle(registryWorkflowId(model)).query(registryStateQuery));
        lastCheck = new Date();
        production = registry.aliases.production ?? null;
        if (production && production !== current?.version) await swapTo(production);
        await promotions?.refresh(registry, current);
      } catch (err) {
        emit({ kind: 'registry-unreachable', message: (err as Error).message });
      } finally {
        registry = undefined;
        refreshing = undefined;
      }
    })());

  await refresh();
  const timer = setInterval(() => void refresh(), options.pollIntervalMs ?? 2000);
  timer.unref();

  const predictBatch = async (rows: PredictionInput, predictOptions: PredictOptions = {}): Promise<BatchPredictResponse> => {
    const serving = current;
    if (!serving) {
      throw notReady(
        failed ? `Model ${model} has no loadable production version yet: ${failed.message}` : `Model ${model} has no production version yet; promote one (mlops promote ${model})`,
      );
    }
    if (predictOptions.version !== undefined && predictOptions.version !== serving.version) {
      throw versionNotServed(`Version ${predictOptions.version} of ${model} does not serve here; production ${serving.version} does`);
    }
    const requestId = predictOptions.requestId ?? randomUUID();
    const input = serving.parse(rows);
    const scoredAt = new Date();
    const keyOf = (i: number) => (input.rows === 1 ? requestId : `${requestId}/${i}`);
    // A request for a named version is answered by it, never by a canary's candidate.
    const canary = predictOptions.version === undefined ? promotions?.canaryModelFor(predictOptions.routingKey ?? input.keys[0] ?? requestId) : undefined;
    let answered: { by: LoadedModel; input: typeof input; batch: ScoredBatch } | undefined;
    if (canary) {
      const started = performance.now();
      try {
        const canaryInput = canary.parse(rows);
        answered = { by: canary, input: canaryInput, batch: await canary.run(canaryInput, keyOf) };
        promotions!.observeCanary('candidate', answered.batch, performance.now() - started);
      } catch {
        // The candidate's failure is the canary's to count, not the caller's: production answers.
        promotions!.observeCanary('candidate', 'error', 0);
      }
    }
    if (!answered) {
      const started = performance.now();
      answered = { by: serving, input, batch: await serving.run(input, keyOf) };
      const ms = performance.now() - started;
      promotions?.observeCanary('production', answered.batch, ms);
      promotions?.shadow({ input: rows, production: answered.batch, productionMs: ms, keyOf });
    }
    const { batch } = answered;
    for (let r = 0; r < batch.rows; r++) {
      if (window.add(batch.flagCodes[r] !== 0)) {
        raise(
          'flagged-share',
          serving.version,
          `${(window.share * 100).toFixed(2)} % of the last ${window.count} online predictions of ${model}@${serving.version} are outside the acceptable range ` +
            `[${serving.range.min.toPrecision(4)}, ${serving.range.max.toPrecision(4)}] or not numbers; the limit is ${(window.maxFlaggedShare * 100).toFixed(2)} %. ` +
            `The flagged rows are in the online prediction log (${log?.dir ?? 'not kept: the log is off'}, flag IS NOT NULL).`,
        );
      }
    }
    log?.append(answered.by.card, requestId, scoredAt, answered.input, batch);
    return { requestId, model, modelVersion: answered.by.version, batch };
  };

  return {
    async predict(rows, predictOptions = {}) {
      const { batch, ...meta } = await predictBatch(rows, predictOptions);
      return { ...meta, predictions: batch.toRows() };
    },

    predictBatch,

    serving: () => (current ? { card: current.card, contract: current.contract } : undefined),

    status() {
      return {
        model,
        ready: current !== undefined,
        version: current?.version ?? null,
        registryProduction: production,
        lastRegistryCheck: lastCheck?.toISOString() ?? null,
        ...(failed ? { failedVersion: failed } : {}),
        loadFailures,
        flaggedShare: window.share,
        alerting: window.episode,
        ...(log ? { log: { dir: log.dir, ...log.stats, buffered: log.bufferedRows } } : {}),
        ...(promotions?.status() ? { promotion: promotions.status()! } : {}),
      };
    },

    refresh,

    async close() {
      closed = true;
      clearInterval(timer);
      await refreshing;
      await promotions?.close();
      await log?.close();
      current?.retire();
    },
  };
}
