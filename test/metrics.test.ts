import { describe, expect, it } from 'vitest';
import { binaryMetrics, brier, logLoss, multiclassMetrics, regressionMetrics, rocAuc } from '../src/metrics';

describe('classification metrics, checked by hand', () => {
  // y: 1 0 1 1 0 0 ; p: .9 .4 .35 .8 .1 .6 → at 0.5: predicted 1 0 0 1 0 1
  const y = [1, 0, 1, 1, 0, 0];
  const p = [0.9, 0.4, 0.35, 0.8, 0.1, 0.6];

  it('accuracy, precision, recall, F1 at the 0.5 threshold', () => {
    const m = binaryMetrics(y, p);
    // tp=2 (rows 0,3), fp=1 (row 5), fn=1 (row 2), tn=2
    expect(m.accuracy).toBeCloseTo(4 / 6, 12);
    expect(m.precision).toBeCloseTo(2 / 3, 12);
    expect(m.recall).toBeCloseTo(2 / 3, 12);
    expect(m.f1).toBeCloseTo(2 / 3, 12);
  });

  it('ROC AUC counts concordant pairs, ties as half', () => {
    // positives .9 .35 .8 vs negatives .4 .1 .6: concordant pairs 3+3 + (0.35>0.1 only) 1 = 7 of 9
    expect(rocAuc(y, p)).toBeCloseTo(7 / 9, 12);
    expect(rocAuc([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5])).toBeCloseTo(0.5, 12);
    expect(rocAuc([1, 1], [0.2, 0.3])).toBeNaN();
  });

  it('log loss and Brier score', () => {
    const expected = -(Math.log(0.9) + Math.log(0.6) + Math.log(0.35) + Math.log(0.8) + Math.log(0.9) + Math.log(0.4)) / 6;
    expect(logLoss(y, p)).toBeCloseTo(expected, 12);
    const b = (0.01 + 0.16 + 0.4225 + 0.04 + 0.01 + 0.36) / 6;
    expect(brier(y, p)).toBeCloseTo(b, 12);
    expect(Number.isFinite(logLoss([1], [0]))).toBe(true);
  });

  it('multiclass accuracy, macro F1 and log loss', () => {
    const actual = [0, 1, 2, 2];
    const probs = [0.7, 0.2, 0.1, 0.1, 0.8, 0.1, 0.2, 0.5, 0.3, 0.1, 0.1, 0.8];
    const m = multiclassMetrics(actual, probs, 3);
    // predicted 0,1,1,2: class0 f1=1, class1 p=1/2 r=1 f1=2/3, class2 p=1 r=1/2 f1=2/3
    expect(m.accuracy).toBeCloseTo(0.75, 12);
    expect(m.macroF1).toBeCloseTo((1 + 2 / 3 + 2 / 3) / 3, 12);
    expect(m.logLoss).toBeCloseTo(-(Math.log(0.7) + Math.log(0.8) + Math.log(0.3) + Math.log(0.8)) / 4, 12);
  });
});

describe('regression metrics, checked by hand', () => {
  it('RMSE, MAE and R²', () => {
    const m = regressionMetrics([3, -0.5, 2, 7], [2.5, 0.0, 2, 8]);
    expect(m.mae).toBeCloseTo(0.5, 12);
    expect(m.rmse).toBeCloseTo(Math.sqrt(0.375), 12);
    expect(m.r2).toBeCloseTo(0.9486081370449679, 12); // scikit-learn's documented example
  });
});
