import type { DuckDBInstance } from '@duckdb/node-api';
import { buildDatasetVersion } from '../datasets/ingest';
import type { DatasetVersionRef } from '../datasets/manifest';
import { readStagedContract, type StagedSource, stageRawSource } from '../datasets/raw';
import { type IngestRequest, ingestRequestSchema } from '../datasets/request';
import type { ArtifactStore } from '../store/artifact-store';
import { parseInput } from '../validation';
import { withDuckDbActivity } from './progress';

export interface DatasetActivityDeps {
  store: ArtifactStore;
  duckdb: DuckDBInstance;
  ingestAllowedRoots: readonly string[];
  maxColumns: number;
}

export function createDatasetActivities(deps: DatasetActivityDeps) {
  return {
    /** Copies the source into raw/ with its retention expiry; returns the copy's fingerprint. */
    async stageRawSource(input: IngestRequest): Promise<StagedSource> {
      const req = parseInput(ingestRequestSchema, input, 'ingest request');
      return withDuckDbActivity(deps.duckdb, async (conn, progress) => {
        progress('copy-raw');
        return stageRawSource({
          conn,
          store: deps.store,
          dataset: req.dataset,
          source: req.source,
          format: req.format,
          csv: req.csv,
          contractRef: req.contractRef,
          retentionDays: req.retentionDays,
          allowedRoots: deps.ingestAllowedRoots,
          now: new Date(),
        });
      });
    },

    /** Validates, quarantines, snapshots, profiles and publishes; idempotent by content hash. */
    async buildDatasetVersion(input: { request: IngestRequest; staged: StagedSource }): Promise<DatasetVersionRef> {
      const req = parseInput(ingestRequestSchema, input.request, 'ingest request');
      const contract = req.contract ?? (input.staged.contract ? await readStagedContract(input.staged.contract) : undefined);
      return withDuckDbActivity(deps.duckdb, (conn, progress) =>
        buildDatasetVersion({
          conn,
          store: deps.store,
          dataset: req.dataset,
          staged: input.staged,
          contract,
          maxRejectedFraction: req.maxRejectedFraction,
          maxColumns: deps.maxColumns,
          now: new Date(),
          progress,
        }),
      );
    },
  };
}
