import type { ArtifactStore } from '../store/artifact-store';

/** Where a model's monitoring reports live: reports/monitoring/<model>/<runId>.json (+ .md). */
export function monitoringDir(store: ArtifactStore, model: string): string {
  return store.path('reports', 'monitoring', model);
}
