import type { ArtifactStore } from '../store/artifact-store';
import { layout } from '../store/layout';

/** Where a model's monitoring reports live: reports/monitoring/<model>/<runId>.json (+ .md). */
export function monitoringDir(store: ArtifactStore, model: string): string {
  return store.path(...layout.monitoring(model));
}
