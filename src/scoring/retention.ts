import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ArtifactStore } from '../store/artifact-store';
import { layout } from '../store/layout';
import { predictionsDir, RUN_FILE, type ScoreRun } from './runs';

/**
 * Prediction logs past their retention (`retentionDays` of their scoring run), across all models.
 * The folder to delete is where the run was found, never a path read from the run's file.
 */
export async function expiredPredictionRuns(store: ArtifactStore, asOf: Date): Promise<Array<{ run: ScoreRun; dir: string }>> {
  const models = await fs.readdir(store.path(...layout.predictions()), { withFileTypes: true }).catch(() => []);
  const expired: Array<{ run: ScoreRun; dir: string }> = [];
  for (const m of models.filter((d) => d.isDirectory())) {
    const root = predictionsDir(store, m.name);
    for (const id of await fs.readdir(root).catch(() => [] as string[])) {
      const dir = path.join(root, id);
      const run = await store.readJson<ScoreRun>(path.join(dir, RUN_FILE)).catch(() => undefined);
      if (run && Date.parse(run.expiresAt) <= asOf.getTime()) expired.push({ run, dir });
    }
  }
  return expired;
}
