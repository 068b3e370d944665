import type { DuckDBConnection } from '@duckdb/node-api';
import { acceptedSelect, DUCKDB_TYPES, duplicateKeyStatements, IS_ACCEPTED, IS_REJECTED, quarantineSelect, REASONS_COLUMN, stagingQuery } from '../contract/compile';
import { type InferOptions, inferContract } from '../contract/infer';
import type { Contract } from '../contract/schema';
import { userError } from '../errors';
import { isResourceExhaustion } from '../resources';
import type { ArtifactStore } from '../store/artifact-store';
import type { PublishAttempt } from '../store/backend';
import { canonicalJson, sha256 } from '../store/hash';
import { layout, MANIFEST_FILE, SNAPSHOT_FILE } from '../store/layout';
import { queryRows } from '../sql/duckdb';
import { isUnreachableStoreError } from '../sql/httpfs';
import { closeMatches } from '../suggest';
import { quoteString } from '../sql/quote';
import { type SnapshotDamage, snapshotDamage } from './integrity';
import { assertColumnLimit, DEFAULT_MAX_COLUMNS } from './limits';
import { type DatasetLineage, type DatasetManifest, type DatasetVersionRef, type ReasonCount, type RepairRecord, refOf } from './manifest';
import { profileTable } from './profile';
import { assertSizesNotEmpty, type StagedSource } from './raw';
import { type CsvOptions, CSV_REJECT_SCANS_TABLE, CSV_REJECTS_TABLE, csvFirstLineRelation, readRelation } from './source';

/**
 * Turns staged raw files into a published dataset version: validate against the contract,
 * split accepted/quarantined rows, snapshot to Parquet, profile, write the manifest, publish.
 * Everything row-shaped happens in DuckDB; this file only sequences statements.
 */
export interface BuildVersionArgs {
  conn: DuckDBConnection;
  store: ArtifactStore;
  dataset: string;
  staged: StagedSource;
  /** Omitted: a contract is inferred from the data and recorded in the manifest. */
  contract?: Contract;
  /** The dataset version `contract` was taken from, when it was reused rather than given. */
  contractFrom?: string;
  /** Key and label of an inferred contract. */
  inferOptions?: InferOptions;
  maxRejectedFraction: number;
  /** Widest contract (given or inferred) this worker takes: MLOPS_MAX_COLUMNS. */
  maxColumns?: number;
  now: Date;
  progress?: (phase: string, details?: Record<string, number>) => void;
  /** Rows derived from other artifacts (see derived.ts): recorded in the manifest and part of the version id. */
  lineage?: DatasetLineage;
}

const STAGED = 'mlops_staged';
const MALFORMED = 'mlops_malformed';
const TOP_REASONS = 10;

export function versionIdOf(staged: StagedSource, contract: Contract | undefined, inferOptions?: InferOptions, lineage?: DatasetLineage): string {
  const { hash, format, csv } = staged.fingerprint;
  // What inference is asked for shapes the contract (a key, a label); lineage only when present:
  // without them, ids stay what they always were.
  const infer = !contract && inferOptions && (inferOptions.key?.length || inferOptions.label) ? { infer: inferOptions } : {};
  return sha256(canonicalJson({ source: hash, format, csv: csv ?? null, contract: contract ?? null, ...infer, ...(lineage ? { lineage } : {}) })).slice(0, 16);
}

export async function buildDatasetVersion(args: BuildVersionArgs): Promise<DatasetVersionRef> {
  const { store, dataset, staged } = args;
  const version = versionIdOf(staged, args.contract, args.inferOptions, args.lineage);
  const versionKey = store.key(...layout.datasetVersion(dataset, version));
  const manifestFile = store.manifestFile(dataset, version);
  const existing = await store.readJson<DatasetManifest>(manifestFile);
  if (existing) {
    // The same data was accepted before, perhaps under a looser threshold than this request's.
    assertWithinThreshold(existing.rows.read, existing.rows.rejected, args.maxRejectedFraction, existing.topRejectReasons, {
      quarantineUri: existing.quarantine?.uri,
      rawUri: existing.raw.uri,
    });
    // The same source again is also how a damaged snapshot is mended: these bytes are what it was built from.
    const damage = await snapshotDamage(existing, store);
    if (!damage) return refOf(existing, manifestFile, true);
    const repaired = await rebuildSnapshot({ ...args, manifest: existing, damage, from: 'source' });
    return { ...refOf(repaired, manifestFile, true), repaired: repaired.repairs!.at(-1)! };
  }

  // Invisible until its manifest is written, last: a temp folder renamed into place, or on S3
  // a unique attempt prefix whose manifest is put only if none is there yet.
  const attempt = await store.backend.beginAttempt(versionKey, `dataset-${dataset}-${version}`);
  let published: boolean;
  let manifest: DatasetManifest;
  try {
    manifest = await buildInto(attempt, args, version);
    args.progress?.('publish');
    published = await store.backend.publishAttempt(attempt, versionKey, MANIFEST_FILE, `${JSON.stringify(manifest, null, 2)}\n`);
  } catch (err) {
    await store.backend.abandonAttempt(attempt).catch(() => undefined);
    throw err;
  }
  const stored = published ? manifest : (await store.readJson<DatasetManifest>(manifestFile))!;
  return refOf(stored, manifestFile, !published);
}

/**
 * Rebuilds a published version's snapshot from the bytes it was made of (the source again, or the
 * raw copy) and puts it in place, recording the repair in the manifest. The version id hashes
 * the source bytes and the contract, so the same inputs give the same rows by construction; the
 * row counts are checked anyway before anything is replaced.
 */
export async function rebuildSnapshot(
  args: Omit<BuildVersionArgs, 'contract' | 'contractFrom' | 'inferOptions'> & { manifest: DatasetManifest; damage: SnapshotDamage; from: RepairRecord['from'] },
): Promise<DatasetManifest> {
  const { store, manifest } = args;
  const versionKey = store.key(...layout.datasetVersion(manifest.dataset, manifest.version));
  const attempt = await store.backend.beginAttempt(versionKey, `repair-${manifest.dataset}-${manifest.version}`);
  try {
    // The recorded contract, also when it was inferred: the rows must be read exactly as before.
    const rebuilt = await buildInto(attempt, { ...args, contract: manifest.contract }, manifest.version);
    if (canonicalJson(rebuilt.rows) !== canonicalJson(manifest.rows) || canonicalJson(rebuilt.schema) !== canonicalJson(manifest.schema)) {
      throw userError(
        'DatasetIntegrityError',
        `Dataset ${manifest.dataset}@${manifest.version}: rebuilding it gave other rows (${rebuilt.rows.accepted} accepted, recorded ${manifest.rows.accepted}); ` +
          'nothing was replaced. Ingest the data as a new version (e.g. with an edited contract) and use that one.',
      );
    }
    const record: RepairRecord = {
      at: args.now.toISOString(),
      from: args.from,
      damage: args.damage.problem,
      recordedSha256: manifest.snapshot.sha256,
      sha256: rebuilt.snapshot.sha256,
    };
    // Snapshot first, then the manifest: a crash in between leaves a mismatch that the next repair mends.
    const uri = await store.backend.replaceFromAttempt(attempt, SNAPSHOT_FILE, manifest.snapshot.uri);
    const repaired: DatasetManifest = {
      ...manifest,
      snapshot: { uri, sha256: rebuilt.snapshot.sha256, bytes: rebuilt.snapshot.bytes },
      repairs: [...(manifest.repairs ?? []), record],
    };
    await store.writeJsonAtomic(store.manifestFile(manifest.dataset, manifest.version), repaired);
    return repaired;
  } catch (err) {
    await store.backend.abandonAttempt(attempt).catch(() => undefined);
    throw err;
  }
}

/** Validates, quarantines and profiles the staged rows; writes data.parquet into the attempt; returns the manifest to publish. */
async function buildInto(attempt: PublishAttempt, args: BuildVersionArgs, version: string): Promise<DatasetManifest> {
  const { conn, store, dataset, staged } = args;
  const progress = args.progress ?? (() => undefined);
  const maxColumns = args.maxColumns ?? DEFAULT_MAX_COLUMNS;
  if (args.contract) assertColumnLimit(args.contract.columns.length, maxColumns, 'The contract');
  // The sizes the copies were recorded with: the copies may be objects in a bucket.
  assertSizesNotEmpty(
    staged.fingerprint.files.map((f) => f.size),
    'nothing to ingest',
    staged.fingerprint.files.map((f) => f.original),
  );
  const { format, csv } = staged.fingerprint;
  const relation = readRelation(staged.files, format, csv ?? {});

  progress('schema');
  // Described (and the header checked) before inference, so an unreadable source or a header
  // DuckDB would rename is a clear error whether or not a contract was given.
  const sourceColumns = await describeColumns(conn, relation);
  if (format === 'csv') await assertDistinctCsvHeader(conn, staged.files[0]!, csv ?? {}, sourceColumns);
  const contractInferred = !args.contract;
  // Without a contract every source column becomes one.
  if (contractInferred) assertColumnLimit(sourceColumns.length, maxColumns, describeSource(staged));
  // Inference reads the files again with type sniffing; a file it cannot read is the user's to fix.
  const contract =
    args.contract ??
    (await inferContract(conn, staged.files, format, csv ?? {}, args.inferOptions).catch((err: Error) => {
      throw asSourceError(err);
    }));
  const sourceNames = matchColumns(contract, sourceColumns);
  const used = new Set(sourceNames);
  const droppedColumns = sourceColumns.filter((c) => !used.has(c));

  progress('validate');
  await conn.run(`DROP TABLE IF EXISTS ${STAGED}`);
  await conn.run(`CREATE TEMP TABLE ${STAGED} AS ${stagingQuery(contract, sourceNames, relation)}`).catch((err: Error) => {
    throw asSourceError(err);
  });
  for (const statement of duplicateKeyStatements(contract, STAGED)) await conn.run(statement);
  await collectMalformedLines(conn, format === 'csv');
  const [counts] = await queryRows<{ total: number; rejected: number; malformed: number }>(
    conn,
    `SELECT (SELECT count(*) FROM ${STAGED}) AS total,
            (SELECT count(*) FROM ${STAGED} WHERE ${IS_REJECTED}) AS rejected,
            (SELECT count(*) FROM ${MALFORMED}) AS malformed`,
  );
  const read = counts!.total + counts!.malformed;
  const rejected = counts!.rejected + counts!.malformed;
  if (read === 0) {
    const what = format === 'csv' ? 'has a header but no data rows' : 'has no rows';
    throw userError('EmptySource', `${describeSource(staged)} ${what}; nothing to ingest.`);
  }
  progress('quarantine', { read, rejected });
  const topRejectReasons = await topReasons(conn);
  let quarantine: DatasetManifest['quarantine'];
  if (rejected > 0) {
    const uri = store.quarantineFile(dataset, version);
    await store.backend.writeWhole(store.key(...layout.quarantine(dataset, version)), (target) => writeQuarantine(conn, contract, target));
    quarantine = { uri, rows: rejected };
  }
  assertWithinThreshold(read, rejected, args.maxRejectedFraction, topRejectReasons, { quarantineUri: quarantine?.uri, rawUri: staged.rawDir });

  progress('snapshot', { read, rejected });
  // Written by DuckDB itself, to a local file or straight to the bucket.
  const snapshotTmp = attempt.writeUrl(SNAPSHOT_FILE);
  const accepted = `FROM ${STAGED} WHERE ${IS_ACCEPTED}`;
  await conn.run(`COPY (SELECT ${acceptedSelect(contract)} ${accepted}) TO ${quoteString(snapshotTmp)} (FORMAT parquet)`);

  progress('profile', { rows: read - rejected });
  const profile = await profileTable(
    conn,
    { relation: `(SELECT ${acceptedSelect(contract)}, rowid AS _mlops_row ${accepted})`, rowNumber: '_mlops_row' },
    contract.columns,
    read - rejected,
  );
  await conn.run(`DROP TABLE ${STAGED}`);
  const manifest: DatasetManifest = {
    dataset,
    version,
    createdAt: args.now.toISOString(),
    contract,
    contractInferred,
    ...(args.contractFrom ? { contractFrom: args.contractFrom } : {}),
    schema: contract.columns.map((c) => ({ name: c.name, type: DUCKDB_TYPES[c.type] })),
    droppedColumns,
    rows: { read, accepted: read - rejected, rejected },
    topRejectReasons,
    source: staged.fingerprint,
    snapshot: {
      uri: attempt.publishedUrl(SNAPSHOT_FILE),
      sha256: (await store.sha256(snapshotTmp))!,
      bytes: (await store.size(snapshotTmp))!,
    },
    ...(quarantine ? { quarantine } : {}),
    raw: { uri: staged.rawDir, expiresAt: staged.expiresAt },
    profile,
    ...(args.lineage ? { lineage: args.lineage } : {}),
  };
  return manifest;
}

function assertWithinThreshold(
  read: number,
  rejected: number,
  maxRejectedFraction: number,
  topRejectReasons: ReasonCount[],
  where: { quarantineUri?: string; rawUri: string },
): void {
  const fraction = rejected / read;
  if (fraction <= maxRejectedFraction) return;
  const reasons = topRejectReasons.slice(0, 5).map((r) => `    ${r.count} × ${r.reason}`);
  throw userError(
    'ContractViolation',
    `${rejected} of ${read} rows (${(fraction * 100).toFixed(1)}%) break the contract, more than the allowed ` +
      `${(maxRejectedFraction * 100).toFixed(1)}%. No version was published.\n  Top reasons:\n${reasons.join('\n')}\n` +
      `  Rejected rows with their reasons: ${where.quarantineUri}\n  Raw copy: ${where.rawUri}\n` +
      '  Fix the data, or the contract, or raise maxRejectedFraction if these rows are expected.',
    { read, rejected, topRejectReasons, ...where },
  );
}

/** DuckDB errors that mean "this input cannot be read as declared": retrying will not help. */
function asSourceError(err: Error): Error {
  return /^(Invalid Input|Conversion|Binder|Parser) Error/.test(err.message)
    ? userError('SourceReadError', `Cannot read the source as the contract declares it: ${err.message}`)
    : err;
}

function describeSource(staged: StagedSource): string {
  const names = staged.fingerprint.files.map((f) => f.original);
  return names.length === 1 ? names[0]! : `${names.length} source files`;
}

async function describeColumns(conn: DuckDBConnection, relation: string): Promise<string[]> {
  try {
    // As hex: @duckdb/node-api decodes VARCHAR with a default TextDecoder, which drops a leading
    // U+FEFF, and a header name starting with one would then name no column at all.
    const rows = await queryRows<{ name: string }>(conn, `SELECT hex(column_name) AS name FROM (DESCRIBE SELECT * FROM ${relation})`);
    return rows.map((r) => Buffer.from(r.name, 'hex').toString('utf8'));
  } catch (err) {
    // The raw copy may be an object in a bucket that is down for now: retried, not the user's to fix.
    if (isResourceExhaustion(err) || isUnreachableStoreError(err)) throw err;
    throw userError('SourceReadError', `Cannot read the source: ${(err as Error).message}`);
  }
}

/**
 * DuckDB ignores ASCII case in column names, so it reads a CSV header "id,Amount,amount" (or one
 * with "x" twice) as "id", "Amount", "amount_1": a contract column "amount" then silently bound to
 * "Amount" and the real one was dropped, and an inferred contract named a column the file does not
 * have. Such headers are refused. The header is re-read as data only when a name looks renamed.
 */
async function assertDistinctCsvHeader(conn: DuckDBConnection, file: string, csv: CsvOptions, described: readonly string[]): Promise<void> {
  if (csv.header === false || !described.some((n) => /_\d+$/.test(n))) return;
  let written: Array<string | null>;
  try {
    const [first] = await queryRows(conn, `SELECT hex(COLUMNS(*)) FROM ${csvFirstLineRelation(file, csv)} LIMIT 1`);
    written = Object.values(first ?? {}).map((h) => (typeof h === 'string' ? Buffer.from(h, 'hex').toString('utf8') : null));
  } catch {
    return; // Unreadable this way: the real read reports what is wrong with the file.
  }
  if (written.length !== described.length) return; // Not the line DuckDB took for the header.
  // Column i was renamed for a clash when DuckDB's name is the written one (DuckDB trims spaces
  // around header names) plus _<n> suffixes; a genuine "x_1" is read as written.
  const fold = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const clashes = described.flatMap((name, i) => {
    const w = written[i];
    if (w === null || w === undefined || name === w) return [];
    const base = [w, w.replace(/^ +| +$/g, ''), w.trim()].find((b) => b && name.startsWith(b) && /^(_\d+)+$/.test(name.slice(b.length)));
    if (base === undefined) return [];
    const earlier = described.findIndex((d, j) => j < i && fold(d) === fold(base));
    return earlier < 0 ? [] : [`${JSON.stringify(written[earlier])} and ${JSON.stringify(w)} (read as ${JSON.stringify(described[earlier])}, ${JSON.stringify(name)})`];
  });
  if (clashes.length === 0) return;
  throw userError(
    'SchemaMismatch',
    `The CSV header has column names that are the same ignoring case (and surrounding spaces): ${clashes.join('; ')}. ` +
      'DuckDB column names ignore case, so these cannot be told apart; rename the columns in the file so every name is unique regardless of case.',
    { clashes },
  );
}

/** Contract column → source column: exact name, else a unique case-insensitive match. */
function matchColumns(contract: Contract, sourceColumns: readonly string[]): string[] {
  const missing: string[] = [];
  const matched = contract.columns.map((c) => {
    if (sourceColumns.includes(c.name)) return c.name;
    const folded = sourceColumns.filter((s) => s.toLowerCase() === c.name.toLowerCase());
    if (folded.length === 1) return folded[0]!;
    missing.push(c.name);
    return '';
  });
  if (missing.length > 0) {
    const single = sourceColumns.length === 1 ? sourceColumns[0]! : undefined;
    const near = missing.flatMap((m) =>
      closeMatches(m, sourceColumns)
        .slice(0, 1)
        .map((c) => `${JSON.stringify(c)} for ${JSON.stringify(m)}`),
    );
    const hint =
      single && /[,;|\t]/.test(single)
        ? ` The source was read as a single column named ${JSON.stringify(single)}: the delimiter is probably wrong; pass the right one (--delimiter).`
        : near.length
          ? ` Did you mean ${near.join(', ')}? (rename the source column or the contract's)`
          : '';
    throw userError(
      'SchemaMismatch',
      `The source lacks contract column(s) ${missing.map((m) => JSON.stringify(m)).join(', ')}. ` +
        `Source columns: ${sourceColumns.map((s) => JSON.stringify(s)).join(', ')}.${hint}`,
      { missing, sourceColumns },
    );
  }
  return matched;
}

/** Lines DuckDB's CSV reader could not parse (wrong column count, bad quoting) become quarantine rows too. */
async function collectMalformedLines(conn: DuckDBConnection, isCsv: boolean): Promise<void> {
  await conn.run(`DROP TABLE IF EXISTS ${MALFORMED}`);
  if (!isCsv) {
    await conn.run(`CREATE TEMP TABLE ${MALFORMED} (line BIGINT, reason VARCHAR, raw_line VARCHAR, error_message VARCHAR)`);
    return;
  }
  // DuckDB records one reject per bad column; a line is one quarantined row.
  await conn.run(
    `CREATE TEMP TABLE ${MALFORMED} AS SELECT line, 'malformed CSV line: ' || lower(first(error_type ORDER BY column_idx)) AS reason, ` +
      `first(csv_line) AS raw_line, string_agg(DISTINCT error_message, '; ') AS error_message ` +
      `FROM ${CSV_REJECTS_TABLE} GROUP BY scan_id, file_id, line ORDER BY file_id, line`,
  );
  await conn.run(`DROP TABLE IF EXISTS ${CSV_REJECTS_TABLE}`);
  await conn.run(`DROP TABLE IF EXISTS ${CSV_REJECT_SCANS_TABLE}`);
}

async function topReasons(conn: DuckDBConnection): Promise<ReasonCount[]> {
  return queryRows<ReasonCount>(
    conn,
    `SELECT reason, count(*) AS count FROM (
       SELECT unnest(${REASONS_COLUMN}) AS reason FROM ${STAGED} WHERE ${IS_REJECTED}
       UNION ALL SELECT reason FROM ${MALFORMED})
     GROUP BY reason ORDER BY count DESC, reason LIMIT ${TOP_REASONS}`,
  );
}

/** Written whole to `target` (the store makes it appear at once: backend.writeWhole). */
async function writeQuarantine(conn: DuckDBConnection, contract: Contract, target: string): Promise<void> {
  await conn.run(
    `COPY (
       SELECT ${quarantineSelect(contract)}, ${REASONS_COLUMN} AS _mlops_reasons,
              array_to_string(${REASONS_COLUMN}, '; ') AS _mlops_reason, CAST(NULL AS VARCHAR) AS _mlops_raw_line
       FROM ${STAGED} WHERE ${IS_REJECTED}
       UNION ALL BY NAME
       SELECT [reason] AS _mlops_reasons, reason || ' (' || error_message || ')' AS _mlops_reason, raw_line AS _mlops_raw_line
       FROM ${MALFORMED}
     ) TO ${quoteString(target)} (FORMAT parquet)`,
  );
}
