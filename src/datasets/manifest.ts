import type { Contract } from '../contract/schema';
import type { CsvOptions, SourceFormat } from './source';
import type { DatasetProfile } from './profile';

/** What raw files a version came from: content hashes, so a changed file is a new version. */
export interface SourceFingerprint {
  format: SourceFormat;
  csv?: CsvOptions;
  /** sha256 over the files' sha256s in path order. */
  hash: string;
  files: Array<{ original: string; size: number; sha256: string }>;
}

export interface ReasonCount {
  reason: string;
  count: number;
}

/** The manifest of one immutable dataset version, stored beside its Parquet snapshot. */
export interface DatasetManifest {
  dataset: string;
  /** Content hash of (source fingerprint, contract, read options): same input → same id. */
  version: string;
  createdAt: string;
  contract: Contract;
  contractInferred: boolean;
  /** The earlier version whose contract this one reused (`dataset@version`), when none was given. */
  contractFrom?: string;
  schema: Array<{ name: string; type: string }>;
  droppedColumns: string[];
  rows: { read: number; accepted: number; rejected: number };
  topRejectReasons: ReasonCount[];
  source: SourceFingerprint;
  snapshot: { uri: string; sha256: string; bytes: number };
  quarantine?: { uri: string; rows: number };
  raw: { uri: string; expiresAt: string };
  profile: DatasetProfile;
  /** Present when the rows were derived from other artifacts rather than ingested from files: where each part came from. */
  lineage?: DatasetLineage;
  /** Times the snapshot was found damaged and rebuilt from the bytes it was made of, oldest first. */
  repairs?: RepairRecord[];
}

export interface RepairRecord {
  at: string;
  /** What it was rebuilt from: the same source ingested again, or the raw copy (`mlops datasets repair`). */
  from: 'source' | 'raw-copy';
  /** What was wrong: "changed after it was recorded (sha256 …, manifest …)", "is missing", … */
  damage: string;
  recordedSha256: string;
  /** The rebuilt snapshot's (the same as recorded when the Parquet writer wrote the same bytes). */
  sha256: string;
}

/**
 * Where a derived version's rows came from. Labeled production data: the snapshots production
 * scored, joined by key with their late labels. A training window: original training rows plus
 * labeled production rows. A judging set: labeled production rows no model of the comparison
 * trained on. Deterministic (no clock readings), because it is part of the version id.
 */
export interface DatasetLineage {
  kind: 'labeled-production' | 'training-window' | 'judging-set';
  model: string;
  /** How the rows were chosen, in words. */
  rule: string;
  /** The dataset production was first trained on: what "original training data" means for this model. */
  originalDataset: string;
  sources: LineageSource[];
  labelBatches: Array<{ dataset: string; uri: string; rows: number }>;
  scoringRuns: Array<{ runId: string; modelVersion: string; dataset: string; datasetVersion: string; scoredAt: string }>;
  /** Derived versions these rows were taken from (a window's or judging set's labeled production data). */
  derivedFrom: Array<{ dataset: string; version: string }>;
  /** Training data whose keys were left out (judging sets), with how many rows that removed. */
  excludedTrainingData?: Array<{ dataset: string; version: string }>;
  excludedRows?: number;
  options: { maxAge?: string; originalVersions?: number; holdoutFraction?: number };
}

/** One dataset version that contributed rows: as ingested (original data) or as scored by production and labeled later. */
export interface LineageSource {
  kind: 'ingested' | 'labeled-production';
  dataset: string;
  version: string;
  rows: number;
  /** When that version was published. */
  createdAt: string;
  /** When production scored it (labeled production rows): the first and the last scoring run. */
  scored?: { from: string; to: string };
}

/** What crosses Temporal: a reference and headline numbers, never rows. */
export interface DatasetVersionRef {
  dataset: string;
  version: string;
  manifestUri: string;
  snapshotUri: string;
  rows: { read: number; accepted: number; rejected: number };
  quarantineUri?: string;
  /** True when this exact version already existed and was returned as is. */
  reused: boolean;
  /** Set when the version existed with a damaged snapshot, which this ingest rebuilt in place. */
  repaired?: RepairRecord;
}

export function refOf(manifest: DatasetManifest, manifestUri: string, reused: boolean): DatasetVersionRef {
  return {
    dataset: manifest.dataset,
    version: manifest.version,
    manifestUri,
    snapshotUri: manifest.snapshot.uri,
    rows: manifest.rows,
    quarantineUri: manifest.quarantine?.uri,
    reused,
  };
}

/** What `mlops datasets repair` found and did. */
export interface RepairOutcome {
  dataset: string;
  version: string;
  manifestUri: string;
  /** The snapshot was the recorded file: nothing was done. */
  intact: boolean;
  repaired?: RepairRecord;
}
