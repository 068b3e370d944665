import type { DuckDBInstance } from '@duckdb/node-api';
import type { Client } from '@temporalio/client';
import type { ArtifactStore } from '../store/artifact-store';
import { createDatasetActivities } from './datasets';
import { createEvaluationActivities } from './evaluation';
import { createLandingActivities } from './landing';
import { createRetentionActivities } from './retention';
import { createScoringActivities } from './scoring';
import { createMonitoringActivities } from './monitoring';
import { createNotifyActivities } from './notify';
import { createOnlineActivities } from './online';
import { createRegistryActivities } from './registry';
import { createRetrainingActivities } from './retraining';
import { createTrainingActivities } from './training';

export interface ActivityDeps {
  store: ArtifactStore;
  duckdb: DuckDBInstance;
  ingestAllowedRoots: readonly string[];
  /** For activities that talk to other workflows (e.g. registering a model version). */
  client: Client;
  taskQueue: string;
  trainerCommands: readonly string[];
  /** MLOPS_MAX_COLUMNS. */
  maxColumns: number;
  /** MLOPS_WEB_UI_URL (default http://localhost:8233): the Web UI links in flag messages. */
  webUiUrl?: string;
}

/** Every activity, built from injected dependencies so tests and workers choose their own store. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createDatasetActivities(deps),
    ...createRetentionActivities(deps),
    ...createTrainingActivities(deps),
    ...createRegistryActivities(deps),
    ...createEvaluationActivities(deps),
    ...createScoringActivities(deps),
    ...createMonitoringActivities(deps),
    ...createOnlineActivities(deps),
    ...createRetrainingActivities(deps),
    ...createLandingActivities(deps),
    ...createNotifyActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
