import type { DuckDBConnection } from '@duckdb/node-api';
import { DUCKDB_TYPES } from '../contract/compile';
import type { Contract } from '../contract/schema';
import { verifySnapshot } from '../datasets/integrity';
import type { DatasetLineage, DatasetManifest, LineageSource } from '../datasets/manifest';
import { labelsDir } from '../monitoring/labels';
import { listRuns } from '../scoring/runs';
import { keyExpression } from '../scoring/score';
import { queryRows } from '../sql/duckdb';
import { quoteIdent, quoteString } from '../sql/quote';
import type { ArtifactStore } from '../store/artifact-store';
import { urlJoin } from '../store/backend';
import { layout } from '../store/layout';

/**
 * Labeled production data in DuckDB: the snapshots production scored (found through the model's
 * scoring runs), joined by key with the late labels recorded for their datasets. The rows land in
 * a temporary table that also says where each row came from (which snapshot, which label file),
 * so that every version derived from it can record its lineage row for row.
 */
export type ScoringRunRef = DatasetLineage['scoringRuns'][number];

export interface ScoredSnapshot {
  manifest: DatasetManifest;
  runs: ScoringRunRef[];
  labelFiles: string[];
}

/** Columns every staged row carries beside the contract's own (names the contract schema reserves). */
export const ROW_KIND = '_mlops_kind';
export const ROW_SOURCE = '_mlops_source';
export const ROW_SOURCE_VERSION = '_mlops_source_version';
export const ROW_SCORED_AT = '_mlops_scored_at';
export const ROW_LABEL_FILE = '_mlops_label_file';

/**
 * The snapshots the model's scoring runs (since `since`) scored whose dataset has late labels.
 * Left out, with a note: snapshots that are gone or damaged, that key their rows differently from
 * the training data (labels could not be matched to them); and silently: derived versions (the
 * loop's own data) and those the caller counts as training data already.
 */
export async function findScoredSnapshots(
  store: ArtifactStore,
  model: string,
  options: { since?: string; trainingKey: readonly string[]; isTrainingData: (m: DatasetManifest) => boolean },
): Promise<{ snapshots: ScoredSnapshot[]; notes: string[] }> {
  const runs = (await listRuns(store, model)).filter((r) => r.rows > 0 && (!options.since || r.createdAt >= options.since));
  const bySnapshot = new Map<string, ScoringRunRef[]>();
  for (const r of runs) {
    const ref = `${r.dataset}@${r.datasetVersion}`;
    bySnapshot.set(ref, [
      ...(bySnapshot.get(ref) ?? []),
      { runId: r.runId, modelVersion: r.modelVersion, dataset: r.dataset, datasetVersion: r.datasetVersion, scoredAt: r.createdAt },
    ]);
  }
  const snapshots: ScoredSnapshot[] = [];
  const notes: string[] = [];
  for (const [ref, scoredBy] of [...bySnapshot.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const { dataset, datasetVersion } = scoredBy[0]!;
    const manifest = await store.readJson<DatasetManifest>(store.manifestFile(dataset, datasetVersion));
    if (!manifest) {
      notes.push(`scored snapshot ${ref} is gone: its rows are left out`);
      continue;
    }
    if (manifest.lineage || options.isTrainingData(manifest)) continue;
    const key = manifest.contract.key;
    if (key.length === 0 || !options.trainingKey.every((k) => manifest.contract.columns.some((c) => c.name === k))) {
      notes.push(`scored snapshot ${ref} does not have the training data's key (${options.trainingKey.join(', ')}): its rows are left out`);
      continue;
    }
    const labelFiles = (await store.backend.children(store.key(...layout.datasetLabels(dataset))))
      .filter((f) => f.endsWith('.parquet'))
      .map((f) => urlJoin(labelsDir(store, dataset), f));
    if (labelFiles.length === 0) continue;
    const damaged = await verifySnapshot(manifest, store).then(
      () => undefined,
      (err: Error) => err.message,
    );
    if (damaged) {
      // A damaged live snapshot must not stop retraining on the rest; the note says what to repair.
      notes.push(`${damaged}: its rows are left out`);
      continue;
    }
    snapshots.push({ manifest, runs: scoredBy.sort((a, b) => a.scoredAt.localeCompare(b.scoredAt) || a.runId.localeCompare(b.runId)), labelFiles });
  }
  return { snapshots, notes };
}

/** The training contract narrowed to the columns every scored snapshot has (and the label, which the labels supply). */
export function productionContract(training: Contract, snapshots: readonly ScoredSnapshot[]): Contract {
  const columns = training.columns.filter((c) => c.name === training.label || snapshots.every((s) => s.manifest.contract.columns.some((sc) => sc.name === c.name)));
  const kept = new Set(columns.map((c) => c.name));
  return { ...training, columns, ...(training.features ? { features: training.features.filter((f) => kept.has(f)) } : {}) };
}

/** `target`'s columns read from rows of `source` (aliased `alias`), cast to the target's types; NULL where the source lacks one. */
export function conformedColumns(target: Contract, source: Contract, alias: string, except?: string): string[] {
  return target.columns
    .filter((c) => c.name !== except)
    .map((c) => {
      const type = DUCKDB_TYPES[c.type];
      return source.columns.some((s) => s.name === c.name)
        ? `TRY_CAST(${alias}.${quoteIdent(c.name)} AS ${type}) AS ${quoteIdent(c.name)}`
        : `CAST(NULL AS ${type}) AS ${quoteIdent(c.name)}`;
    });
}

/** Keys (as text, the way prediction logs and labels write them) of a snapshot's rows, conformed to `target`'s key types. */
export function keysOf(target: Contract, manifest: DatasetManifest): string {
  const conformed = conformedColumns({ ...target, columns: target.columns.filter((c) => target.key.includes(c.name)) }, manifest.contract, 'k');
  return `(SELECT ${keyExpression(target)} AS _mlops_k FROM (SELECT ${conformed.join(', ')} FROM read_parquet(${quoteString(manifest.snapshot.uri)}) k))`;
}

/** Whether a row (by key) is held out for judging: a hash of the key alone, so a key is on the same side in every window. */
export function heldOut(contract: Contract, fraction: number): string {
  return `((hash(${keyExpression(contract)}, 'mlops-judging') % 1000000) / 1000000.0 < ${fraction})`;
}

/**
 * Stages the labeled production rows into `table`: each scored snapshot's rows joined with the
 * latest label per key of its dataset (label text cast to the contract's label type), then one
 * row per key — the most recently scored. Returns how many rows it staged and how many labels
 * could not be read as the label's type.
 */
export async function stageLabeledRows(
  conn: DuckDBConnection,
  table: string,
  contract: Contract,
  snapshots: readonly ScoredSnapshot[],
): Promise<{ rows: number; badLabels: number }> {
  const label = contract.label!;
  const labelType = DUCKDB_TYPES[contract.columns.find((c) => c.name === label)!.type];
  const parts = snapshots.map((s) => {
    const m = s.manifest;
    const files = `[${s.labelFiles.map(quoteString).join(', ')}]`;
    return `SELECT ${conformedColumns(contract, m.contract, 's', label).join(', ')},
              TRY_CAST(l._mlops_label AS ${labelType}) AS ${quoteIdent(label)},
              'labeled-production' AS ${ROW_KIND}, ${quoteString(m.dataset)} AS ${ROW_SOURCE}, ${quoteString(m.version)} AS ${ROW_SOURCE_VERSION},
              ${quoteString(s.runs.at(-1)!.scoredAt)}::TIMESTAMP AS ${ROW_SCORED_AT}, l._mlops_label_file AS ${ROW_LABEL_FILE}
            FROM (SELECT *, ${keyExpression(m.contract)} AS _mlops_join_key FROM read_parquet(${quoteString(m.snapshot.uri)})) s
            JOIN (SELECT key AS _mlops_join_key, label AS _mlops_label, filename AS _mlops_label_file FROM read_parquet(${files}, filename = true)
                  ${s.labelFiles.length > 1 ? 'QUALIFY row_number() OVER (PARTITION BY key ORDER BY received_at DESC, filename DESC) = 1' : ''}) l
              ON s._mlops_join_key = l._mlops_join_key`;
  });
  await conn.run(`CREATE OR REPLACE TEMP TABLE mlops_joined AS ${parts.join('\nUNION ALL BY NAME\n')}`);
  const [bad] = await queryRows<{ n: number }>(conn, `SELECT count(*) AS n FROM mlops_joined WHERE ${quoteIdent(label)} IS NULL`);
  // A label file has one row per key, and so has a snapshot keyed like the training data: the
  // window functions (the costly part) are needed only where several of them meet.
  const sameKey = (m: DatasetManifest) => m.contract.key.length === contract.key.length && contract.key.every((k) => m.contract.key.includes(k));
  const unique = snapshots.length === 1 && sameKey(snapshots[0]!.manifest);
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE ${table} AS SELECT * FROM mlops_joined WHERE ${quoteIdent(label)} IS NOT NULL
     ${unique ? '' : `QUALIFY row_number() OVER (PARTITION BY ${keyExpression(contract)} ORDER BY ${ROW_SCORED_AT} DESC, ${ROW_SOURCE} DESC, ${ROW_SOURCE_VERSION} DESC) = 1`}`,
  );
  await conn.run('DROP TABLE mlops_joined');
  const [staged] = await queryRows<{ n: number }>(conn, `SELECT count(*) AS n FROM ${table}`);
  return { rows: staged?.n ?? 0, badLabels: bad?.n ?? 0 };
}

/**
 * Where the rows of `relation` (which carries the provenance columns) came from: rows per source
 * version, per label file, and the scoring runs of the snapshots that contributed.
 */
export async function rowLineage(
  conn: DuckDBConnection,
  relation: string,
  known: { manifests: readonly DatasetManifest[]; snapshots: readonly ScoredSnapshot[] },
): Promise<Pick<DatasetLineage, 'sources' | 'labelBatches' | 'scoringRuns'>> {
  const bySource = await queryRows<{ kind: LineageSource['kind']; dataset: string; version: string; n: number }>(
    conn,
    `SELECT ${ROW_KIND} AS kind, ${ROW_SOURCE} AS dataset, ${ROW_SOURCE_VERSION} AS version, count(*) AS n FROM ${relation} GROUP BY ALL ORDER BY kind, dataset, version`,
  );
  const byLabelFile = await queryRows<{ dataset: string; uri: string; n: number }>(
    conn,
    `SELECT ${ROW_SOURCE} AS dataset, ${ROW_LABEL_FILE} AS uri, count(*) AS n FROM ${relation} WHERE ${ROW_LABEL_FILE} IS NOT NULL GROUP BY ALL ORDER BY uri`,
  );
  const manifests = [...known.manifests, ...known.snapshots.map((s) => s.manifest)];
  const snapshotOf = (dataset: string, version: string) => known.snapshots.find((s) => s.manifest.dataset === dataset && s.manifest.version === version);
  const sources: LineageSource[] = bySource.map((r) => {
    const runs = snapshotOf(r.dataset, r.version)?.runs;
    return {
      kind: r.kind,
      dataset: r.dataset,
      version: r.version,
      rows: r.n,
      createdAt: manifests.find((m) => m.dataset === r.dataset && m.version === r.version)?.createdAt ?? '',
      ...(r.kind === 'labeled-production' && runs ? { scored: { from: runs[0]!.scoredAt, to: runs.at(-1)!.scoredAt } } : {}),
    };
  });
  return {
    sources,
    labelBatches: byLabelFile.map((r) => ({ dataset: r.dataset, uri: r.uri, rows: r.n })),
    scoringRuns: sources.flatMap((s) => snapshotOf(s.dataset, s.version)?.runs ?? []),
  };
}
