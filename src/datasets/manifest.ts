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
