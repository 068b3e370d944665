import type { ArtifactStore } from '../store/artifact-store';
import { joinKey } from '../store/backend';
import { layout, RUN_FILE } from '../store/layout';
import { partName } from './parts';

/**
 * Where a split scoring run's parts wait until the run is finished: one folder per part in the
 * store (never below predictions/, so no reader of the logs sees them), published by the part's
 * activity with STAGED_PART_FILE as its marker (locally a folder renamed into place, on S3 an
 * attempt prefix below it), read by the finishing activity, which puts the files into the run's
 * own attempt (hard links, or server-side copies) and then discards the run's staging.
 */
export const STAGED_PART_FILE = 'staged.json';

/** What a part's activity scored, stored beside its files and returned to the workflow (small). */
export interface StagedPart {
  index: number;
  firstRow: number;
  /** Rows the plan gave the part (what it scored, unless the snapshot has fewer). */
  plannedRows: number;
  /** Which run these rows belong to: a later run under the same id does not take them. */
  modelVersion: string;
  datasetVersion: string;
  scoredAt: string;
  rows: number;
  outOfRange: number;
  notANumber: number;
  /** Sum of the in-range and out-of-range outputs (not-a-number rows excluded), for the run's mean. */
  output: { min: number | null; max: number | null; sum: number };
  inferenceMs: number;
  /** The part's log files in order, relative to its staging folder (`part-00000.parquet`, or `.attempt-…/part-00000.parquet` on S3). */
  files: string[];
}

export function runStagingKey(store: ArtifactStore, model: string, runId: string): string {
  return store.key(...layout.scoringStaging(model, runId));
}

export function partStagingKey(store: ArtifactStore, model: string, runId: string, index: number): string {
  return store.key(...layout.scoringStaging(model, runId, partName(index)));
}

export function stagedPartFileKey(store: ArtifactStore, model: string, runId: string, index: number): string {
  return joinKey(partStagingKey(store, model, runId, index), STAGED_PART_FILE);
}

/**
 * Removes the staging of runs that will not finish it: runs already published (a finish that
 * died between publishing and discarding), and runs whose staging has not changed for
 * `olderThanMs` (a run that failed or was terminated). A younger staging may belong to a run whose
 * other parts are still scoring on another worker. Works through the backend, so on either store.
 */
export async function sweepScoringStaging(store: ArtifactStore, olderThanMs: number, now = Date.now()): Promise<string[]> {
  const { backend } = store;
  const removed: string[] = [];
  const root = store.key(...layout.scoringStaging());
  for (const model of await backend.children(root)) {
    for (const runId of await backend.children(joinKey(root, model))) {
      const staging = runStagingKey(store, model, runId);
      const published = await backend.exists(store.key(...layout.predictionRun(model, runId), RUN_FILE));
      // A staging with no file yet counts as unchanged since forever: nothing in it to lose.
      const newest = Math.max(0, ...(await backend.list(staging)).map((o) => o.modifiedAt.getTime()));
      if (!published && now - newest <= olderThanMs) continue;
      await backend.delete(staging);
      removed.push(backend.url(staging));
    }
  }
  return removed;
}
