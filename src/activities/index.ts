import type { DuckDBInstance } from '@duckdb/node-api';
import type { ArtifactStore } from '../store/artifact-store';
import { createDatasetActivities } from './datasets';
import { createRetentionActivities } from './retention';

export interface ActivityDeps {
  store: ArtifactStore;
  duckdb: DuckDBInstance;
  ingestAllowedRoots: readonly string[];
}

/** Every activity, built from injected dependencies so tests and workers choose their own store. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createDatasetActivities(deps),
    ...createRetentionActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
