import type { ArtifactStore } from '../store/artifact-store';
import { urlJoin } from '../store/backend';
import { layout } from '../store/layout';
import { ONLINE_RUN_PREFIX, RUN_FILE, type ScoreRun } from './runs';

export interface ExpiredOnlinePart {
  model: string;
  runId: string;
  /** The part's store key. */
  key: string;
  bytes: number;
  writtenAt: string;
}

/**
 * What the retention sweep deletes below predictions/, found from one listing of it:
 * - batch runs past their retention (`retentionDays` of their scoring run, in its run.json);
 *   the folder to delete is where the run was found, never a path read from the run's file;
 * - parts of the model servers' online logs (`online-…` runs, which have no run.json and so no
 *   expiresAt) written more than `onlineDays` before `asOf`. A server keeps appending parts for as
 *   long as it runs, so parts expire one by one, by the time each was written; every part is whole
 *   once it exists, so deleting one never leaves a reader half a file.
 * Listed through the backend (not store.path): the sweep runs on every store, also where no
 * prediction log is kept yet.
 */
export async function expiredPredictionLogs(
  store: ArtifactStore,
  asOf: Date,
  onlineDays: number,
): Promise<{ runs: Array<{ run: ScoreRun; dir: string }>; onlineParts: ExpiredOnlinePart[] }> {
  const before = asOf.getTime() - onlineDays * 86_400_000;
  const objects = await store.backend.list(store.key(...layout.predictions()));
  // predictions/<model>/<runId>/<file>: a run with a run.json is a batch run, whatever its name.
  const runFiles = objects.map((o) => o.key.split('/')).filter((segments) => segments.length === 4 && segments[3] === RUN_FILE);
  const published = new Set(runFiles.map((segments) => segments.slice(0, 3).join('/')));
  const runs: Array<{ run: ScoreRun; dir: string }> = [];
  for (const [, model, id] of runFiles) {
    const dir = store.url(...layout.predictionRun(model!, id!));
    const run = await store.readJson<ScoreRun>(urlJoin(dir, RUN_FILE)).catch(() => undefined);
    if (run && Date.parse(run.expiresAt) <= asOf.getTime()) runs.push({ run, dir });
  }
  const onlineParts: ExpiredOnlinePart[] = [];
  for (const o of objects) {
    const segments = o.key.split('/');
    const [, model, runId, file] = segments;
    if (segments.length !== 4 || !model || !runId?.startsWith(ONLINE_RUN_PREFIX) || !file?.endsWith('.parquet')) continue;
    if (published.has(segments.slice(0, 3).join('/')) || o.modifiedAt.getTime() > before) continue;
    onlineParts.push({ model, runId, key: o.key, bytes: o.size, writtenAt: o.modifiedAt.toISOString() });
  }
  return { runs, onlineParts };
}
