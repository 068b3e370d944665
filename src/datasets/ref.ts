import { z } from 'zod';
import { userError } from '../errors';
import { datasetName } from '../store/names';
import { parseInput } from '../validation';

/**
 * How requests and people name a dataset version before it is resolved: "latest", or a version id
 * whole or by a prefix (the catalog resolves it). Pure, so workflow code parses requests with it.
 */
export const datasetVersionRef = z.string().regex(/^(latest|[0-9a-f]{1,16})$/, 'dataset version must be "latest" or a version id');

/** `name`, `name@latest`, `name@<version id or unique prefix>`, as the CLI takes them. */
export function parseDatasetRef(ref: string): { dataset: string; version: string } {
  const at = ref.indexOf('@');
  const dataset = at < 0 ? ref : ref.slice(0, at);
  const version = at < 0 ? 'latest' : ref.slice(at + 1);
  parseInput(datasetName, dataset, 'dataset name');
  if (!datasetVersionRef.safeParse(version).success) {
    throw userError('InvalidInput', `Version "${version}" must be "latest" or a version id (hex) or its prefix`);
  }
  return { dataset, version };
}
