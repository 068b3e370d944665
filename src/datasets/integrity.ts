import { failureOfType, userError } from '../errors';
import type { ArtifactStore } from '../store/artifact-store';
import { urlJoin } from '../store/backend';
import type { DatasetManifest } from './manifest';
import { RETENTION_FILE } from './raw';

/**
 * A dataset version is immutable: its snapshot must still be the file the manifest recorded.
 * Checked before anything reads it (training, evaluation, scoring, monitoring), so a snapshot
 * edited, replaced or corrupted on disk fails loudly instead of silently training or scoring
 * on other data than the lineage says. Hashing costs about 1 s per GB, far below reading it.
 */
export interface SnapshotDamage {
  problem: string;
}

/** What is wrong with a version's snapshot, or undefined when it is the file the manifest recorded. */
export async function snapshotDamage(manifest: DatasetManifest, store: ArtifactStore): Promise<SnapshotDamage | undefined> {
  let actual: string | undefined;
  try {
    actual = await store.sha256(manifest.snapshot.uri);
  } catch (err) {
    // A store that cannot be reached is not a damaged snapshot: that error says what to fix.
    if (failureOfType(err, 'StoreUnavailable')) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    return { problem: `cannot be read (${code ?? (err as Error).message})` };
  }
  if (actual === undefined) return { problem: 'is missing' };
  if (actual === manifest.snapshot.sha256) return undefined;
  return { problem: `changed after it was recorded (sha256 ${actual.slice(0, 12)}…, manifest ${manifest.snapshot.sha256.slice(0, 12)}…)` };
}

export async function verifySnapshot(manifest: DatasetManifest, store: ArtifactStore): Promise<void> {
  const damage = await snapshotDamage(manifest, store);
  if (!damage) return;
  throw userError(
    'DatasetIntegrityError',
    `Dataset ${manifest.dataset}@${manifest.version}: snapshot ${manifest.snapshot.uri} ${damage.problem}. ` + `Versions are immutable; ${await howToRepair(manifest, store)}`,
  );
}

/**
 * The version id hashes the source bytes and the contract, so the same version cannot be ingested
 * "as a new version": the way back is to rebuild it from those bytes, which two commands do.
 */
async function howToRepair(m: DatasetManifest, store: ArtifactStore): Promise<string> {
  const ref = `${m.dataset}@${m.version}`;
  const source = m.source.files.length === 1 ? m.source.files[0]!.original : `'${m.source.files.length} files as before'`;
  const again = `\`mlops ingest ${m.dataset} ${source}${m.contractInferred ? '' : ' --contract <the same contract>'}\``;
  const rawKept = Date.parse(m.raw.expiresAt) > Date.now() && (await store.exists(urlJoin(m.raw.uri, RETENTION_FILE)));
  return rawKept
    ? `rebuild it from its raw copy (kept until ${m.raw.expiresAt}) with \`mlops datasets repair ${ref}\`, or ingest the same source again (${again}), which rebuilds it in place.`
    : `its raw copy is gone (expired ${m.raw.expiresAt}): ingest the same source again (${again}), which rebuilds it in place, or restore the file from a backup.`;
}

/** The manifest at a URI a workflow carries (its snapshot not checked: see readVerifiedManifest). */
export async function readManifest(store: ArtifactStore, manifestUri: string): Promise<DatasetManifest> {
  const manifest = await store.readJson<DatasetManifest>(manifestUri);
  if (!manifest) throw userError('DatasetNotFound', `No dataset manifest at ${manifestUri}`);
  return manifest;
}

/** The manifest at a URI a workflow carries, with its snapshot verified. */
export async function readVerifiedManifest(store: ArtifactStore, manifestUri: string): Promise<DatasetManifest> {
  const manifest = await readManifest(store, manifestUri);
  await verifySnapshot(manifest, store);
  return manifest;
}
