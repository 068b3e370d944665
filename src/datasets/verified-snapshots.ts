import * as fs from 'node:fs/promises';
import type { ArtifactStore } from '../store/artifact-store';
import { readManifest, verifySnapshot } from './integrity';
import type { DatasetManifest } from './manifest';

/**
 * Snapshot verification once per process and file: a split scoring run reads one snapshot in up
 * to 256 parts, and hashing the whole file for each part would cost more than scoring the part.
 * A snapshot counts as verified while its file identity (device, inode, size, mtime, ctime) is
 * the one it had when it was hashed; any write or replacement changes that identity, so the next
 * read hashes it again. Identity is taken before hashing, so a change during the hash is caught too.
 */
const verified = new Map<string, string>();
const MAX_ENTRIES = 1_000;

async function fileIdentity(manifest: DatasetManifest): Promise<string | undefined> {
  const stat = await fs.stat(manifest.snapshot.uri, { bigint: true }).catch(() => undefined);
  return stat && [stat.dev, stat.ino, stat.size, stat.mtimeNs, stat.ctimeNs, manifest.snapshot.sha256].join(':');
}

export async function verifySnapshotOnce(manifest: DatasetManifest, store: ArtifactStore): Promise<void> {
  const uri = manifest.snapshot.uri;
  const identity = await fileIdentity(manifest);
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
