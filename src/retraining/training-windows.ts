/**
 * What each retraining attempt trains on. `original`: the original training data (production's
 * first training dataset). `original+production` (default): that plus the labeled production rows
 * — the snapshots production scored, joined with their late labels — when there are enough of
 * them, else the original data alone. `production`: the labeled production rows alone.
 * Kept apart from request.ts (zod): workflow code imports it, so it must stay pure.
 */
export const TRAINING_WINDOWS = ['original', 'original+production', 'production'] as const;
export type TrainingWindow = (typeof TRAINING_WINDOWS)[number];
export const DEFAULT_TRAINING_WINDOW: TrainingWindow = 'original+production';
