import type { DuckDBInstance } from '@duckdb/node-api';
import { listVersions, resolveVersion } from '../datasets/catalog';
import { buildDatasetVersion, rebuildSnapshot } from '../datasets/ingest';
import { snapshotDamage } from '../datasets/integrity';
import type { DatasetVersionRef, RepairOutcome } from '../datasets/manifest';
import { readStagedContract, type StagedSource, stagedFromRawCopy, stageRawSource } from '../datasets/raw';
import { type IngestRequest, ingestRequestSchema, type RepairRequest, repairRequestSchema } from '../datasets/request';
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
          sourceSha256: req.sourceSha256,
          retentionDays: req.retentionDays,
          allowedRoots: deps.ingestAllowedRoots,
          now: new Date(),
        });
      });
    },

    /** Validates, quarantines, snapshots, profiles and publishes; idempotent by content hash. */
    async buildDatasetVersion(input: { request: IngestRequest; staged: StagedSource }): Promise<DatasetVersionRef> {
      const req = parseInput(ingestRequestSchema, input.request, 'ingest request');
      const given = req.contract ?? (input.staged.contract ? await readStagedContract(deps.store, input.staged.contract) : undefined);
      const reused = !given && req.reuseContract ? (await listVersions(deps.store, req.dataset)).at(-1) : undefined;
      return withDuckDbActivity(deps.duckdb, (conn, progress) =>
        buildDatasetVersion({
          conn,
          store: deps.store,
          dataset: req.dataset,
          staged: input.staged,
          contract: given ?? reused?.contract,
          ...(reused ? { contractFrom: `${reused.dataset}@${reused.version}` } : {}),
          inferOptions: req.infer,
          maxRejectedFraction: req.maxRejectedFraction,
          maxColumns: deps.maxColumns,
          now: new Date(),
          progress,
        }),
      );
    },

    /** `mlops datasets repair`: checks a version's snapshot and rebuilds a damaged one from the raw copy. */
    async repairSnapshot(input: RepairRequest): Promise<RepairOutcome> {
      const req = parseInput(repairRequestSchema, input, 'repair request');
      const manifest = await resolveVersion(deps.store, `${req.dataset}@${req.version}`);
      const manifestUri = deps.store.manifestFile(manifest.dataset, manifest.version);
      const outcome = { dataset: manifest.dataset, version: manifest.version, manifestUri };
      const damage = await snapshotDamage(manifest, deps.store);
      if (!damage) return { ...outcome, intact: true };
      const staged = await stagedFromRawCopy(deps.store, manifest);
      const repaired = await withDuckDbActivity(deps.duckdb, (conn, progress) =>
        // The rows are compared with the record instead of held to a threshold.
        rebuildSnapshot({
          conn,
          store: deps.store,
          dataset: manifest.dataset,
          staged,
          maxRejectedFraction: 1,
          maxColumns: deps.maxColumns,
          now: new Date(),
          progress,
          manifest,
          damage,
          from: 'raw-copy',
        }),
      );
      return { ...outcome, intact: false, repaired: repaired.repairs!.at(-1)! };
    },
  };
}
