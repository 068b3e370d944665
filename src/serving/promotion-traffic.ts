import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import { emptyShadow, emptyStats, LATENCY_BOUNDS_MS, OUTPUT_BINS, type CanaryStatus, type OnlineTrafficFile, type ShadowStats, type TrafficStats } from '../api/online';
import { type PromotionPhase, type PromotionStatus, promotionStatusQuery } from '../api/promote';
import type { RegistryState } from '../api/registry';
import type { ArtifactStore } from '../store/artifact-store';
import { layout } from '../store/layout';
import type { InputFeeds, InputOptions, PredictionInput } from './input';
import { LoadedModel, type RangeOptions, type SessionPlacement } from './model';
import type { ScoredBatch } from './scored';

/**
 * The model server's side of a promotion: shadow and canary on live traffic.
 *
 * How the server learns a candidate is under promotion: on each registry check it lists the
 * model's running `promoteModel` workflows (a visibility query) and asks each for its status
 * (a query, no history events). A promotion that is evaluating or waiting for a review is
 * shadowed; one in its canary phase names the share of requests the candidate answers. Like the
 * registry, the promotion is polled rather than pushing to servers: servers come and go and need
 * not register anywhere, and a missed poll costs a second, not a stale server.
 *
 * How the results reach the promotion: each server writes its cumulative counters to the store
 * every `reportIntervalMs` (one file per server and promotion run, api/online.ts); the promotion
 * reads them with an activity to judge a canary step, and to write the report's online shadow
 * section. The workflow's history grows by one activity per check, not by one event per request.
 */
export interface PromotionTrafficOptions extends RangeOptions, InputOptions, SessionPlacement {
  model: string;
  store: ArtifactStore;
  client: Client;
  serverId: string;
  /** How often counters are written to the store (default 5 s). */
  reportIntervalMs?: number;
  /** Requests waiting to be shadowed at most; more are dropped (and counted), never waited for. */
  shadowQueue?: number;
  onEvent?: (event: PromotionTrafficEvent) => void;
}

export type PromotionTrafficEvent =
  | { kind: 'promotion-followed'; workflowId: string; candidate: string; phase: PromotionPhase }
  | { kind: 'candidate-load-failed'; version: string; message: string }
  | { kind: 'traffic-write-failed'; message: string };

interface Followed {
  workflowId: string;
  runId: string;
  status: PromotionStatus;
}

export interface PromotionTrafficStatus {
  workflowId: string;
  candidate: string;
  mode: 'shadow' | 'canary' | 'none';
  /** Percent of requests the candidate answers (canary). */
  share: number;
  candidateLoaded: boolean;
  shadowed: number;
  shadowDropped: number;
  shadowQueued: number;
}

/** 0 ≤ bucket < 10 000 from the key: the same for a key on every server and every step, so a customer in the 5 % stays in at 25 %. */
export function routingBucket(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) % 10_000;
}

function observe(stats: TrafficStats, batch: ScoredBatch, ms: number, range: { min: number; max: number }): void {
  stats.requests++;
  stats.rows += batch.rows;
  const width = (range.max - range.min) / OUTPUT_BINS;
  for (let r = 0; r < batch.rows; r++) {
    if (batch.flagCodes[r] !== 0) stats.flagged++;
    const output = batch.output(r);
    if (output === null) continue;
    stats.outputSum += output;
    const bin = output < range.min ? 0 : output > range.max ? OUTPUT_BINS + 1 : 1 + Math.min(OUTPUT_BINS - 1, Math.floor((output - range.min) / (width || 1)));
    stats.outputBins[bin]!++;
  }
  const bucket = LATENCY_BOUNDS_MS.findIndex((b) => ms <= b);
  stats.latency[bucket < 0 ? LATENCY_BOUNDS_MS.length : bucket]!++;
}

interface ShadowJob {
  input: PredictionInput;
  production: ScoredBatch;
  productionMs: number;
  keyOf: (row: number) => string;
}

export class PromotionTraffic {
  private followed?: Followed;
  private candidate?: LoadedModel;
  private failedCandidate?: string;
  private file?: OnlineTrafficFile;
  private dirty = false;
  private queue: ShadowJob[] = [];
  private draining = false;
  private shadowed = 0;
  private readonly timer: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();
  private readonly emit: (event: PromotionTrafficEvent) => void;

  constructor(private readonly options: PromotionTrafficOptions) {
    this.emit = options.onEvent ?? (() => undefined);
    this.timer = setInterval(() => void this.flush(), options.reportIntervalMs ?? 5000);
    this.timer.unref();
  }

  /** The running promotion to follow: one in its canary first, else the latest evaluated or reviewed. */
  private async findPromotion(): Promise<Followed | undefined> {
    const { client, model } = this.options;
    const found: Followed[] = [];
    // Model names are checked names (store/names.ts): safe inside the query's quotes.
    for await (const wf of client.workflow.list({ query: `WorkflowType = "promoteModel" AND MlopsModel = "${model}" AND ExecutionStatus = "Running"` })) {
      const status = await client.workflow
        .getHandle(wf.workflowId, wf.runId)
        .query(promotionStatusQuery)
        .catch(() => undefined);
      if (status) found.push({ workflowId: wf.workflowId, runId: wf.runId, status });
    }
    const live = (s: PromotionStatus) => s.phase === 'canary' || (s.phase === 'promoting' && s.canary?.outcome === 'passed');
    return found.find((f) => live(f.status)) ?? found.find((f) => f.status.phase === 'evaluating' || f.status.phase === 'waiting-for-review');
  }

  /** After each registry check: follow the promotion that runs now (loading its candidate), or none. */
  async refresh(registry: RegistryState, production: LoadedModel | undefined): Promise<void> {
    const next = await this.findPromotion();
    const changed = next?.runId !== this.followed?.runId || next?.status.candidate !== this.followed?.status.candidate;
    if (changed) {
      await this.flush();
      this.file = undefined;
      this.queue = [];
      if (next) this.emit({ kind: 'promotion-followed', workflowId: next.workflowId, candidate: next.status.candidate, phase: next.status.phase });
    }
    this.followed = next;
    const wanted = next && next.status.candidate !== production?.version ? next.status.candidate : undefined;
    if (wanted !== this.candidate?.version) {
      this.candidate?.retire();
      this.candidate = undefined;
      if (wanted) await this.loadCandidate(registry, wanted);
    }
    if (next && production && !this.file) {
      this.file = {
        server: this.options.serverId,
        model: this.options.model,
        candidate: next.status.candidate,
        production: production.version,
        promotion: { workflowId: next.workflowId, runId: next.runId },
        updatedAt: new Date().toISOString(),
        outputRange: { min: production.range.min, max: production.range.max },
        canary: {},
      };
    }
  }

  private async loadCandidate(registry: RegistryState, version: string): Promise<void> {
    const summary = registry.versions.find((v) => v.version === version);
    try {
      if (!summary) throw new Error(`the registry lists no version ${version}`);
      this.candidate = await LoadedModel.load(this.options.store, summary, this.options);
      this.failedCandidate = undefined;
    } catch (err) {
      // Shadow and canary need the candidate; without it production answers everything.
      if (this.failedCandidate !== version) this.emit({ kind: 'candidate-load-failed', version, message: (err as Error).message });
      this.failedCandidate = version;
    }
  }

  private get canary(): CanaryStatus | undefined {
    const s = this.followed?.status;
    if (!s?.canary || !(s.phase === 'canary' || (s.phase === 'promoting' && s.canary.outcome === 'passed'))) return undefined;
    return s.canary;
  }

  private get shadowing(): boolean {
    const phase = this.followed?.status.phase;
    return phase === 'evaluating' || phase === 'waiting-for-review';
  }

  /** The candidate, when the canary routes this key to it. */
  canaryModelFor(key: string): LoadedModel | undefined {
    const canary = this.canary;
    if (!canary || !this.candidate || !this.file || canary.share <= 0) return undefined;
    return routingBucket(key) < canary.share * 100 ? this.candidate : undefined;
  }

  private stepStats(): { production: TrafficStats; candidate: TrafficStats } | undefined {
    const canary = this.canary;
    if (!canary || !this.file) return undefined;
    return (this.file.canary[String(canary.step)] ??= { share: canary.share, production: emptyStats(), candidate: emptyStats() });
  }

  /** A canary request answered (by either side) or failed on the candidate (then production answered it). */
  observeCanary(side: 'production' | 'candidate', predictions: ScoredBatch | 'error', ms: number): void {
    const step = this.stepStats();
    if (!step) return;
    if (predictions === 'error') (step.candidate.errors++, step.candidate.requests++);
    else observe(step[side], predictions, ms, this.file!.outputRange);
    this.dirty = true;
  }

  /** Queues a request production answered, to score with the candidate later; never waits. */
  shadow(job: ShadowJob): void {
    if (!this.shadowing || !this.candidate || !this.file) return;
    const shadow = (this.file.shadow ??= emptyShadow());
    if (this.queue.length >= (this.options.shadowQueue ?? 256)) {
      shadow.dropped++;
      this.dirty = true;
      return;
    }
    this.queue.push(job);
    if (!this.draining) setImmediate(() => void this.drain());
  }

  /** Scores queued requests with the candidate, one at a time, behind the requests themselves. */
  private async drain(): Promise<void> {
    this.draining = true;
    try {
      for (let job = this.queue.shift(); job; job = this.queue.shift()) {
        const candidate = this.candidate;
        const file = this.file;
        if (!candidate || !file) break;
        const shadow = (file.shadow ??= emptyShadow());
        let input: InputFeeds | undefined;
        let predictions: ScoredBatch | undefined;
        const started = performance.now();
        try {
          input = candidate.parse(job.input);
          predictions = await candidate.run(input, job.keyOf);
        } catch {
          // Rows production takes but this candidate does not (other features): its error, counted.
        }
        const ms = performance.now() - started;
        observe(shadow.production, job.production, job.productionMs, file.outputRange);
        if (!predictions) {
          shadow.candidate.errors++;
          shadow.candidate.requests++;
        } else {
          observe(shadow.candidate, predictions, ms, file.outputRange);
          compare(shadow, job.production, predictions);
          this.shadowed++;
        }
        this.dirty = true;
        // Let requests that arrived meanwhile go first.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      this.draining = false;
    }
  }

  /** Writes this server's counters, when they changed; a failure is reported and retried next time. */
  flush(): Promise<void> {
    this.writing = this.writing.then(async () => {
      const file = this.file;
      if (!file || !this.dirty) return;
      this.dirty = false;
      file.updatedAt = new Date().toISOString();
      const { store, model } = this.options;
      try {
        await store.writeJsonAtomic(store.url(...layout.onlineTraffic(model, file.candidate, file.promotion.runId), `${file.server}.json`), file);
      } catch (err) {
        this.dirty = true;
        this.emit({ kind: 'traffic-write-failed', message: (err as Error).message });
      }
    });
    return this.writing;
  }

  status(): PromotionTrafficStatus | undefined {
    const f = this.followed;
    if (!f) return undefined;
    const canary = this.canary;
    return {
      workflowId: f.workflowId,
      candidate: f.status.candidate,
      mode: canary ? 'canary' : this.shadowing ? 'shadow' : 'none',
      share: canary?.share ?? 0,
      candidateLoaded: this.candidate !== undefined,
      shadowed: this.shadowed,
      shadowDropped: this.file?.shadow?.dropped ?? 0,
      shadowQueued: this.queue.length,
    };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.queue = [];
    await this.flush();
    this.candidate?.retire();
    this.candidate = undefined;
  }
}

function compare(shadow: ShadowStats, production: ScoredBatch, candidate: ScoredBatch): void {
  for (let i = 0; i < production.rows && i < candidate.rows; i++) {
    shadow.rows++;
    const label = production.predictedLabel(i);
    if (label !== null && label === candidate.predictedLabel(i)) shadow.sameLabel++;
    const a = production.output(i);
    const b = candidate.output(i);
    if (a !== null && b !== null) {
      const d = Math.abs(a - b);
      shadow.absDiffSum += d;
      if (d > shadow.maxAbsDiff) shadow.maxAbsDiff = d;
    }
  }
}
