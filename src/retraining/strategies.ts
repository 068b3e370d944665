import type { TrainerConfig } from '../models/card';
import type { Strategy } from './request';

/** Kept apart from request.ts (zod, trainers): workflow code imports it, so it must stay pure. */
/** Variations of a trainer config, tried after the config itself: more capacity, then less. */
export function defaultStrategies(trainer: TrainerConfig): Strategy[] {
  const p = trainer.params;
  switch (trainer.kind) {
    case 'logistic':
      return [{ trainer }, { trainer: { ...trainer, params: { ...p, C: (p.C ?? 1) * 10 } } }, { trainer: { ...trainer, params: { ...p, C: (p.C ?? 1) / 10 } } }];
    case 'linear':
      return [{ trainer }, { trainer: { ...trainer, params: { ...p, alpha: (p.alpha ?? 1) / 10 } } }, { trainer: { ...trainer, params: { ...p, alpha: (p.alpha ?? 1) * 10 } } }];
    case 'gbdt':
      return [
        { trainer },
        { trainer: { ...trainer, params: { ...p, nEstimators: Math.min(5000, (p.nEstimators ?? 100) * 2), learningRate: (p.learningRate ?? 0.1) / 2 } } },
        { trainer: { ...trainer, params: { ...p, maxDepth: Math.min(32, (p.maxDepth ?? 6) + 2) } } },
      ];
    case 'command':
      return [{ trainer }];
  }
}
