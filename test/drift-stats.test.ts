import { describe, expect, it } from 'vitest';
import { binnedKs, chiSquare, chiSquareSurvival, kolmogorovSurvival, logGamma, psi } from '../src/monitoring/stats';

describe('drift statistics', () => {
  it('PSI: zero for the same shares, the textbook value for a known shift, finite with empty bins', () => {
    expect(psi([10, 20, 30, 40], [1, 2, 3, 4])).toBeCloseTo(0, 12);
    // Hand computation: (0.4−0.25)·ln(0.4/0.25) + (0.1−0.25)·ln(0.1/0.25) + 2 × 0 = 0.070501 + 0.137444
    expect(psi([25, 25, 25, 25], [40, 10, 25, 25])).toBeCloseTo(0.2079442, 6);
    expect(Number.isFinite(psi([50, 50, 0], [0, 50, 50]))).toBe(true);
  });

  it('chi-square survival matches tabulated critical values', () => {
    expect(chiSquareSurvival(3.841459, 1)).toBeCloseTo(0.05, 6);
    expect(chiSquareSurvival(5.991465, 2)).toBeCloseTo(0.05, 6);
    expect(chiSquareSurvival(23.209251, 10)).toBeCloseTo(0.01, 6);
    expect(chiSquareSurvival(0.5, 3)).toBeCloseTo(0.918891, 5); // small x: the series branch
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
  });

  it('chi-square test: no evidence for proportional counts, strong evidence for a shifted category mix', () => {
    const same = chiSquare([100, 200, 300], [10, 20, 30]);
    expect(same.statistic).toBeCloseTo(0, 12);
    expect(same.pValue).toBeCloseTo(1, 12);
    const shifted = chiSquare([100, 200, 300], [300, 200, 100]);
    // expected 100, 200, 300 → (200²/100 + 0 + 200²/300) = 533.33
    expect(shifted.statistic).toBeCloseTo(533.3333, 3);
    expect(shifted.df).toBe(2);
    expect(shifted.pValue).toBeLessThan(1e-100);
  });

  it('Kolmogorov survival and the binned KS test', () => {
    expect(kolmogorovSurvival(1.358099)).toBeCloseTo(0.05, 4);
    expect(kolmogorovSurvival(1.627624)).toBeCloseTo(0.01, 4);
    const same = binnedKs([100, 100, 100, 100], [50, 50, 50, 50]);
    expect(same.statistic).toBe(0);
    expect(same.pValue).toBe(1);
    const moved = binnedKs([100, 100, 100, 100], [0, 0, 100, 100]);
    expect(moved.statistic).toBeCloseTo(0.5, 12);
    expect(moved.pValue).toBeLessThan(1e-10);
  });
});
