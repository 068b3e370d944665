import type { ArtifactStore } from '../store/artifact-store';
import { joinKey, urlJoin } from '../store/backend';
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

/** A run's folder as a store URL (a path, or s3://…): run.json and, on a store that cannot rename, the attempt its parts are under. */
export function runUrl(store: ArtifactStore, model: string, runId: string): string {
  return store.url(...layout.predictionRun(model, runId));
}

/** Runs are published by their run.json, written last: a folder without one is not listed (on S3 it is swept later, see datasets/sweep.ts). */
export async function listRuns(store: ArtifactStore, model: string): Promise<ScoreRun[]> {
  const ids = await store.backend.children(store.key(...layout.predictionRuns(model)));
  const runs = await Promise.all(ids.map((id) => store.readJson<ScoreRun>(store.url(...layout.scoringRun(model, id)))));
  return runs.filter((r): r is ScoreRun => r !== undefined).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** The run ids of the model servers' logs start with this (`online-<time>-<server>`); batch runs' do not. */
export const ONLINE_RUN_PREFIX = 'online-';

const PART_FILE = /^part-[^/]*\.parquet$/;

/**
 * The log files of a model's published runs (every model's without one), for DuckDB to read:
 * the parts each run.json names, and for a folder without run.json (the online log of `mlops
 * serve`, whose parts are each renamed into place whole) its part files. A run folder on S3
 * without run.json holds only unpublished attempts, so nothing half-written is ever read.
 */
export async function predictionLogFiles(store: ArtifactStore, model?: string, onlyRuns: (runId: string) => boolean = () => true): Promise<string[]> {
  const models = model === undefined ? await store.backend.children(store.key(...layout.predictions())) : [model];
  const files: string[] = [];
  for (const m of models) {
    const runsKey = store.key(...layout.predictionRuns(m));
    for (const id of (await store.backend.children(runsKey)).filter(onlyRuns)) {
      const run = await store.readJson<ScoreRun>(store.url(...layout.scoringRun(m, id)));
      if (run) files.push(...run.parts.map((p) => relocated(store, runUrl(store, m, id), id, p)));
      else files.push(...(await store.backend.children(joinKey(runsKey, id))).filter((n) => PART_FILE.test(n)).map((n) => urlJoin(runUrl(store, m, id), n)));
    }
  }
  return files;
}

/**
 * A part URL from run.json, read where the run is now: the store may have moved (another
 * MLOPS_DATA_DIR, a copied bucket) since the run recorded absolute locations.
 */
function relocated(store: ArtifactStore, run: string, runId: string, part: string): string {
  if (store.backend.keyOf(part) !== undefined) return part;
  const segments = part.split(/[\\/]/);
  return urlJoin(run, ...segments.slice(segments.lastIndexOf(runId) + 1));
}
