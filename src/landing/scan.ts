import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { openAllowedFile } from '../datasets/raw';
import { durationMs } from '../duration';
import { userError } from '../errors';
import type { ArtifactStore } from '../store/artifact-store';
import { sha256File } from '../store/hash';
import { layout } from '../store/layout';
import type { Landing, LandedFile } from './request';

/**
 * The landing folder's side of "each new file exactly once": a file is known by the sha256 of its
 * bytes, and taken when a marker for that hash is in the store (landing/<model>/<dataset>/<sha>.json,
 * written with put-if-absent by the file's chain). Two scanners, or one restarted, find the same
 * hash and the same marker; the chain's workflow id is built from the hash too, so a file whose
 * chain is already running is not started twice either. Renaming or copying a file does not make
 * it new; changing its bytes does.
 */
export interface LandedMarker extends LandedFile {
  workflowId: string;
  takenAt: string;
}

export function landedMarkerUrl(store: ArtifactStore, model: string, dataset: string, sha256: string): string {
  return store.url(...layout.landedFile(model, dataset, sha256));
}

/** Records that `landed` is taken; false when another chain recorded it first. */
export async function recordLanded(store: ArtifactStore, model: string, dataset: string, marker: LandedMarker): Promise<boolean> {
  return store.backend.putIfAbsent(store.key(...layout.landedFile(model, dataset, marker.sha256)), `${JSON.stringify(marker, null, 2)}\n`);
}

/** The files in the folder that match, are complete, and have not been taken, oldest first. */
export async function findLandedFiles(
  store: ArtifactStore,
  args: { model: string; dataset: string; landing: Landing; allowedRoots: readonly string[]; now?: number },
): Promise<LandedFile[]> {
  const { landing } = args;
  const now = args.now ?? Date.now();
  const entries = await fs.readdir(landing.path, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    throw userError(
      'InvalidInput',
      `Landing folder ${landing.path} of dataset ${args.dataset} cannot be read (${err.code ?? err.message}); create it or fix landing.path in the spec`,
    );
  });
  const names = new Set(entries.filter((e) => e.isFile()).map((e) => e.name));
  const match = globToRegExp(landing.pattern);
  const marker = 'marker' in landing.ready ? landing.ready.marker : undefined;
  const stableMs = 'stableFor' in landing.ready ? durationMs(landing.ready.stableFor) : 0;
  const taken = await takenFiles(store, args.model, args.dataset);
  const found: LandedFile[] = [];
  for (const name of [...names].sort()) {
    if (!match.test(name) || name.startsWith('.') || (marker && name.endsWith(marker))) continue;
    if (marker && !names.has(`${name}${marker}`)) continue;
    const file = path.join(landing.path, name);
    const stat = await fs.stat(file).catch(() => undefined);
    if (!stat || stat.size === 0 || now - stat.mtimeMs < stableMs) continue;
    // Hashing is the cost of a scan: a file seen before with the same size and time is not read again.
    if (taken.has(seenKey(name, stat.size, stat.mtimeMs))) continue;
    await (await openAllowedFile(file, args.allowedRoots, 'Landing file')).close();
    const sha256 = await sha256File(file);
    if (taken.has(sha256)) continue;
    found.push({ file, name, sha256, size: stat.size, mtimeMs: stat.mtimeMs });
  }
  return found.sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
}

/** The hashes taken, and the name/size/time of the files they were taken as. */
async function takenFiles(store: ArtifactStore, model: string, dataset: string): Promise<Set<string>> {
  const prefix = store.key(...layout.landed(model, dataset));
  const taken = new Set<string>();
  for (const child of await store.backend.children(prefix)) {
    if (!child.endsWith('.json')) continue;
    taken.add(child.slice(0, -'.json'.length));
    const marker = await store.readJson<LandedMarker>(store.backend.url(`${prefix}/${child}`)).catch(() => undefined);
    if (marker) taken.add(seenKey(marker.name, marker.size, marker.mtimeMs));
  }
  return taken;
}

const seenKey = (name: string, size: number, mtimeMs: number) => `${name}\0${size}\0${mtimeMs}`;

/** `*` and `?` over a file name; everything else literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}
