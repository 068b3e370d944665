import { userError } from '../errors';
import type { ArtifactStore } from '../store/artifact-store';
import { layout, layoutGlobs } from '../store/layout';
import { datasetName } from '../store/names';
import { didYouMean } from '../suggest';
import { parseInput } from '../validation';
import type { DatasetManifest } from './manifest';
import { parseDatasetRef } from './ref';

/**
 * Read side of the dataset store: published versions only, i.e. those with a manifest (written
 * last, on either backend). A dataset whose ingests all failed has only a quarantine folder, and
 * a version whose attempt died before its manifest has none: neither is listed.
 */
export async function listDatasets(store: ArtifactStore): Promise<string[]> {
  const [datasets, , , , manifest] = layoutGlobs.manifests;
  const names = new Set<string>();
  for (const { key } of await store.backend.list(store.key(datasets))) {
    const parts = key.split('/');
    if (parts.length === 5 && parts[2] === 'versions' && parts[4] === manifest) names.add(parts[1]!);
  }
  return [...names].sort();
}

export async function listVersions(store: ArtifactStore, dataset: string): Promise<DatasetManifest[]> {
  parseInput(datasetName, dataset, 'dataset name');
  const ids = await store.backend.children(store.key(...layout.datasetVersions(dataset)));
  const manifests = await Promise.all(ids.map((id) => store.readJson<DatasetManifest>(store.manifestFile(dataset, id))));
  return manifests.filter((m): m is DatasetManifest => m !== undefined).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.version.localeCompare(b.version));
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
