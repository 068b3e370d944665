import type { ArtifactStore } from '../store/artifact-store';
import type { ModelVersionSummary } from './card';
import { openVerifiedModel } from './files';

/**
 * A model version's files are what the registry says they are, and ONNX Runtime loads them.
 * Checked before a version is evaluated and again right before it becomes production.
 */
export async function checkModelLoads(store: ArtifactStore, summary: ModelVersionSummary): Promise<void> {
  await (await openVerifiedModel(store, summary)).release();
}
