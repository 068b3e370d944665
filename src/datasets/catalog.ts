import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { userError } from '../errors';
import type { ArtifactStore } from '../store/artifact-store';
import { layout, MANIFEST_FILE } from '../store/layout';
import { datasetName } from '../store/names';
import { didYouMean } from '../suggest';
import { parseInput } from '../validation';
import type { DatasetManifest } from './manifest';
import { parseDatasetRef } from './ref';

/**
 * Read side of the dataset store: published versions only (their folders exist only once complete).
 * A dataset whose ingests all failed has only a quarantine folder and is not listed.
 */
export async function listDatasets(store: ArtifactStore): Promise<string[]> {
  const entries = await fs.readdir(store.path(...layout.datasets()), { withFileTypes: true }).catch(() => []);
  const names = [];
  for (const e of entries.filter((d) => d.isDirectory())) {
    const versions = await fs.readdir(store.path(...layout.datasetVersions(e.name))).catch(() => []);
    if (versions.length > 0) names.push(e.name);
  }
  return names.sort();
}

export async function listVersions(store: ArtifactStore, dataset: string): Promise<DatasetManifest[]> {
  parseInput(datasetName, dataset, 'dataset name');
  const dir = store.path(...layout.datasetVersions(dataset));
  const ids = await fs.readdir(dir).catch(() => [] as string[]);
  const manifests = await Promise.all(
    ids.map((id) => store.readJson<DatasetManifest>(path.join(dir, id, MANIFEST_FILE))),
  );
  return manifests
    .filter((m): m is DatasetManifest => m !== undefined)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.version.localeCompare(b.version));
}

/** A dataset's versions, or a DatasetNotFound naming the datasets that do exist. */
export async function listVersionsOrExplain(store: ArtifactStore, dataset: string): Promise<DatasetManifest[]> {
  const versions = await listVersions(store, dataset);
  if (versions.length === 0) {
    throw userError('DatasetNotFound', `Dataset "${dataset}" has no published versions${didYouMean(dataset, await listDatasets(store), 'datasets')}`);
  }
  return versions;
}

export async function resolveVersion(store: ArtifactStore, ref: string): Promise<DatasetManifest> {
  const { dataset, version } = parseDatasetRef(ref);
  const versions = await listVersionsOrExplain(store, dataset);
  if (version === 'latest') return versions[versions.length - 1]!;
  const matches = versions.filter((m) => m.version.startsWith(version));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) {
    throw userError('DatasetNotFound', `Dataset "${dataset}" has no version ${version}; see \`mlops datasets show ${dataset}\``);
  }
  throw userError('InvalidInput', `Version prefix ${version} matches ${matches.length} versions of "${dataset}"; give more characters`);
}
