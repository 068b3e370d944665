import { describe, expect, it } from 'vitest';
import { closeMatches, didYouMean, editDistance } from '../src/suggest';

describe('editDistance', () => {
  it('counts insertions, deletions, substitutions and adjacent swaps as one edit each', () => {
    expect(editDistance('nEstimator', 'nEstimators')).toBe(1);
    expect(editDistance('learningRate', 'learnignRate')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
  });
});

describe('closeMatches', () => {
  it('puts a case-only difference first, then near misses; leaves unrelated names out', () => {
    expect(closeMatches('species', ['Island', 'Species', 'sex', 'body_mass_g'])).toEqual(['Species']);
    expect(closeMatches('nEstimator', ['nEstimators', 'learningRate', 'maxDepth'])).toEqual(['nEstimators']);
    expect(closeMatches('churn', ['churn-v2', 'churm', 'people'])).toEqual(['churm']);
    expect(closeMatches('x', ['y', 'z', 'xx'])).toEqual(['xx', 'y', 'z']);
    expect(closeMatches('weather', ['flights', 'cars'])).toEqual([]);
  });
});

describe('didYouMean', () => {
  it('offers the close matches and the valid names', () => {
    expect(didYouMean('species', ['Island', 'Species'], 'columns')).toBe('; did you mean "Species"? (columns: Island, Species)');
    expect(didYouMean('zzz', ['a', 'b', 'c'], 'models', 2)).toBe(' (models: a, b, … 1 more)');
    expect(didYouMean('m', [], 'models')).toBe('; there are no models yet');
  });
});
