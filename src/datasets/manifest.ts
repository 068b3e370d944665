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
  schema: Array<{ name: string; type: string }>;
  droppedColumns: string[];
  rows: { read: number; accepted: number; rejected: number };
  topRejectReasons: ReasonCount[];
  source: SourceFingerprint;
  snapshot: { uri: string; sha256: string; bytes: number };
  quarantine?: { uri: string; rows: number };
  raw: { uri: string; expiresAt: string };
  profile: DatasetProfile;
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
