import type { ModelCard } from '../models/card';
import type { ScoreRequest } from './request';
import type { ScoreRun } from './runs';

/**
 * Acceptable range: configured, or the card's expected [min, max] widened by the margin on both
 * sides. Probabilities are widened on the log-odds scale, so the range stays inside (0, 1) and
 * "more extreme than anything seen on the test split" keeps its meaning near 0 and 1.
 */
export function acceptableRange(card: ModelCard, request: Pick<ScoreRequest, 'range' | 'rangeMargin'>): ScoreRun['range'] {
  if (request.range) return { ...request.range, source: 'configured' };
  const { min, max } = card.expectedPredictionRange;
  if (card.task === 'regression') {
    const margin = (max - min) * request.rangeMargin;
    return { min: min - margin, max: max + margin, source: 'model card' };
  }
  const clamp = (p: number) => Math.min(1 - 1e-7, Math.max(1e-7, p));
  const logit = (p: number) => Math.log(clamp(p) / (1 - clamp(p)));
  const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
  const [lo, hi] = [logit(min), logit(max)];
  const margin = (hi - lo) * request.rangeMargin;
  return { min: sigmoid(lo - margin), max: sigmoid(hi + margin), source: 'model card' };
}
