import { z } from 'zod';
import { userError } from '../errors';
import type { Task } from '../training/data';

/**
 * Quality gates for promotion, in the spirit of MLflow's MetricThreshold and TFMA's value/change
 * thresholds: absolute bounds per metric, a minimum improvement over the baseline, a maximum
 * regression on any slice, and a maximum latency ratio. With no baseline (a first model) only the
 * absolute bounds apply.
 */
const LOWER_IS_BETTER = new Set(['logLoss', 'brier', 'rmse', 'mae']);

export function higherIsBetter(metric: string): boolean {
  return !LOWER_IS_BETTER.has(metric);
}

/** The metrics each task's evaluation reports (src/metrics). */
export const METRICS_BY_TASK: Record<Task, readonly string[]> = {
  binary: ['accuracy', 'precision', 'recall', 'f1', 'rocAuc', 'logLoss', 'brier'],
  multiclass: ['accuracy', 'macroF1', 'logLoss'],
  regression: ['rmse', 'mae', 'r2'],
};

/** A typo in a metric name is the user's to fix, not a failed gate that rejects the candidate. */
export function checkMetricNames(task: Task, config: GatesConfig): void {
  const known = METRICS_BY_TASK[task];
  const named = [...(config.primaryMetric ? [config.primaryMetric] : []), ...Object.keys(config.thresholds)];
  const unknown = named.filter((m) => !known.includes(m));
  if (unknown.length) {
    throw userError('InvalidInput', `Gates name unknown metric(s) ${unknown.map((m) => `"${m}"`).join(', ')}; a ${task} model has ${known.join(', ')}`);
  }
}

export function defaultPrimaryMetric(task: Task): string {
  return task === 'binary' ? 'rocAuc' : task === 'multiclass' ? 'accuracy' : 'rmse';
}

const bound = z
  .object({ min: z.number().finite().optional(), max: z.number().finite().optional() })
  .strict()
  .refine((b) => b.min !== undefined || b.max !== undefined, 'give min, max or both')
  // A gate no value can pass would reject every candidate forever, looking like bad models.
  .superRefine((b, ctx) => {
    if (b.min !== undefined && b.max !== undefined && b.min > b.max) ctx.addIssue({ code: 'custom', message: `min (${b.min}) is greater than max (${b.max}): no value can pass` });
  });

export const gatesSchema = z
  .object({
    /** The metric improvements and slice regressions are judged on (default by task: rocAuc, accuracy, rmse). */
    primaryMetric: z.string().min(1).optional(),
    /** Absolute bounds, e.g. {"rocAuc": {"min": 0.7}}. */
    thresholds: z.record(z.string(), bound).default({}),
    /**
     * The candidate must beat the baseline's primary metric by at least this much. 0: not be
     * worse; negative: may be worse by at most that much (e.g. a cheaper model, -0.005).
     * With neither this nor minRelativeImprovement given: 0.
     */
    minImprovement: z.number().finite().optional(),
    /** …and by at least this fraction of the baseline's value (negative: a tolerated loss). */
    minRelativeImprovement: z.number().finite().optional(),
    /** On no slice may the primary metric get worse by more than this. */
    maxSliceRegression: z.number().min(0).default(0.05),
    /** Slices smaller than this are reported but not gated (their metrics are noise). */
    minSliceRows: z.number().int().min(1).default(100),
    /** Candidate p99 batch latency may be at most this multiple of the baseline's. */
    maxLatencyRatio: z.number().positive().default(3),
    /** A p99 of fewer batches is noise: below this many the latency gate reports but does not judge. */
    minLatencyBatches: z.number().int().min(1).default(10),
  })
  .strict();

export type GatesConfig = z.infer<typeof gatesSchema>;
export type GatesInput = z.input<typeof gatesSchema>;

export interface GateResult {
  gate: string;
  passed: boolean;
  /** What was compared, in words with the numbers. */
  detail: string;
}

export interface GateInputs {
  task: Task;
  candidate: Record<string, number>;
  baseline?: Record<string, number>;
  slices: Array<{ column: string; value: string; rows: number; candidate: Record<string, number>; baseline?: Record<string, number> }>;
  latency: { candidate: { p99Ms: number; batches: number }; baseline?: { p99Ms: number; batches: number } };
}

const fmt = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? 'n/a' : Number(v.toPrecision(4)).toString());

export function evaluateGates(config: GatesConfig, inputs: GateInputs): GateResult[] {
  const results: GateResult[] = [];
  const primary = config.primaryMetric ?? defaultPrimaryMetric(inputs.task);
  const better = higherIsBetter(primary);
  for (const [metric, b] of Object.entries(config.thresholds)) {
    const value = inputs.candidate[metric];
    const passed = value !== undefined && !Number.isNaN(value) && (b.min === undefined || value >= b.min) && (b.max === undefined || value <= b.max);
    const range = [b.min !== undefined ? `≥ ${b.min}` : '', b.max !== undefined ? `≤ ${b.max}` : ''].filter(Boolean).join(' and ');
    results.push({ gate: `threshold:${metric}`, passed, detail: `${metric} ${fmt(value)} must be ${range}` });
  }
  if (!(primary in inputs.candidate)) {
    results.push({ gate: 'primary-metric', passed: false, detail: `the ${inputs.task} model has no metric "${primary}"` });
    return results;
  }
  if (!inputs.baseline) return results;

  const c = inputs.candidate[primary]!;
  const base = inputs.baseline[primary]!;
  const gain = better ? c - base : base - c;
  // Every bound given must hold, so the largest decides; none given: not worse.
  const bounds = [config.minImprovement, config.minRelativeImprovement === undefined ? undefined : config.minRelativeImprovement * Math.abs(base)];
  const given = bounds.filter((b): b is number => b !== undefined);
  const needed = given.length ? Math.max(...given) : 0;
  results.push({
    gate: 'improvement',
    passed: gain >= needed,
    detail: `${primary} ${fmt(c)} vs baseline ${fmt(base)}: ${better ? 'gain' : 'reduction'} ${fmt(gain)}, needed ≥ ${fmt(needed)}`,
  });

  const worst = inputs.slices
    .filter((s) => s.baseline && s.rows >= config.minSliceRows && primary in s.candidate && primary in s.baseline)
    .map((s) => {
      const sc = s.candidate[primary]!;
      const sb = s.baseline![primary]!;
      return { s, regression: better ? sb - sc : sc - sb };
    })
    .filter((x) => !Number.isNaN(x.regression))
    .sort((a, b) => b.regression - a.regression)[0];
  results.push(
    worst
      ? {
          gate: 'slice-regression',
          passed: worst.regression <= config.maxSliceRegression,
          detail: `worst slice ${worst.s.column}=${worst.s.value} (${worst.s.rows} rows): ${primary} worse by ${fmt(worst.regression)}, allowed ≤ ${config.maxSliceRegression}`,
        }
      : { gate: 'slice-regression', passed: true, detail: `no slice with ≥ ${config.minSliceRows} rows to compare` },
  );

  const { candidate: lc, baseline: lb } = inputs.latency;
  if (lb && lb.p99Ms > 0) {
    const ratio = lc.p99Ms / lb.p99Ms;
    const compared = `p99 batch latency ${fmt(lc.p99Ms)} ms vs baseline ${fmt(lb.p99Ms)} ms: ratio ${fmt(ratio)}`;
    const batches = Math.min(lc.batches, lb.batches);
    results.push(
      batches < config.minLatencyBatches
        ? { gate: 'latency', passed: true, detail: `${compared}; not judged: ${batches} batches, ${config.minLatencyBatches} needed (lower batchSize to judge)` }
        : { gate: 'latency', passed: ratio <= config.maxLatencyRatio, detail: `${compared}, allowed ≤ ${config.maxLatencyRatio}` },
    );
  }
  return results;
}
