import type { ModelCard, TrainerConfig } from '../models/card';

/** How a model version was trained: what the retraining loop starts from. */
export interface TrainingSpec {
  dataset: string;
  trainer: TrainerConfig;
  seed: number;
  label: string;
  features: string[];
}

export function trainingSpecOf(card: ModelCard): TrainingSpec {
  return { dataset: card.dataset.name, trainer: card.trainer, seed: card.seed, label: card.label, features: card.features.map((f) => f.name) };
}
