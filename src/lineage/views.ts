import * as path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { queryRows } from '../sql/duckdb';
import { quoteString } from '../sql/quote';
import type { ArtifactStore } from '../store/artifact-store';
import { layoutGlobs } from '../store/layout';
import { predictionLogFiles } from '../scoring/runs';

/**
 * The artifact store as SQL views, for people who would rather query lineage and predictions than
 * click: every JSON record and Parquet log the platform writes, read where it lies. A view whose
 * files do not exist yet is created empty-handed: it is listed as missing instead.
 */
type ViewSpec = {
  name: string;
  description: string;
} &
  /** Store-relative glob: every file it matches is published whole. */
  (
    | { glob: string[]; select: (files: string) => string }
    /** For views whose files are named by records (run.json) and must be looked at first. */
    | { files: (store: ArtifactStore) => Promise<string[]>; build: (conn: DuckDBConnection, files: string[]) => Promise<string> }
  );

/** JSON records read as JSON values, so a field some records lack is NULL rather than an error. */
const objects = (files: string) => `read_json_objects(${files}, maximum_object_size = 67108864)`;
const text = (p: string, as: string) => `json ->> '$.${p}' AS ${as}`;
const typed = (p: string, type: string, as: string) => `TRY_CAST(json ->> '$.${p}' AS ${type}) AS ${as}`;
const raw = (p: string, as: string) => `json -> '$.${p}' AS ${as}`;

export const VIEWS: ViewSpec[] = [
  {
    name: 'datasets',
    description: 'dataset versions: rows read/accepted/rejected, snapshot, source, raw retention, lineage of derived versions',
    glob: [...layoutGlobs.manifests],
    select: (f) =>
      `SELECT ${[text('dataset', 'dataset'), text('version', 'version'), typed('createdAt', 'TIMESTAMP', 'created_at'), typed('rows.read', 'BIGINT', 'rows_read'), typed('rows.accepted', 'BIGINT', 'rows_accepted'), typed('rows.rejected', 'BIGINT', 'rows_rejected'), text('snapshot.uri', 'snapshot_uri'), typed('raw.expiresAt', 'TIMESTAMP', 'raw_expires_at'), text('source.hash', 'source_hash'), text('lineage.kind', 'derived_as'), raw('lineage', 'lineage')].join(', ')} FROM ${objects(f)}`,
  },
  {
    name: 'models',
    description: 'model versions (cards): trainer, training data, holdout metrics, file',
    glob: [...layoutGlobs.cards],
    select: (f) =>
      `SELECT ${[text('model', 'model'), text('version', 'version'), typed('createdAt', 'TIMESTAMP', 'created_at'), text('task', 'task'), text('trainer.kind', 'trainer'), raw('trainer', 'trainer_config'), text('dataset.name', 'dataset'), text('dataset.version', 'dataset_version'), raw('metrics.test', 'test_metrics'), raw('metrics.validation', 'validation_metrics'), text('onnx.uri', 'onnx_uri'), text('onnx.sha256', 'onnx_sha256')].join(', ')} FROM ${objects(f)}`,
  },
  {
    name: 'evaluations',
    description: 'shadow evaluation reports: candidate vs baseline, verdict, gates',
    glob: [...layoutGlobs.evaluations],
    select: (f) =>
      `SELECT ${[text('id', 'id'), text('model', 'model'), typed('createdAt', 'TIMESTAMP', 'created_at'), text('dataset.name', 'dataset'), text('dataset.version', 'dataset_version'), text('candidate.version', 'candidate'), text('baseline.version', 'baseline'), text('primaryMetric', 'primary_metric'), raw('candidate.metrics', 'candidate_metrics'), raw('baseline.metrics', 'baseline_metrics'), typed('passed', 'BOOLEAN', 'passed'), raw('gates', 'gates'), typed('rows', 'BIGINT', 'rows')].join(', ')} FROM ${objects(f)}`,
  },
  {
    name: 'monitoring',
    description: 'monitoring reports: drifted features, prediction drift, live metrics, reasons',
    glob: [...layoutGlobs.monitoring],
    select: (f) =>
      `SELECT ${[text('id', 'id'), text('model', 'model'), text('modelVersion', 'model_version'), text('dataset', 'dataset'), text('datasetVersion', 'dataset_version'), typed('createdAt', 'TIMESTAMP', 'created_at'), typed('triggered', 'BOOLEAN', 'triggered'), raw('reasons', 'reasons'), typed('predictions.psi', 'DOUBLE', 'prediction_psi'), raw('live', 'live'), raw('features', 'features'), raw('notes', 'notes')].join(', ')} FROM ${objects(f)}`,
  },
  {
    name: 'scoring_runs',
    description: 'scoring runs: model version, rows, flags, alert, log location, expiry',
    glob: [...layoutGlobs.scoringRuns],
    select: (f) =>
      `SELECT ${[text('runId', 'run_id'), text('model', 'model'), text('modelVersion', 'model_version'), text('dataset', 'dataset'), text('datasetVersion', 'dataset_version'), typed('createdAt', 'TIMESTAMP', 'created_at'), typed('expiresAt', 'TIMESTAMP', 'expires_at'), typed('rows', 'BIGINT', 'rows'), typed('outOfRange', 'BIGINT', 'out_of_range'), typed('notANumber', 'BIGINT', 'not_a_number'), typed('flaggedShare', 'DOUBLE', 'flagged_share'), text('alert', 'alert'), text('logUri', 'log_uri')].join(', ')} FROM ${objects(f)}`,
  },
  {
    name: 'predictions',
    description: "prediction logs: key, output, predicted label, flag; features as JSON and contributions as MAP(VARCHAR, DOUBLE), each row's own model's",
    // Not a glob: on S3 a run's parts lie under an attempt only its run.json names (see scoring/runs.ts).
    files: (store) => predictionLogFiles(store),
    build: predictionsSelect,
  },
  {
    name: 'labels',
    description: 'labels that arrived after the predictions (dataset, key, label, received_at)',
    glob: ['labels', '*', '*.parquet'],
    select: (f) => `SELECT * FROM read_parquet(${f}, union_by_name = true)`,
  },
];

/**
 * Prediction logs of different models (and versions) have different `features` and
 * `contributions` structs. Read together with union_by_name they would merge into one struct
 * with every model's fields (a weather row showing "distance": null from the flights model), so
 * runs are grouped by the shape of those two columns, each group read on its own, and the
 * model-specific parts made row-own values: `features` as JSON (`features->>'plan'`), and
 * `contributions` as MAP(VARCHAR, DOUBLE) (`contributions['plan']`, `map_keys(contributions)`).
 */
async function predictionsSelect(conn: DuckDBConnection, files: string[]): Promise<string> {
  const runs = new Map<string, string[]>();
  for (const file of files) runs.set(path.dirname(file), [...(runs.get(path.dirname(file)) ?? []), file]);
  const groups = new Map<string, { columns: Set<string>; files: string[] }>();
  for (const parts of runs.values()) {
    const described = await queryRows<{ column_name: string; column_type: string }>(conn, `DESCRIBE SELECT * FROM read_parquet(${quoteString(parts[0]!)})`);
    const shape = described
      .filter((c) => c.column_name === 'features' || c.column_name === 'contributions')
      .map((c) => `${c.column_name} ${c.column_type}`)
      .join('; ');
    const group = groups.get(shape) ?? { columns: new Set(described.map((c) => c.column_name)), files: [] };
    group.files.push(...parts);
    groups.set(shape, group);
  }
  const selects = [...groups.values()].map(({ columns, files: groupFiles }) => {
    const replaced = [
      ...(columns.has('features') ? ['to_json(features) AS features'] : []),
      ...(columns.has('contributions') ? ['CAST(to_json(contributions) AS MAP(VARCHAR, DOUBLE)) AS contributions'] : []),
    ];
    const list = `[${groupFiles.map(quoteString).join(', ')}]`;
    const missing = columns.has('contributions') ? '' : ', CAST(NULL AS MAP(VARCHAR, DOUBLE)) AS contributions';
    return `SELECT *${replaced.length ? ` REPLACE (${replaced.join(', ')})` : ''}${missing} FROM read_parquet(${list}, union_by_name = true)`;
  });
  return selects.join('\nUNION ALL BY NAME\n');
}

/** Creates the views that have files; returns which exist and which do not (yet). */
export async function createLineageViews(conn: DuckDBConnection, store: ArtifactStore): Promise<{ created: string[]; missing: string[] }> {
  const created: string[] = [];
  const missing: string[] = [];
  for (const view of VIEWS) {
    let select: string | undefined;
    if ('files' in view) {
      const files = await view.files(store);
      if (files.length) select = await view.build(conn, files);
    } else {
      const pattern = store.url(...view.glob);
      const [row] = await queryRows<{ n: number }>(conn, `SELECT count(*) AS n FROM glob(${quoteString(pattern)})`);
      if ((row?.n ?? 0) > 0) select = view.select(quoteString(pattern));
    }
    if (select === undefined) {
      missing.push(view.name);
      continue;
    }
    await conn.run(`CREATE OR REPLACE VIEW ${view.name} AS ${select}`);
    created.push(view.name);
  }
  return { created, missing };
}
