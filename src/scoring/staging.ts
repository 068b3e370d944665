import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ArtifactStore } from '../store/artifact-store';
import { layout, RUN_FILE } from '../store/layout';
import { partName } from './parts';
import { predictionsDir } from './runs';

/**
 * Where a split scoring run's parts wait until the run is finished: one folder per part, published
 * whole by the part's activity (log files + STAGED_PART_FILE), read by the finishing activity,
 * which links the files into the run folder and then discards the run's staging.
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
  /** The part's log files in order, names within its staging folder. */
  files: string[];
}

export function runStagingDir(store: ArtifactStore, model: string, runId: string): string {
  return store.path(...layout.scoringStaging(model, runId));
}

export function partStagingDir(store: ArtifactStore, model: string, runId: string, index: number): string {
  return store.path(...layout.scoringStaging(model, runId, partName(index)));
}

/** The newest modification time inside a run's staging (the folder and the entries one and two levels down). */
async function newestChange(dir: string): Promise<number> {
  let newest = (await fs.stat(dir)).mtimeMs;
  for (const entry of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, (await fs.stat(p).catch(() => undefined))?.mtimeMs ?? 0);
    if (entry.isDirectory()) {
      for (const inner of await fs.readdir(p).catch(() => [] as string[])) newest = Math.max(newest, (await fs.stat(path.join(p, inner)).catch(() => undefined))?.mtimeMs ?? 0);
    }
  }
  return newest;
}

/**
 * Removes the staging of runs that will not finish it: runs already published (a finish that
 * died between publishing and discarding), and runs whose staging has not changed for
 * `olderThanMs` (a run that failed or was terminated). A younger staging may belong to a run whose
 * other parts are still scoring on another worker.
 */
export async function sweepScoringStaging(store: ArtifactStore, olderThanMs: number, now = Date.now()): Promise<string[]> {
  // Scoring runs on a local store only so far (models are not on S3 yet): nothing staged elsewhere.
  if (store.backend.kind !== 'local') return [];
  const root = store.path(...layout.scoringStaging());
  const removed: string[] = [];
  for (const model of await fs.readdir(root).catch(() => [] as string[])) {
    for (const runId of await fs.readdir(path.join(root, model)).catch(() => [] as string[])) {
      const dir = path.join(root, model, runId);
      const published = await fs.stat(path.join(predictionsDir(store, model), runId, RUN_FILE)).then(
        () => true,
        () => false,
      );
      const stale = published || now - (await newestChange(dir).catch(() => now)) > olderThanMs;
      if (!stale) continue;
      await store.discardDir(dir);
      removed.push(dir);
    }
  }
  return removed;
}
