import type { DuckDBConnection } from '@duckdb/node-api';
import type { Contract } from '../contract/schema';
import { listVersions, resolveVersion } from '../datasets/catalog';
import { publishDerivedVersion } from '../datasets/derived';
import { readVerifiedManifest, verifySnapshot } from '../datasets/integrity';
import type { DatasetLineage, DatasetManifest, DatasetVersionRef } from '../datasets/manifest';
import { durationMs } from '../duration';
import { userError } from '../errors';
import type { ModelCard } from '../models/card';
import { keyExpression } from '../scoring/score';
import { queryRows } from '../sql/duckdb';
import { quoteIdent, quoteString } from '../sql/quote';
import type { ArtifactStore } from '../store/artifact-store';
import { sha256 } from '../store/hash';
import { datasetName } from '../store/names';
import type { AttemptData, RowsRef } from './attempt';
import {
  conformedColumns,
  findScoredSnapshots,
  heldOut,
  keysOf,
  productionContract,
  ROW_KIND,
  ROW_LABEL_FILE,
  ROW_SCORED_AT,
  ROW_SOURCE,
  ROW_SOURCE_VERSION,
  rowLineage,
  type ScoredSnapshot,
  stageLabeledRows,
} from './production-data';
import type { TrainingWindow, WindowOptions } from './request';

/**
 * The data of one retraining attempt. Production data drifts and its labels arrive late, so a loop
 * that retrains on the old training data "improves" on old rows and is judged on old rows. Here:
 *
 * 1. labeled production data — every snapshot production scored, joined by key with its late
 *    labels — becomes a dataset version `<model>.production` with lineage;
 * 2. the training window — the original training data plus the labeled production rows not held
 *    out (by default) — becomes `<model>.window`, the version the candidate trains on;
 * 3. the held-out labeled production rows whose key neither the candidate's nor production's
 *    training data has become `<model>.judging`, where the two are compared.
 *
 * With too few labeled production rows to judge on, the attempt trains on the original data and
 * is judged on its test split, as before, and the notes say why.
 */
export interface PlanArgs {
  conn: DuckDBConnection;
  store: ArtifactStore;
  production: ModelCard;
  /** The original training data; default: the dataset production was first trained on. */
  dataset?: string;
  evaluationDataset?: string;
  trainingWindow: TrainingWindow;
  window: WindowOptions;
  now: Date;
  progress?: (phase: string, details?: Record<string, number>) => void;
}

const LABELED = 'mlops_labeled_production';
const WINDOW = 'mlops_training_window';

/** `<model>.<kind>`; a model name too long (or ending in '.') for that gets a hashed stand-in. */
export function derivedDatasetName(model: string, kind: 'production' | 'window' | 'judging'): string {
  const name = `${model}.${kind}`;
  return datasetName.safeParse(name).success ? name : `m-${sha256(model).slice(0, 16)}.${kind}`;
}

export async function planRetrainingData(args: PlanArgs): Promise<AttemptData> {
  const { conn, store, production, window } = args;
  const notes: string[] = [];
  const since = window.maxAge ? new Date(args.now.getTime() - durationMs(window.maxAge)).toISOString() : undefined;
  const productionTraining = await readVerifiedManifest(store, production.dataset.manifestUri);
  const originalDataset = args.dataset ?? productionTraining.lineage?.originalDataset ?? productionTraining.dataset;
  const original = await originalVersions(store, originalDataset, window, since, notes);
  const contract = original.contract;
  const wantsProduction = args.trainingWindow !== 'original';

  // 1. Labeled production data (not needed when neither training nor judging would use it).
  let labeled: Labeled | undefined;
  if (wantsProduction || !args.evaluationDataset) {
    labeled = await labeledProduction(args, contract, originalDataset, [...original.versions, productionTraining], since, notes);
  }

  // 2. What to train on.
  const trainedBy = (versions: readonly DatasetManifest[]) =>
    [...versions, productionTraining].filter((m, i, all) => all.findIndex((o) => o.dataset === m.dataset && o.version === m.version) === i);
  if (labeled && !contract.key.every((k) => productionTraining.contract.columns.some((c) => c.name === k))) {
    notes.push(
      `production's training data ${productionTraining.dataset}@${productionTraining.version} lacks the key (${contract.key.join(', ')}): judging rows cannot be checked against it`,
    );
  }
  const judgeable = labeled
    ? await countRows(conn, judgingRows(labeled.contract, { holdout: window.holdoutFraction, exclude: trainedBy(args.trainingWindow === 'production' ? [] : original.versions) }))
    : 0;
  const trainable = labeled ? await countRows(conn, `SELECT * FROM ${LABELED} WHERE NOT ${heldOut(labeled.contract, window.holdoutFraction)}`) : 0;
  const useProduction = wantsProduction && labeled !== undefined && judgeable >= window.minJudgingRows && trainable > 0;
  if (wantsProduction && !useProduction) {
    const why = !labeled
      ? 'no labeled production data (score data with production, then record its labels with `mlops labels`)'
      : `only ${judgeable} labeled production rows to judge on after holding out ${percent(window.holdoutFraction)} (need window.minJudgingRows = ${window.minJudgingRows})`;
    if (args.trainingWindow === 'production') throw userError('InvalidInput', `trainingWindow "production" needs labeled production rows: ${why}`);
    notes.push(`trained on the original data only: ${why}`);
  }
  const used: TrainingWindow = useProduction ? args.trainingWindow : 'original';
  const originalPart = used === 'production' ? [] : original.versions;
  if (used === 'original' && originalPart.length === 0) {
    throw userError('DatasetNotFound', `No version of ${originalDataset} is younger than window.maxAge ${window.maxAge}: there is nothing to train on; raise window.maxAge`);
  }
  if (used === 'original+production' && originalPart.length === 0)
    notes.push(`no version of ${originalDataset} within window.maxAge ${window.maxAge}: the window holds labeled production rows only`);
  args.progress?.('window');
  const training =
    used === 'original' && originalPart.length === 1
      ? { manifest: originalPart[0]!, originalRows: originalPart[0]!.rows.accepted, productionRows: 0 }
      : await trainingWindow(args, { contract: useProduction ? labeled!.contract : contract, originalDataset, originalPart, labeled: useProduction ? labeled : undefined });

  // 3. What to judge on.
  let judgedOn: AttemptData['judgedOn'] = { ...refOf(training.manifest), labeledProduction: false };
  if (args.evaluationDataset) {
    const asked = await resolveVersion(store, `${args.evaluationDataset}@latest`);
    judgedOn = { ...refOf(asked), labeledProduction: false };
    if (labeled) notes.push(`judged on ${asked.dataset}@${asked.version} as asked (evaluationDataset), not on labeled production rows`);
  } else if (labeled) {
    args.progress?.('judging');
    const judging = await judgingSet(args, labeled, { holdout: useProduction ? window.holdoutFraction : undefined, exclude: trainedBy([training.manifest]), originalDataset });
    if (judging && judging.rows.accepted >= window.minJudgingRows) {
      judgedOn = { dataset: judging.dataset, version: judging.version, rows: judging.rows.accepted, labeledProduction: true };
    } else {
      notes.push(
        `judged on the test split of ${training.manifest.dataset}@${training.manifest.version}: only ${judging?.rows.accepted ?? 0} labeled production rows neither model trained on (need window.minJudgingRows = ${window.minJudgingRows})`,
      );
    }
  }
  return {
    window: used,
    trainedOn: { ...refOf(training.manifest), originalRows: training.originalRows, productionRows: training.productionRows },
    judgedOn,
    ...(labeled ? { labeledProduction: { dataset: labeled.ref.dataset, version: labeled.ref.version, rows: labeled.ref.rows.accepted } } : {}),
    notes,
  };
}

const percent = (f: number) => `${Math.round(f * 1000) / 10} %`;

function refOf(m: DatasetManifest): RowsRef {
  return { dataset: m.dataset, version: m.version, rows: m.rows.accepted };
}

async function countRows(conn: DuckDBConnection, rows: string): Promise<number> {
  const [r] = await queryRows<{ n: number }>(conn, `SELECT count(*) AS n FROM (${rows})`);
  return r?.n ?? 0;
}

/** The latest `originalVersions` versions of the original dataset within maxAge, newest last, and the latest contract. */
async function originalVersions(store: ArtifactStore, dataset: string, window: WindowOptions, since: string | undefined, notes: string[]) {
  const all = await listVersions(store, dataset);
  if (all.length === 0) throw userError('DatasetNotFound', `The original training data ${dataset} has no published versions; ingest it again or name another dataset`);
  const recent = since ? all.filter((m) => m.createdAt >= since) : all;
  if (recent.length < all.length) notes.push(`${all.length - recent.length} version(s) of ${dataset} older than window.maxAge ${window.maxAge} left out`);
  const versions = recent.slice(-window.originalVersions);
  for (const m of versions) await verifySnapshot(m, store);
  return { versions, contract: all.at(-1)!.contract };
}

interface Labeled {
  ref: DatasetVersionRef;
  contract: Contract;
  snapshots: ScoredSnapshot[];
}

/** Stages the labeled production rows (only those the contract accepted) in LABELED and publishes them as `<model>.production`. */
async function labeledProduction(
  args: PlanArgs,
  training: Contract,
  originalDataset: string,
  trainingData: readonly DatasetManifest[],
  since: string | undefined,
  notes: string[],
): Promise<Labeled | undefined> {
  const { conn, store, production } = args;
  if (!training.label || training.key.length === 0) {
    notes.push(`the training data's contract has no ${training.label ? 'key' : 'label'}: labeled production rows cannot be matched to it`);
    return undefined;
  }
  const isTrainingData = (m: DatasetManifest) => trainingData.some((t) => t.dataset === m.dataset && t.version === m.version);
  const found = await findScoredSnapshots(store, production.model, { since, trainingKey: training.key, isTrainingData });
  notes.push(...found.notes);
  if (found.snapshots.length === 0) return undefined;
  args.progress?.('labeled-production');
  const contract = productionContract(training, found.snapshots);
  const staged = await stageLabeledRows(conn, LABELED, contract, found.snapshots);
  if (staged.badLabels > 0) notes.push(`${staged.badLabels} late labels are not a valid ${training.label} value and were left out`);
  if (staged.rows === 0) return undefined;
  const lineage: DatasetLineage = {
    kind: 'labeled-production',
    model: production.model,
    rule: `rows of the snapshots ${production.model} scored${args.window.maxAge ? ` in the last ${args.window.maxAge}` : ''}, joined by key with their latest late label; one row per key, the most recently scored`,
    originalDataset,
    ...(await rowLineage(conn, LABELED, { manifests: [], snapshots: found.snapshots })),
    derivedFrom: [],
    options: args.window.maxAge ? { maxAge: args.window.maxAge } : {},
  };
  const ref = await publishDerivedVersion({
    conn,
    store,
    dataset: derivedDatasetName(production.model, 'production'),
    contract,
    lineage,
    rows: `SELECT ${columnList(contract)} FROM ${LABELED}`,
    now: args.now,
    progress: args.progress,
  });
  if (ref.rows.rejected > 0) {
    // Only rows the training data's contract accepts go on (its quarantine file says why the others did not).
    notes.push(`${ref.rows.rejected} labeled production rows break the training data's contract: quarantined (${ref.quarantineUri})`);
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE mlops_accepted AS SELECT l.* FROM ${LABELED} l SEMI JOIN ${keysOf(contract, await readVerifiedManifest(store, ref.manifestUri))} a ON ${keyExpression(contract)} = a._mlops_k`,
    );
    await conn.run(`DROP TABLE ${LABELED}`);
    await conn.run(`ALTER TABLE mlops_accepted RENAME TO ${LABELED}`);
  }
  return ref.rows.accepted > 0 ? { ref, contract, snapshots: found.snapshots } : undefined;
}

function columnList(contract: Contract): string {
  return contract.columns.map((c) => quoteIdent(c.name)).join(', ');
}

/** Labeled production rows (held out, when `holdout` is given) whose key none of `exclude`'s snapshots has. */
function judgingRows(contract: Contract, o: { holdout?: number; exclude: readonly DatasetManifest[] }): string {
  const keys = o.exclude.map((m) => keysOf(contract, m)).join(' UNION ALL ');
  const trained = keys ? ` ANTI JOIN (${keys}) t ON ${keyExpression(contract)} = t._mlops_k` : '';
  return `SELECT l.* FROM ${LABELED} l${trained}${o.holdout !== undefined ? ` WHERE ${heldOut(contract, o.holdout)}` : ''}`;
}

/** Original rows plus the labeled production rows not held out, one row per key (production's, else the newest version's), as `<model>.window`. */
async function trainingWindow(
  args: PlanArgs,
  w: { contract: Contract; originalDataset: string; originalPart: readonly DatasetManifest[]; labeled?: Labeled },
): Promise<{ manifest: DatasetManifest; originalRows: number; productionRows: number }> {
  const { conn, store, production, window } = args;
  const { contract, labeled } = w;
  const productionRows = labeled ? `SELECT * EXCLUDE (${ROW_SCORED_AT}) FROM ${LABELED} WHERE NOT ${heldOut(contract, window.holdoutFraction)}` : undefined;
  const originals = [...w.originalPart].reverse().map(
    (m) =>
      `SELECT ${conformedColumns(contract, m.contract, 'o').join(', ')}, 'ingested' AS ${ROW_KIND}, ${quoteString(m.dataset)} AS ${ROW_SOURCE}, ${quoteString(m.version)} AS ${ROW_SOURCE_VERSION},
              CAST(NULL AS VARCHAR) AS ${ROW_LABEL_FILE} FROM read_parquet(${quoteString(m.snapshot.uri)}) o`,
  );
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${WINDOW} AS ${windowRows(contract, productionRows, originals)}`);
  const lineage: DatasetLineage = {
    kind: 'training-window',
    model: production.model,
    rule:
      [
        w.originalPart.length === 1
          ? `the latest version of ${w.originalDataset}`
          : w.originalPart.length
            ? `the latest ${w.originalPart.length} versions of ${w.originalDataset}`
            : '',
        labeled ? `the labeled production rows not held out for judging (${percent(1 - window.holdoutFraction)} of them, by a hash of the key)` : '',
      ]
        .filter(Boolean)
        .join(' plus ') + `; one row per key: ${labeled ? 'the labeled production row, else ' : ''}the newest version's`,
    originalDataset: w.originalDataset,
    ...(await rowLineage(conn, WINDOW, { manifests: w.originalPart, snapshots: labeled?.snapshots ?? [] })),
    derivedFrom: labeled ? [{ dataset: labeled.ref.dataset, version: labeled.ref.version }] : [],
    options: { ...(window.maxAge ? { maxAge: window.maxAge } : {}), originalVersions: window.originalVersions, ...(labeled ? { holdoutFraction: window.holdoutFraction } : {}) },
  };
  const ref = await publishDerivedVersion({
    conn,
    store,
    dataset: derivedDatasetName(production.model, 'window'),
    contract,
    lineage,
    rows: `SELECT ${columnList(contract)} FROM ${WINDOW}`,
    now: args.now,
    progress: args.progress,
  });
  const manifest = await readVerifiedManifest(store, ref.manifestUri);
  const rowsOf = (kind: string) => lineage.sources.filter((s) => s.kind === kind).reduce((n, s) => n + s.rows, 0);
  await conn.run(`DROP TABLE ${WINDOW}`);
  return { manifest, originalRows: rowsOf('ingested'), productionRows: rowsOf('labeled-production') };
}

/**
 * One row per key: the labeled production row, else the newest original version's. One original
 * version (keys unique, as ingested) needs only an anti-join; several need a window function.
 */
function windowRows(contract: Contract, production: string | undefined, originals: readonly string[]): string {
  if (contract.key.length === 0) return [production, ...originals].filter(Boolean).join('\nUNION ALL BY NAME\n');
  if (originals.length <= 1) {
    if (!production) return originals[0]!;
    if (originals.length === 0) return production;
    return `${production}\nUNION ALL BY NAME\nSELECT o.* FROM (${originals[0]}) o ANTI JOIN (SELECT ${keyExpression(contract)} AS _mlops_k FROM (${production})) p ON ${keyExpression(contract)} = p._mlops_k`;
  }
  // Newest version first: rank 1 is the latest, 0 the production rows.
  const ranked = [...(production ? [`SELECT *, 0 AS _mlops_rank FROM (${production})`] : []), ...originals.map((o, i) => `SELECT *, ${i + 1} AS _mlops_rank FROM (${o})`)];
  return `SELECT * EXCLUDE (_mlops_rank) FROM (${ranked.join('\nUNION ALL BY NAME\n')}) QUALIFY row_number() OVER (PARTITION BY ${keyExpression(contract)} ORDER BY _mlops_rank) = 1`;
}

/** The labeled production rows neither model trained on (of those held out, when the window trains on the rest), as `<model>.judging`. */
async function judgingSet(
  args: PlanArgs,
  labeled: Labeled,
  o: { holdout?: number; exclude: readonly DatasetManifest[]; originalDataset: string },
): Promise<DatasetVersionRef | undefined> {
  const { conn, store, production } = args;
  const rows = judgingRows(labeled.contract, o);
  await conn.run(`CREATE OR REPLACE TEMP TABLE mlops_judging AS ${rows}`);
  const candidates = o.holdout === undefined ? labeled.ref.rows.accepted : await countRows(conn, `SELECT * FROM ${LABELED} WHERE ${heldOut(labeled.contract, o.holdout)}`);
  const lineage: DatasetLineage = {
    kind: 'judging-set',
    model: production.model,
    rule: `labeled production rows${o.holdout !== undefined ? ` held out of training (${percent(o.holdout)} of them, by a hash of the key)` : ''} whose key is in neither model's training data`,
    originalDataset: o.originalDataset,
    ...(await rowLineage(conn, 'mlops_judging', { manifests: [], snapshots: labeled.snapshots })),
    derivedFrom: [{ dataset: labeled.ref.dataset, version: labeled.ref.version }],
    excludedTrainingData: o.exclude.map((m) => ({ dataset: m.dataset, version: m.version })),
    options: o.holdout !== undefined ? { holdoutFraction: o.holdout } : {},
  };
  lineage.excludedRows = candidates - lineage.sources.reduce((n, s) => n + s.rows, 0);
  const count = await countRows(conn, 'SELECT * FROM mlops_judging');
  const ref =
    count > 0
      ? await publishDerivedVersion({
          conn,
          store,
          dataset: derivedDatasetName(production.model, 'judging'),
          contract: labeled.contract,
          lineage,
          rows: `SELECT ${columnList(labeled.contract)} FROM mlops_judging`,
          now: args.now,
          progress: args.progress,
        })
      : undefined;
  await conn.run('DROP TABLE mlops_judging');
  return ref;
}
