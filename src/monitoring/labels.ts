import * as fs from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Contract } from '../contract/schema';
import { type CopiedFile, copyAllowedFiles, formatOf } from '../datasets/raw';
import { DUCKDB_TYPES } from '../contract/compile';
import { readRelation } from '../datasets/source';
import { userError } from '../errors';
import { closeMatches } from '../suggest';
import { queryRows } from '../sql/duckdb';
import { quoteIdent, quoteString } from '../sql/quote';
import type { ArtifactStore } from '../store/artifact-store';
import { layout, layoutGlobs } from '../store/layout';
import { sha256 } from '../store/hash';
import { keyExpression } from '../scoring/score';

/**
 * Labels that arrive after the predictions (`mlops labels <dataset> <file>`): the key columns and
 * the label column of the dataset's contract, stored as labels/<dataset>/<content hash>.parquet
 * with (dataset, key, label, received_at). Joined to prediction logs by key, they give live metrics.
 */
export interface LabelBatch {
  dataset: string;
  uri: string;
  rows: number;
  /** Rows without a key or label, left out. */
  rejected: number;
  /** Keys seen more than once in the file: the last row wins. */
  duplicateKeys: number;
  reused: boolean;
}

/** A dataset's label files, as a store URL (a path, or s3://…). */
export function labelsDir(store: ArtifactStore, dataset: string): string {
  return store.url(...layout.datasetLabels(dataset));
}

/** Every label file of every dataset, as a DuckDB glob: each file is written whole, so any file it matches is complete. */
export function labelsGlob(store: ArtifactStore): string {
  return store.url(...layoutGlobs.labelFiles);
}

export async function recordLabels(args: {
  conn: DuckDBConnection;
  store: ArtifactStore;
  dataset: string;
  contract: Contract;
  source: string;
  /** The label column in the file; default: the dataset contract's label. */
  label?: string;
  allowedRoots: readonly string[];
  receivedAt: string;
}): Promise<LabelBatch> {
  const { conn, store, dataset, contract } = args;
  const labelColumn = args.label ?? contract.label;
  if (!labelColumn)
    throw userError(
      'InvalidInput',
      `Dataset ${dataset} has no label column in its contract (data scored before its outcome is known); name the file's label column (--label <column>)`,
    );
  if (contract.key.length === 0) throw userError('InvalidInput', `Dataset ${dataset} has no key columns in its contract; labels are joined to predictions by key`);
  // Read from private copies of what was checked (see copyAllowedFiles), never from the paths again.
  const tmp = await store.makeTempDir(`labels-${dataset}`);
  try {
    return await storeLabels({ ...args, labelColumn, copies: await copyAllowedFiles(conn, args.source, args.allowedRoots, tmp) });
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

async function storeLabels(args: {
  conn: DuckDBConnection;
  store: ArtifactStore;
  dataset: string;
  contract: Contract;
  labelColumn: string;
  copies: CopiedFile[];
  receivedAt: string;
}): Promise<LabelBatch> {
  const { conn, store, dataset, contract, labelColumn } = args;
  const files = args.copies.map((c) => c.copy);
  const hashes = args.copies.map((c) => c.sha256);
  const id = sha256(`${labelColumn}\n${hashes.join('\n')}`).slice(0, 16);
  const fileKey = store.key(...layout.datasetLabels(dataset), `${id}.parquet`);
  const uri = store.backend.url(fileKey);
  const existing = await store.backend.exists(fileKey);
  // Read as written (CSV as text, nothing guessed or dropped), then keys cast to the dataset's own
  // types, so "00123" in a label file meets customer 123 the way the snapshot wrote it.
  const source = readRelation(files, formatOf(files), {}, 'validate');
  const [described] = await queryRows<{ names: string[] }>(conn, `SELECT list(column_name) AS names FROM (DESCRIBE SELECT * FROM ${source})`);
  const names = new Set(described?.names ?? []);
  const missing = [...contract.key, labelColumn].filter((c) => !names.has(c));
  if (missing.length) {
    const hints = missing.map((m) => closeMatches(m, [...names]).map((c) => `"${c}" for "${m}"`)).flat();
    throw userError(
      'SchemaMismatch',
      `The label file needs column(s) ${missing.map((m) => `"${m}"`).join(', ')} (the key and label of ${dataset}); it has ${[...names].map((n) => `"${n}"`).join(', ')}${hints.length ? `. Did you mean ${hints.join(', ')}?` : ''}`,
    );
  }
  const typed = contract.key.map((k) => {
    const type = contract.columns.find((c) => c.name === k)?.type ?? 'string';
    return `TRY_CAST(${quoteIdent(k)} AS ${DUCKDB_TYPES[type]}) AS ${quoteIdent(k)}`;
  });
  const relation = `(SELECT ${typed.join(', ')}, CAST(${quoteIdent(labelColumn)} AS VARCHAR) AS mlops_label FROM ${source})`;
  const key = keyExpression(contract);
  const label = 'mlops_label';
  const [counts] = await queryRows<{ total: number; rejected: number; duplicates: number }>(
    conn,
    `SELECT count(*) AS total, count(*) FILTER (WHERE ${key} IS NULL OR ${label} IS NULL) AS rejected,
            count(*) FILTER (WHERE ${key} IS NOT NULL AND ${label} IS NOT NULL) - count(DISTINCT ${key}) FILTER (WHERE ${label} IS NOT NULL) AS duplicates
     FROM ${relation}`,
  );
  const total = counts?.total ?? 0;
  const rejected = counts?.rejected ?? 0;
  if (total - rejected === 0) throw userError('InvalidInput', `The label file has no rows with both a key (of the dataset's key type) and a label (${total} rows read)`);
  if (!existing) {
    // Content-addressed and written whole (locally renamed into place, on S3 one upload): a second writer writes the same bytes.
    await store.backend.writeWhole(fileKey, (target) =>
      conn
        .run(
          `COPY (SELECT ${quoteString(dataset)} AS dataset, key, label, ${quoteString(args.receivedAt)}::TIMESTAMP AS received_at FROM (
         SELECT ${key} AS key, ${label} AS label, row_number() OVER () AS line FROM ${relation})
       WHERE key IS NOT NULL AND label IS NOT NULL QUALIFY row_number() OVER (PARTITION BY key ORDER BY line DESC) = 1)
       TO ${quoteString(target)} (FORMAT parquet)`,
        )
        .then(() => undefined),
    );
  }
  return { dataset, uri, rows: total - rejected - (counts?.duplicates ?? 0), rejected, duplicateKeys: counts?.duplicates ?? 0, reused: existing };
}
