import { defineUpdate } from '@temporalio/workflow';
import type { CanaryOptions } from '../evaluation/request';

/**
 * Live traffic during a promotion, shared by the model servers that produce it, the activities
 * that read it and the promotion workflow that judges it. Pure: workflow code imports it.
 *
 * Each server keeps cumulative counters and writes them to the store now and then as one file
 * per server and promotion run (`reports/online/<model>/<candidate>/<promotion run>/<server>.json`);
 * readers sum the files. Counters (not samples) so any number of servers merge exactly, and the
 * store (not the promotion's history) so a day of traffic costs the workflow no events.
 */

/** Upper bounds (ms) of the model-latency buckets: ×1.25 from 0.05 ms to ~10 s, then the rest. */
export const LATENCY_BOUNDS_MS: readonly number[] = Array.from({ length: 56 }, (_, i) => Number((0.05 * 1.25 ** i).toPrecision(3)));
/** Bins of the output distribution between the production's acceptable range's ends (plus below and above). */
export const OUTPUT_BINS = 10;

export interface TrafficStats {
  requests: number;
  rows: number;
  /** Rows outside the acceptable range or not numbers. */
  flagged: number;
  /** Requests whose scoring failed (a canary's are answered by production instead). */
  errors: number;
  outputSum: number;
  /** [below min, OUTPUT_BINS bins, above max] of the finite outputs. */
  outputBins: number[];
  /** Requests per LATENCY_BOUNDS_MS bucket, the last one for anything slower. */
  latency: number[];
}

export interface ShadowStats {
  /** Both the production and the candidate answered these rows. */
  rows: number;
  /** Rows where both predicted the same label (classification). */
  sameLabel: number;
  absDiffSum: number;
  maxAbsDiff: number;
  /** Requests not shadowed because the queue was full (the response never waits for the shadow). */
  dropped: number;
  production: TrafficStats;
  candidate: TrafficStats;
}

export interface CanaryStepStats {
  share: number;
  production: TrafficStats;
  candidate: TrafficStats;
}

/** One server's file. */
export interface OnlineTrafficFile {
  server: string;
  model: string;
  candidate: string;
  production: string;
  promotion: { workflowId: string; runId: string };
  updatedAt: string;
  /** The ends of the output bins (the production's acceptable range). */
  outputRange: { min: number; max: number };
  shadow?: ShadowStats;
  /** By step index (as a string: JSON keys). */
  canary: Record<string, CanaryStepStats>;
}

/** The files of one promotion run, summed. */
export interface OnlineTraffic {
  servers: number;
  outputRange?: { min: number; max: number };
  shadow?: ShadowStats;
  canary: Record<string, CanaryStepStats>;
  /** Live metrics of both sides' online predictions that labels have joined (a canary asks for them). */
  live?: LiveComparison;
}

/** The primary metric of each side's labeled online predictions since the canary began. */
export interface LiveComparison {
  metric: string;
  candidate: { rows: number; value: number | null };
  production: { rows: number; value: number | null };
  /** How much worse the candidate is (positive: worse), in the metric's units; null without both values. */
  drop: number | null;
}

export function emptyStats(): TrafficStats {
  return {
    requests: 0,
    rows: 0,
    flagged: 0,
    errors: 0,
    outputSum: 0,
    outputBins: new Array<number>(OUTPUT_BINS + 2).fill(0),
    latency: new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0),
  };
}

export function emptyShadow(): ShadowStats {
  return { rows: 0, sameLabel: 0, absDiffSum: 0, maxAbsDiff: 0, dropped: 0, production: emptyStats(), candidate: emptyStats() };
}

const addArrays = (a: number[], b: readonly number[]) => a.map((v, i) => v + (b[i] ?? 0));

export function addStats(a: TrafficStats, b: TrafficStats): TrafficStats {
  return {
    requests: a.requests + b.requests,
    rows: a.rows + b.rows,
    flagged: a.flagged + b.flagged,
    errors: a.errors + b.errors,
    outputSum: a.outputSum + b.outputSum,
    outputBins: addArrays(a.outputBins, b.outputBins),
    latency: addArrays(a.latency, b.latency),
  };
}

/** Sums servers' files (each cumulative for its server). */
export function mergeTraffic(files: readonly OnlineTrafficFile[]): OnlineTraffic {
  const merged: OnlineTraffic = { servers: files.length, canary: {} };
  for (const f of files) {
    merged.outputRange ??= f.outputRange;
    if (f.shadow) {
      const s = (merged.shadow ??= emptyShadow());
      merged.shadow = {
        rows: s.rows + f.shadow.rows,
        sameLabel: s.sameLabel + f.shadow.sameLabel,
        absDiffSum: s.absDiffSum + f.shadow.absDiffSum,
        maxAbsDiff: Math.max(s.maxAbsDiff, f.shadow.maxAbsDiff),
        dropped: s.dropped + f.shadow.dropped,
        production: addStats(s.production, f.shadow.production),
        candidate: addStats(s.candidate, f.shadow.candidate),
      };
    }
    for (const [step, stats] of Object.entries(f.canary)) {
      const m = merged.canary[step];
      merged.canary[step] = m
        ? { share: stats.share, production: addStats(m.production, stats.production), candidate: addStats(m.candidate, stats.candidate) }
        : { share: stats.share, production: stats.production, candidate: stats.candidate };
    }
  }
  return merged;
}

/** The latency (ms) at quantile q, read as the upper bound of its bucket; null without requests. */
export function latencyQuantile(stats: TrafficStats, q: number): number | null {
  const total = stats.latency.reduce((a, b) => a + b, 0);
  if (!total) return null;
  let seen = 0;
  for (let i = 0; i < stats.latency.length; i++) {
    seen += stats.latency[i]!;
    if (seen >= q * total) return LATENCY_BOUNDS_MS[i] ?? Infinity;
  }
  return Infinity;
}

export const flaggedShare = (s: TrafficStats): number => (s.rows ? s.flagged / s.rows : 0);

/** What a report or a status shows of one side's traffic. */
export interface TrafficSummary {
  requests: number;
  rows: number;
  flaggedShare: number;
  errors: number;
  meanOutput: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
}

export function summarize(s: TrafficStats): TrafficSummary {
  const finite = s.outputBins.reduce((a, b) => a + b, 0);
  return {
    requests: s.requests,
    rows: s.rows,
    flaggedShare: flaggedShare(s),
    errors: s.errors,
    meanOutput: finite ? s.outputSum / finite : null,
    p50Ms: latencyQuantile(s, 0.5),
    p99Ms: latencyQuantile(s, 0.99),
  };
}

export interface CanaryJudgement {
  /** The candidate answered enough rows in this step to be judged. */
  enough: boolean;
  /** Each failed gate, with its numbers. */
  failed: string[];
  candidate: TrafficSummary;
  production: TrafficSummary;
  live?: LiveComparison;
}

/** Requests each side needs in a step before its p99 latency is compared. */
export const LATENCY_MIN_REQUESTS = 100;

/**
 * The online gates of one canary step. Latency is compared with production's in the same step,
 * or (at 100 %, where production answers nothing) with `baselineP99Ms` from an earlier step.
 */
export function judgeCanaryStep(stats: CanaryStepStats | undefined, options: CanaryOptions, baselineP99Ms: number | null, live?: LiveComparison): CanaryJudgement {
  const candidate = summarize(stats?.candidate ?? emptyStats());
  const production = summarize(stats?.production ?? emptyStats());
  const enough = candidate.rows >= options.minRows;
  const failed: string[] = [];
  if (enough) {
    if (candidate.flaggedShare > options.maxFlaggedShare) {
      failed.push(`flagged share ${pct(candidate.flaggedShare)} of ${candidate.rows} rows > ${pct(options.maxFlaggedShare)} (production: ${pct(production.flaggedShare)})`);
    }
    const errorShare = candidate.requests ? candidate.errors / candidate.requests : 0;
    if (errorShare > options.maxErrorShare) failed.push(`${candidate.errors} of ${candidate.requests} requests failed > ${pct(options.maxErrorShare)}`);
    // A p99 of fewer requests is the slowest of a handful: noise, not a verdict.
    const base = production.requests >= LATENCY_MIN_REQUESTS ? production.p99Ms : baselineP99Ms;
    if (candidate.requests >= LATENCY_MIN_REQUESTS && base !== null && candidate.p99Ms !== null && candidate.p99Ms > base * options.maxLatencyRatio + 1) {
      failed.push(`p99 latency ${candidate.p99Ms} ms > ${options.maxLatencyRatio} × production's ${base} ms + 1 ms`);
    }
  }
  // Labels come late and for any step: judged whenever both sides have enough, since the canary began.
  if (live && live.drop !== null && live.candidate.rows >= options.minLabeledRows && live.production.rows >= options.minLabeledRows && live.drop > options.maxLiveMetricDrop) {
    failed.push(
      `live ${live.metric} ${live.candidate.value!.toFixed(4)} on ${live.candidate.rows} labeled rows vs production's ${live.production.value!.toFixed(4)} on ${live.production.rows}: ` +
        `worse by ${live.drop.toFixed(4)} > ${options.maxLiveMetricDrop}`,
    );
  }
  return { enough, failed, candidate, production, ...(live ? { live } : {}) };
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

/** A person steering a canary: who and why (recorded). */
export interface CanaryControlInput {
  by: string;
  reason: string;
}

/** Hold the current step until `advance` or `abort` (the gates still judge it meanwhile). */
export const pauseCanaryUpdate = defineUpdate<CanaryStatus, [CanaryControlInput]>('pauseCanary');
/** End the current step now as passed and move to the next (after the last: production). */
export const advanceCanaryUpdate = defineUpdate<CanaryStatus, [CanaryControlInput]>('advanceCanary');
/** Stop the canary: the candidate is rejected and every server answers with production again. */
export const abortCanaryUpdate = defineUpdate<CanaryStatus, [CanaryControlInput]>('abortCanary');

export interface CanaryStepRecord {
  share: number;
  startedAt: string;
  endedAt: string;
  outcome: 'passed' | 'advanced' | 'failed' | 'aborted';
  by: string;
  detail: string;
  candidate: TrafficSummary;
  production: TrafficSummary;
}

/** A canary's progress, in the promotion's status (what servers route by, and what the Web UI shows). */
export interface CanaryStatus {
  steps: number[];
  /** Index into steps of the step being served. */
  step: number;
  /** Percent of requests the candidate answers now; 0 once the canary ended. */
  share: number;
  stepStartedAt: string;
  /** When the step may pass (if it had enough traffic and is not paused). */
  holdUntil: string;
  paused?: { by: string; reason: string; at: string };
  /** The latest judgement of the current step. */
  current?: CanaryJudgement;
  history: CanaryStepRecord[];
  outcome?: 'passed' | 'rolled-back';
}

/** The "online shadow" section of an evaluation report: the candidate beside production on the same live requests. */
export interface OnlineShadowSummary {
  servers: number;
  rows: number;
  /** Rows with the same predicted label (classification), else null. */
  agreement: number | null;
  meanAbsoluteDifference: number | null;
  maxAbsoluteDifference: number;
  dropped: number;
  production: TrafficSummary;
  candidate: TrafficSummary;
  /** Output distributions: counts below the range, in OUTPUT_BINS bins over it, above it. */
  outputs: { range: { min: number; max: number }; production: number[]; candidate: number[] } | null;
  at: string;
}

export function summarizeShadow(traffic: OnlineTraffic, classification: boolean, at: string): OnlineShadowSummary | undefined {
  const s = traffic.shadow;
  if (!s) return undefined;
  return {
    servers: traffic.servers,
    rows: s.rows,
    agreement: classification && s.rows ? s.sameLabel / s.rows : null,
    meanAbsoluteDifference: s.rows ? s.absDiffSum / s.rows : null,
    maxAbsoluteDifference: s.maxAbsDiff,
    dropped: s.dropped,
    production: summarize(s.production),
    candidate: summarize(s.candidate),
    outputs: traffic.outputRange ? { range: traffic.outputRange, production: s.production.outputBins, candidate: s.candidate.outputBins } : null,
    at,
  };
}
