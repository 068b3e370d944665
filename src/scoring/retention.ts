import type { ArtifactStore } from '../store/artifact-store';
import { urlJoin } from '../store/backend';
import { layout } from '../store/layout';
import { RUN_FILE, type ScoreRun } from './runs';

/**
 * Prediction logs past their retention (`retentionDays` of their scoring run), across all models.
 * The folder to delete is where the run was found, never a path read from the run's file.
 */
export async function expiredPredictionRuns(store: ArtifactStore, asOf: Date): Promise<Array<{ run: ScoreRun; dir: string }>> {
  // Listed through the backend (not store.path): the sweep runs on every store, also where no prediction log is kept yet.
  const expired: Array<{ run: ScoreRun; dir: string }> = [];
  for (const model of await store.backend.children(store.key(...layout.predictions()))) {
    const root = store.url(...layout.predictionRuns(model));
    for (const id of await store.backend.children(store.key(...layout.predictionRuns(model)))) {
      const dir = urlJoin(root, id);
      const run = await store.readJson<ScoreRun>(urlJoin(dir, RUN_FILE)).catch(() => undefined);
      if (run && Date.parse(run.expiresAt) <= asOf.getTime()) expired.push({ run, dir });
    }
  }
  return expired;
}
