import { userError } from '../errors';
import type { ArtifactStore } from '../store/artifact-store';
import { sha256File } from '../store/hash';
import type { DatasetManifest } from './manifest';

/**
 * A dataset version is immutable: its snapshot must still be the file the manifest recorded.
 * Checked before anything reads it (training, evaluation, scoring, monitoring), so a snapshot
 * edited, replaced or corrupted on disk fails loudly instead of silently training or scoring
 * on other data than the lineage says. Hashing costs about 1 s per GB, far below reading it.
 */
export async function verifySnapshot(manifest: DatasetManifest): Promise<void> {
  const where = `${manifest.dataset}@${manifest.version}`;
  const actual = await sha256File(manifest.snapshot.uri).catch((err: NodeJS.ErrnoException) => {
    throw userError('DatasetIntegrityError', `Dataset ${where}: cannot read its snapshot ${manifest.snapshot.uri} (${err.code ?? err.message}); restore it from a backup or ingest the data again`);
  });
  if (actual !== manifest.snapshot.sha256) {
    throw userError(
      'DatasetIntegrityError',
      `Dataset ${where}: snapshot ${manifest.snapshot.uri} changed after it was recorded (sha256 ${actual.slice(0, 12)}…, manifest ${manifest.snapshot.sha256.slice(0, 12)}…). ` +
        'Versions are immutable: restore the file from a backup, or ingest the data again as a new version.',
    );
  }
}

/** The manifest at a URI a workflow carries, with its snapshot verified. */
export async function readVerifiedManifest(store: ArtifactStore, manifestUri: string): Promise<DatasetManifest> {
  const manifest = await store.readJson<DatasetManifest>(manifestUri);
  if (!manifest) throw userError('DatasetNotFound', `No dataset manifest at ${manifestUri}`);
  await verifySnapshot(manifest);
  return manifest;
}
