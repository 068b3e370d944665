import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Contract } from '../contract/schema';
import { quoteString } from '../sql/quote';
import type { ArtifactStore } from '../store/artifact-store';
import { buildDatasetVersion } from './ingest';
import type { DatasetLineage, DatasetVersionRef } from './manifest';
import { stageRawSource } from './raw';

/**
 * Rows computed from other artifacts (labeled production data, training windows, judging sets)
 * become a dataset version the way a file does: written to Parquet, staged as a raw copy, checked
 * against the contract, snapshotted, profiled and published by the ingestion code itself — so a
 * derived version is as immutable, content-addressed and verifiable as an ingested one, and its
 * manifest records its lineage. Rows that break the contract are quarantined with their reasons,
 * never refused as a whole: the caller decides whether what is left is enough.
 */
export async function publishDerivedVersion(args: {
  conn: DuckDBConnection;
  store: ArtifactStore;
  dataset: string;
  contract: Contract;
  lineage: DatasetLineage;
  /** A query producing exactly the contract's columns. */
  rows: string;
  now: Date;
  progress?: (phase: string, details?: Record<string, number>) => void;
}): Promise<DatasetVersionRef> {
  const { conn, store, dataset } = args;
  const tmp = await store.makeTempDir(`derived-${dataset}`);
  try {
    const file = path.join(tmp, `${dataset}.parquet`);
    // Sorted, so the same rows make the same bytes (and so the same version id) whatever order they were computed in.
    await conn.run(`COPY (SELECT * FROM (${args.rows}) ORDER BY ALL) TO ${quoteString(file)} (FORMAT parquet)`);
    // The raw copy of derived rows is the lineage's sources, which stay: it expires at once (the sweep's grace still applies).
    const staged = await stageRawSource({ conn, store, dataset, source: file, format: 'parquet', retentionDays: 0, allowedRoots: [tmp], now: args.now });
    return await buildDatasetVersion({
      conn,
      store,
      dataset,
      staged,
      contract: args.contract,
      lineage: args.lineage,
      maxRejectedFraction: 1,
      now: args.now,
      progress: args.progress,
    });
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
