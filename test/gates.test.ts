import { describe, expect, it } from 'vitest';
import { evaluateGates, gatesSchema } from '../src/evaluation/gates';

const latency = { candidate: { p99Ms: 10, batches: 50 }, baseline: { p99Ms: 10, batches: 50 } };
const verdicts = (results: ReturnType<typeof evaluateGates>) => Object.fromEntries(results.map((r) => [r.gate, r.passed]));

describe('quality gates', () => {
  it('apply only absolute thresholds when there is no baseline', () => {
    const config = gatesSchema.parse({ thresholds: { rocAuc: { min: 0.7 }, logLoss: { max: 0.5 } } });
    const results = evaluateGates(config, { task: 'binary', candidate: { rocAuc: 0.75, logLoss: 0.6 }, slices: [], latency: { candidate: latency.candidate } });
    expect(verdicts(results)).toEqual({ 'threshold:rocAuc': true, 'threshold:logLoss': false });
    expect(results[1]!.detail).toBe('logLoss 0.6 must be ≤ 0.5');
  });

  it("judge improvement in the metric's direction, absolute and relative", () => {
    const config = gatesSchema.parse({ minImprovement: 0.01 });
    const up = evaluateGates(config, { task: 'binary', candidate: { rocAuc: 0.815 }, baseline: { rocAuc: 0.8 }, slices: [], latency });
    expect(verdicts(up).improvement).toBe(true);
    const tooLittle = evaluateGates(config, { task: 'binary', candidate: { rocAuc: 0.805 }, baseline: { rocAuc: 0.8 }, slices: [], latency });
    expect(tooLittle.find((r) => r.gate === 'improvement')!.detail).toBe('rocAuc 0.805 vs baseline 0.8: gain 0.005, needed ≥ 0.01');
    // Regression: rmse is better when lower; a relative 10 % is needed.
    const rel = gatesSchema.parse({ minRelativeImprovement: 0.1 });
    expect(verdicts(evaluateGates(rel, { task: 'regression', candidate: { rmse: 0.85 }, baseline: { rmse: 1 }, slices: [], latency })).improvement).toBe(true);
    expect(verdicts(evaluateGates(rel, { task: 'regression', candidate: { rmse: 0.95 }, baseline: { rmse: 1 }, slices: [], latency })).improvement).toBe(false);
    // A negative improvement is a tolerated loss.
    const tolerant = gatesSchema.parse({ minImprovement: -0.02 });
    expect(verdicts(evaluateGates(tolerant, { task: 'binary', candidate: { rocAuc: 0.79 }, baseline: { rocAuc: 0.8 }, slices: [], latency })).improvement).toBe(true);
    // Not being worse is the default.
    const dflt = gatesSchema.parse({});
    expect(verdicts(evaluateGates(dflt, { task: 'binary', candidate: { rocAuc: 0.79 }, baseline: { rocAuc: 0.8 }, slices: [], latency })).improvement).toBe(false);
  });

  it('fail on the worst large-enough slice, ignoring small ones', () => {
    const config = gatesSchema.parse({ maxSliceRegression: 0.02, minSliceRows: 100 });
    const slices = [
      { column: 'plan', value: 'basic', rows: 500, candidate: { rocAuc: 0.8 }, baseline: { rocAuc: 0.79 } },
      { column: 'plan', value: 'pro', rows: 300, candidate: { rocAuc: 0.7 }, baseline: { rocAuc: 0.75 } },
      { column: 'plan', value: 'tiny', rows: 20, candidate: { rocAuc: 0.1 }, baseline: { rocAuc: 0.9 } },
    ];
    const results = evaluateGates(config, { task: 'binary', candidate: { rocAuc: 0.81 }, baseline: { rocAuc: 0.8 }, slices, latency });
    const slice = results.find((r) => r.gate === 'slice-regression')!;
    expect(slice.passed).toBe(false);
    expect(slice.detail).toMatch(/^worst slice plan=pro \(300 rows\): rocAuc worse by 0\.05/);
  });

  it('judge latency only with enough batches', () => {
    const config = gatesSchema.parse({ maxLatencyRatio: 2 });
    const slow = { candidate: { p99Ms: 30, batches: 50 }, baseline: { p99Ms: 10, batches: 50 } };
    expect(verdicts(evaluateGates(config, { task: 'binary', candidate: { rocAuc: 0.9 }, baseline: { rocAuc: 0.8 }, slices: [], latency: slow })).latency).toBe(false);
    const few = { candidate: { p99Ms: 30, batches: 2 }, baseline: { p99Ms: 10, batches: 2 } };
    const result = evaluateGates(config, { task: 'binary', candidate: { rocAuc: 0.9 }, baseline: { rocAuc: 0.8 }, slices: [], latency: few }).find((r) => r.gate === 'latency')!;
    expect(result.passed).toBe(true);
    expect(result.detail).toMatch(/not judged: 2 batches/);
  });

  it('refuse bad configuration with a clear message', () => {
    expect(gatesSchema.safeParse({ thresholds: { rocAuc: {} } }).success).toBe(false);
    expect(gatesSchema.safeParse({ maxSliceRegression: -1 }).success).toBe(false);
    expect(gatesSchema.safeParse({ minImprovement: Number.NaN }).success).toBe(false);
    expect(gatesSchema.safeParse({ maxLatencyRatio: 2, typo: 1 }).success).toBe(false);
    // A bound no value can meet would reject every candidate forever: refused, naming the metric.
    const impossible = gatesSchema.safeParse({ thresholds: { rocAuc: { min: 0.9, max: 0.8 } } });
    expect(impossible.success).toBe(false);
    expect(impossible.error?.issues[0]).toMatchObject({ path: ['thresholds', 'rocAuc'], message: 'min (0.9) is greater than max (0.8): no value can pass' });
    expect(gatesSchema.safeParse({ thresholds: { rocAuc: { min: 0.8, max: 0.8 } } }).success).toBe(true);
    const unknownMetric = evaluateGates(gatesSchema.parse({ primaryMetric: 'auc' }), { task: 'binary', candidate: { rocAuc: 0.9 }, slices: [], latency });
    expect(unknownMetric).toEqual([{ gate: 'primary-metric', passed: false, detail: 'the binary model has no metric "auc"' }]);
  });
});
