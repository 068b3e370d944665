import type { ArtifactStore } from '../store/artifact-store';
import { ATTEMPT_PREFIX } from '../store/backend';
import { layout } from '../store/layout';
import type { ModelCard } from '../models/card';
import type { ScoreRun } from '../scoring/runs';
import type { DatasetManifest } from './manifest';
import { RETENTION_FILE } from './raw';

/**
 * Removes what publication left unpublished on a store that cannot rename (S3): attempt prefixes
 * of model versions whose card does not name them (the training attempt died or lost the race),
 * of dataset versions whose manifest does not name them (the attempt died, lost the race, or a
 * repair replaced its snapshot), attempt prefixes of scoring runs whose run.json does not name
 * them (half-written, or lost the race), and raw copies whose record was never written. Only those
 * untouched for `graceMs`: a younger one may belong to an attempt still running on another
 * worker. On a local store publication renames whole folders, so there is nothing of the kind
 * (its private temp folders are removed by ArtifactStore.removeStaleTemp).
 */
export interface SweptLeftover {
  /** The URL removed. */
  uri: string;
  why: string;
}

export async function sweepUnpublished(store: ArtifactStore, graceMs: number, now = Date.now()): Promise<SweptLeftover[]> {
  const old = (newest: number) => now - newest > graceMs;
  const swept: SweptLeftover[] = [];

  // models/<model>/versions/<version>/.attempt-<id>/…: kept while the version's card names its model file there.
  const modelAttempts = newestByPrefix(await store.backend.list(store.key(...layout.models())), (parts) =>
    parts.length > 5 && parts[2] === 'versions' && parts[4]!.startsWith(ATTEMPT_PREFIX) ? 5 : undefined,
  );
  for (const [attempt, newest] of modelAttempts) {
    const [, model, , version] = attempt.split('/') as [string, string, string, string];
    const card = old(newest) ? await store.readJson<ModelCard>(store.cardFile(model, version)) : undefined;
    const uri = store.url(...attempt.split('/'));
    if (!old(newest) || card?.onnx.uri.startsWith(`${uri}/`)) continue;
    await store.backend.delete(attempt);
    swept.push({ uri, why: card ? 'a model attempt its card does not name' : 'a model attempt that never published its card' });
  }

  // datasets/<dataset>/versions/<version>/.attempt-<id>/…
  const attempts = newestByPrefix(await store.backend.list(store.key(...layout.datasets())), (parts) =>
    parts.length > 5 && parts[2] === 'versions' && parts[4]!.startsWith(ATTEMPT_PREFIX) ? 5 : undefined,
  );
  for (const [attempt, newest] of attempts) {
    if (!old(newest)) continue;
    const [, dataset, , version] = attempt.split('/') as [string, string, string, string];
    const manifest = await store.readJson<DatasetManifest>(store.manifestFile(dataset, version));
    const uri = store.url(...attempt.split('/'));
    if (manifest && manifest.snapshot.uri.startsWith(`${uri}/`)) continue;
    await store.backend.delete(attempt);
    swept.push({ uri, why: manifest ? 'an attempt the published manifest does not name' : 'an attempt that never published its manifest' });
  }

  // predictions/<model>/<runId>/.attempt-<id>/…
  const runAttempts = newestByPrefix(await store.backend.list(store.key(...layout.predictions())), (parts) =>
    parts.length > 4 && parts[3]!.startsWith(ATTEMPT_PREFIX) ? 4 : undefined,
  );
  for (const [attempt, newest] of runAttempts) {
    if (!old(newest)) continue;
    const [, model, runId, name] = attempt.split('/') as [string, string, string, string];
    const run = await store.readJson<ScoreRun>(store.url(...layout.scoringRun(model, runId)));
    // By the attempt's unique name, not its URL: a copied bucket's run.json still names its own attempt.
    if (run && run.parts.some((p) => p.split('/').includes(name))) continue;
    await store.backend.delete(attempt);
    swept.push({
      uri: store.url(...attempt.split('/')),
      why: run ? 'an attempt at a scoring run its run.json does not name' : 'an attempt at a scoring run that never published its run.json',
    });
  }

  // raw/<dataset>/<source hash>/…, without retention.json
  const copies = newestByPrefix(await store.backend.list(store.key(...layout.raw())), (parts) => (parts.length > 3 ? 3 : undefined));
  for (const [copy, newest] of copies) {
    if (!old(newest) || (await store.backend.exists(`${copy}/${RETENTION_FILE}`))) continue;
    await store.backend.delete(copy);
    swept.push({ uri: store.url(...copy.split('/')), why: `a raw copy whose ${RETENTION_FILE} was never written` });
  }
  return swept;
}

/** The newest modification time per prefix of `depth(parts)` key segments, for the keys that have one. */
function newestByPrefix(objects: ReadonlyArray<{ key: string; modifiedAt: Date }>, depth: (parts: string[]) => number | undefined): Map<string, number> {
  const newest = new Map<string, number>();
  for (const o of objects) {
    const parts = o.key.split('/');
    const n = depth(parts);
    if (n === undefined) continue;
    const prefix = parts.slice(0, n).join('/');
    newest.set(prefix, Math.max(newest.get(prefix) ?? 0, o.modifiedAt.getTime()));
  }
  return newest;
}
