import type { DuckDBInstance } from '@duckdb/node-api';
import { Context } from '@temporalio/activity';
import { readVerifiedManifest } from '../datasets/integrity';
import { resolveVersion } from '../datasets/catalog';
import type { ArtifactStore } from '../store/artifact-store';
import { type TrainRequest, trainRequestSchema } from '../training/request';
import { type TrainedVersion, trainModelVersion } from '../training/train';
import { parseInput } from '../validation';
import { withDuckDbActivity } from './progress';

export interface TrainingActivityDeps {
  store: ArtifactStore;
  duckdb: DuckDBInstance;
  trainerCommands: readonly string[];
}

export function createTrainingActivities(deps: TrainingActivityDeps) {
  return {
    /** "latest" or a prefix → one concrete version, fixed for the rest of the workflow. */
    async resolveDatasetVersion(input: { dataset: string; version: string }): Promise<{ version: string; manifestUri: string; rows: number }> {
      const manifest = await resolveVersion(deps.store, `${input.dataset}@${input.version}`);
      return {
        version: manifest.version,
        manifestUri: deps.store.manifestFile(manifest.dataset, manifest.version),
        // The snapshot's row count: what a scoring run plans its parts by (histories from before lack it).
        rows: manifest.rows.accepted,
      };
    },

    async trainModelVersion(input: { request: TrainRequest; manifestUri: string }): Promise<TrainedVersion> {
      const request = parseInput(trainRequestSchema, input.request, 'train request');
      const manifest = await readVerifiedManifest(deps.store, input.manifestUri);
      return withDuckDbActivity(deps.duckdb, (conn, progress) =>
        trainModelVersion({
          conn,
          store: deps.store,
          request: { ...request, datasetVersion: manifest.version },
          manifest,
          manifestUri: input.manifestUri,
          now: new Date(),
          allowedCommands: deps.trainerCommands,
          signal: Context.current().cancellationSignal,
          progress,
        }),
      );
    },
  };
}
