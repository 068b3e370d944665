import type { ArtifactStore } from '../store/artifact-store';
import { urlJoin } from '../store/backend';
import { layout } from '../store/layout';
import { ONLINE_RUN_PREFIX, RUN_FILE, type ScoreRun } from './runs';

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

export interface ExpiredOnlinePart {
  model: string;
  runId: string;
  /** The part's store key. */
  key: string;
  bytes: number;
  writtenAt: string;
}

/**
 * Parts of the model servers' online logs (`online-…` runs, which have no run.json and so no
 * expiresAt) written more than `days` before `asOf`. A server keeps appending parts for as long
 * as it runs, so parts expire one by one, by the time each was written; every part is whole once
 * it exists, so deleting one never leaves a reader half a file.
 */
export async function expiredOnlineLogParts(store: ArtifactStore, asOf: Date, days: number): Promise<ExpiredOnlinePart[]> {
  const before = asOf.getTime() - days * 86_400_000;
  const objects = await store.backend.list(store.key(...layout.predictions()));
  // predictions/<model>/<runId>/<file>: a run with a run.json is a batch run, whatever its name.
  const published = new Set(objects.filter((o) => o.key.endsWith(`/${RUN_FILE}`)).map((o) => o.key.split('/').slice(0, 3).join('/')));
  const expired: ExpiredOnlinePart[] = [];
  for (const o of objects) {
    const segments = o.key.split('/');
    const [, model, runId, file] = segments;
    if (segments.length !== 4 || !model || !runId?.startsWith(ONLINE_RUN_PREFIX) || !file?.endsWith('.parquet')) continue;
    if (published.has(segments.slice(0, 3).join('/')) || o.modifiedAt.getTime() > before) continue;
    expired.push({ model, runId, key: o.key, bytes: o.size, writtenAt: o.modifiedAt.toISOString() });
  }
  return expired;
}
