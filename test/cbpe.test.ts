import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPromotion } from '../src/client/promote';
import { startLabels, startMonitor } from '../src/client/retrain';
import { startScoring } from '../src/client/score';
import { startTraining } from '../src/client/train';
import type { MonitoringReport } from '../src/monitoring/monitor';
import { ingestChurnData, writeChurnCsv } from './helpers/churn';
import { type TestEnv, startTestEnv } from './helpers/env';
import { rocAuc } from '../src/metrics/classification.js';
import { applyIsotonic, calibrate, estimatePerformance, expectedAccuracy, expectedRocAuc, fitCalibration, fitIsotonic } from '../src/monitoring/cbpe.js';
import { rng } from '../src/synthetic/rng.js';

// Tolerances for the simulation below (20 000 rows): estimate vs realized within ±0.03 accuracy, ±0.03 AUC.
const ACCURACY_TOLERANCE = 0.03;
const AUC_TOLERANCE = 0.03;

function gaussian(next: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

/** Rows whose true P(y=1|x) is sigmoid(3x); the model's raw score is a mis-calibrated sigmoid(1.5x + 0.3). */
function population(seed: number, n: number, mean: number, sd: number) {
  const next = rng(seed);
  const score = new Float64Array(n);
  const label = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = mean + sd * gaussian(next);
    score[i] = 1 / (1 + Math.exp(-(1.5 * x + 0.3)));
    label[i] = next() < 1 / (1 + Math.exp(-3 * x)) ? 1 : 0;
  }
  return { score, label };
}

function realizedAccuracy(score: ArrayLike<number>, label: ArrayLike<number>, threshold: number): number {
  let right = 0;
  for (let i = 0; i < score.length; i++) right += (score[i]! >= threshold ? 1 : 0) === label[i] ? 1 : 0;
  return right / score.length;
}

describe('isotonic calibration (PAV)', () => {
  it('pools violators into their mean and keeps the map monotone', () => {
    const map = fitIsotonic([0.1, 0.2, 0.3, 0.4], [1, 0, 1, 1]);
    expect(map).toEqual({ upTo: [0.2, 0.4], value: [0.5, 1] });
    expect(applyIsotonic(map, 0.05)).toBe(0.5);
    expect(applyIsotonic(map, 0.25)).toBe(1);
    expect(applyIsotonic(map, 0.9)).toBe(1);
  });

  it('gives equal scores one value', () => {
    const map = fitIsotonic([0.5, 0.5, 0.5, 0.9], [0, 1, 1, 1]);
    expect(map.value[0]).toBeCloseTo(2 / 3);
  });

  it('rejects empty or mismatched input with a clear error', () => {
    expect(() => fitIsotonic([], [])).toThrow(/no rows/);
    expect(() => fitIsotonic([0.1], [1, 0])).toThrow(/1 scores but 2 labels/);
  });

  it('lowers ECE and Brier on mis-calibrated scores', () => {
    const { score, label } = population(1, 20_000, 0, 1);
    const c = fitCalibration(score, label);
    expect(c.quality.eceAfter).toBeLessThan(c.quality.eceBefore);
    expect(c.quality.brierAfter).toBeLessThan(c.quality.brierBefore);
    expect(c.quality.eceAfter).toBeLessThan(0.01);
  });
});

describe('estimator math', () => {
  it('expected accuracy counts p for predicted positives and 1 - p for predicted negatives', () => {
    expect(expectedAccuracy([0.9, 0.2, 0.6], [0.9, 0.2, 0.6], 0.5)).toBeCloseTo((0.9 + 0.8 + 0.6) / 3);
  });

  it('expected AUC is 1 for certain, separated rows and 0.5 for coin flips', () => {
    expect(expectedRocAuc([0.9, 0.1], [1, 0])).toBeCloseTo(1);
    expect(expectedRocAuc([0.9, 0.1, 0.5], [0.5, 0.5, 0.5])).toBeCloseTo(0.5);
  });

  it('equals realized AUC when the calibrated probabilities are the labels', () => {
    const score = [0.1, 0.4, 0.35, 0.8, 0.7, 0.2];
    const label = [0, 0, 1, 1, 0, 1];
    expect(expectedRocAuc(score, label)).toBeCloseTo(rocAuc(label, score));
  });
});

describe('CBPE under covariate shift (calibrated on a reference split)', () => {
  const reference = population(2, 20_000, 0, 1);
  const calibration = fitCalibration(reference.score, reference.label);
  const threshold = 0.5;
  const referenceAccuracy = realizedAccuracy(reference.score, reference.label, threshold);

  it('sees the drop when rows move into the uncertain region, and agrees with the labels', () => {
    // x concentrated near the decision boundary of the true model (x = 0): accuracy falls towards 0.5.
    const shifted = population(3, 20_000, 0, 0.25);
    const estimate = estimatePerformance(calibration, shifted.score, threshold);
    const realized = realizedAccuracy(shifted.score, shifted.label, threshold);
    expect(referenceAccuracy - realized).toBeGreaterThan(0.1);
    expect(Math.abs(estimate.expectedAccuracy - realized)).toBeLessThan(ACCURACY_TOLERANCE);
    expect(Math.abs(estimate.expectedRocAuc - rocAuc(shifted.label, shifted.score))).toBeLessThan(AUC_TOLERANCE);
    expect(referenceAccuracy - estimate.expectedAccuracy).toBeGreaterThan(0.1);
  });

  it('does not fall when rows move away from the boundary (a harmless shift)', () => {
    const shifted = population(4, 20_000, 1.5, 1);
    const estimate = estimatePerformance(calibration, shifted.score, threshold);
    const realized = realizedAccuracy(shifted.score, shifted.label, threshold);
    expect(Math.abs(estimate.expectedAccuracy - realized)).toBeLessThan(ACCURACY_TOLERANCE);
    expect(estimate.expectedAccuracy).toBeGreaterThan(referenceAccuracy - 0.02);
  });

  it('calibrate maps every score into [0, 1]', () => {
    const p = calibrate(calibration.map, [-1, 0, 0.5, 1, 2]);
    for (const v of p) expect(v >= 0 && v <= 1).toBe(true);
  });
});

// Through the real workflows (Temporal, DuckDB, ONNX Runtime): train, promote, score unlabeled rows, monitor, then labels.
describe('CBPE in the monitoring pass', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await startTestEnv('cbpe');
    await ingestChurnData(env, { dataset: 'cb', rows: 10_000 });
    await (await startTraining(env.client, env.config, { model: 'est', dataset: 'cb' })).result();
    expect((await (await startPromotion(env.client, env.config, { model: 'est', gates: { thresholds: { rocAuc: { min: 0.5 } } } })).result()).phase).toBe('promoted');
  });
  afterAll(async () => {
    await env?.shutdown();
  });

  async function pass(dataset: string, runId: string, extra: { drift?: { psi: number } } = {}) {
    const outcome = await (await startMonitor(env.client, env.config, { model: 'est', dataset, runId, retrainOnTrigger: false, ...extra })).result();
    return { outcome, report: JSON.parse(fs.readFileSync(outcome.reportUri, 'utf8')) as MonitoringReport };
  }

  it('triggers on the estimate alone when rows move to the decision boundary, and the labels confirm it', async () => {
    const o = { dataset: 'cb-near', rows: 4000, idOffset: 100_000, seed: 3, shrink: 0.2 };
    await ingestChurnData(env, { ...o, unlabeled: true });
    await (await startScoring(env.client, env.config, { model: 'est', dataset: 'cb-near', runId: 'score-near', maxFlaggedShare: 1 })).result();
    // Drift thresholds out of reach: whatever triggers is the estimate.
    const { outcome, report } = await pass('cb-near', 'near', { drift: { psi: 1000 } });
    expect(report.live).toBeUndefined();
    expect(report.estimated!.rows).toBe(4000);
    expect(report.estimated!.drop.accuracy!).toBeGreaterThan(0.05);
    expect(outcome.triggered).toBe(true);
    expect(report.reasons).toHaveLength(1);
    expect(report.reasons[0]).toMatch(/^estimated performance \(CBPE, before labels\)/);

    await (await startLabels(env.client, env.config, { dataset: 'cb-near', source: await writeChurnCsv(env, o), label: 'churned' })).result();
    const after = await pass('cb-near', 'near-labeled', { drift: { psi: 1000 } });
    expect(after.report.live!.rows).toBe(4000);
    expect(Math.abs(after.report.live!.metrics.accuracy! - report.estimated!.accuracy!)).toBeLessThan(ACCURACY_TOLERANCE);
    expect(Math.abs(after.report.live!.metrics.rocAuc! - report.estimated!.rocAuc!)).toBeLessThan(AUC_TOLERANCE);
    expect(fs.readFileSync(after.outcome.markdownUri, 'utf8')).toMatch(/\| accuracy \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|/);
  });

  it('does not cross its threshold on a shift that moves rows away from the boundary, while PSI alarms', async () => {
    await ingestChurnData(env, { dataset: 'cb-far', rows: 4000, idOffset: 200_000, seed: 4, x2Shift: 1.5, unlabeled: true });
    await (await startScoring(env.client, env.config, { model: 'est', dataset: 'cb-far', runId: 'score-far', maxFlaggedShare: 1 })).result();
    const { outcome, report } = await pass('cb-far', 'far');
    expect(outcome.triggered).toBe(true);
    expect(report.reasons.join('; ')).toMatch(/feature drift in x2/);
    expect(report.reasons.join('; ')).not.toMatch(/estimated performance/);
    expect(report.estimated!.drop.accuracy!).toBeLessThanOrEqual(report.thresholds.maxEstimatedDrop);
  });
});
