import type { ArtifactStore } from '../store/artifact-store';
import { urlJoin } from '../store/backend';
import { layout } from '../store/layout';

/** Where a model's monitoring reports live (a folder or an S3 prefix): reports/monitoring/<model>/<runId>.json (+ .md, .html). */
export function monitoringDir(store: ArtifactStore, model: string): string {
  return store.url(...layout.monitoring(model));
}

/** The URL of monitoring run `runId`'s report of `model`. */
export function monitoringFile(store: ArtifactStore, model: string, runId: string): string {
  return urlJoin(monitoringDir(store, model), `${runId}.json`);
}
