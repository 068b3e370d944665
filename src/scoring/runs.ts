import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ArtifactStore } from '../store/artifact-store';
import { layout, RUN_FILE, RUN_PAGE } from '../store/layout';
import type { ScoreRunSummary } from './summary';

export { RUN_FILE, RUN_PAGE };

/** The record of one scoring run, stored as run.json beside its prediction log parts. */
export interface ScoreRun {
  runId: string;
  model: string;
  modelVersion: string;
  dataset: string;
  datasetVersion: string;
  createdAt: string;
  /** The retention sweep deletes the run's folder after this. */
  expiresAt: string;
  rows: number;
  outOfRange: number;
  notANumber: number;
  flaggedShare: number;
  range: { min: number; max: number; source: 'configured' | 'model card' };
  maxFlaggedShare: number;
  /** Set when flaggedShare > maxFlaggedShare: what a person should look at. */
  alert?: string;
  output: { min: number | null; mean: number | null; max: number | null };
  logUri: string;
  parts: string[];
  runUri: string;
  /** The run as a page with charts, beside run.json (runs before pages were written lack it). */
  htmlUri?: string;
  /** The numbers behind the page's charts (runs before pages were written lack it). */
  summary?: ScoreRunSummary;
  seconds: { total: number; inference: number };
}

export function predictionsDir(store: ArtifactStore, model: string): string {
  return store.path(...layout.predictionRuns(model));
}

/** Every part file of a model's prediction logs, as a DuckDB glob. */
export function predictionLogGlob(store: ArtifactStore, model: string): string {
  return path.join(predictionsDir(store, model), '*', 'part-*.parquet');
}

export async function listRuns(store: ArtifactStore, model: string): Promise<ScoreRun[]> {
  const dir = predictionsDir(store, model);
  const ids = await fs.readdir(dir).catch(() => [] as string[]);
  const runs = await Promise.all(ids.map((id) => store.readJson<ScoreRun>(path.join(dir, id, RUN_FILE))));
  return runs.filter((r): r is ScoreRun => r !== undefined).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}
