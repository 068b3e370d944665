import { userError } from '../errors';
import type { ArtifactStore } from '../store/artifact-store';
import type { ModelCard, ModelVersionSummary } from './card';

/** The card a registered version points to; a missing one is the version's fault (ModelLoadError). */
export async function readModelCard(store: ArtifactStore, summary: Pick<ModelVersionSummary, 'model' | 'version' | 'cardUri'>): Promise<ModelCard> {
  const card = await store.readJson<ModelCard>(summary.cardUri);
  if (!card) throw userError('ModelLoadError', `Model ${summary.model}@${summary.version} has no card at ${summary.cardUri}`);
  return card;
}
