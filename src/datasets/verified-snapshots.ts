import type { ArtifactStore } from '../store/artifact-store';
import { readManifest, verifySnapshot } from './integrity';
import type { DatasetManifest } from './manifest';

/**
 * Snapshot verification once per process and object: a split scoring run reads one snapshot in up
 * to 256 parts, and hashing the whole file for each part would cost more than scoring the part.
 * A snapshot counts as verified while its identity is the one it had when it was hashed: locally
 * device, inode, size, mtime and ctime; on S3 the ETag, size and Last-Modified of a HEAD (the
 * backend's `identity`). Any write or replacement changes that identity, so the next read hashes
 * it again. Identity is taken before hashing, so a change during the hash is caught too.
 */
const verified = new Map<string, string>();
const MAX_ENTRIES = 1_000;

async function snapshotIdentity(manifest: DatasetManifest, store: ArtifactStore): Promise<string | undefined> {
  const key = store.backend.keyOf(manifest.snapshot.uri);
  // A snapshot outside the store is not remembered: it is hashed at every read.
  const identity = key === undefined ? undefined : await store.backend.identity(key);
  return identity && `${identity}:${manifest.snapshot.sha256}`;
}

export async function verifySnapshotOnce(manifest: DatasetManifest, store: ArtifactStore): Promise<void> {
  const uri = manifest.snapshot.uri;
  const identity = await snapshotIdentity(manifest, store);
  if (identity && verified.get(uri) === identity) return;
  await verifySnapshot(manifest, store);
  if (!identity) return;
  if (verified.size >= MAX_ENTRIES) verified.delete(verified.keys().next().value!);
  verified.set(uri, identity);
}

/** The manifest at a URI a workflow carries, its snapshot verified (or verified before, unchanged since). */
export async function readManifestVerifiedOnce(store: ArtifactStore, manifestUri: string): Promise<DatasetManifest> {
  const manifest = await readManifest(store, manifestUri);
  await verifySnapshotOnce(manifest, store);
  return manifest;
}
