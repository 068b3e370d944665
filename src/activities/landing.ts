import type { ArtifactStore } from '../store/artifact-store';
import { type LandedFile, type Landing, landingSchema } from '../landing/request';
import { findLandedFiles, type LandedMarker, recordLanded } from '../landing/scan';
import { datasetName, modelName } from '../store/names';
import { parseInput } from '../validation';

export interface LandingActivityDeps {
  store: ArtifactStore;
  ingestAllowedRoots: readonly string[];
}

export function createLandingActivities(deps: LandingActivityDeps) {
  return {
    /** The complete, not yet taken files of a landing folder (hashed; see landing/scan.ts). */
    async findLandedFiles(input: { model: string; dataset: string; landing: Landing }): Promise<LandedFile[]> {
      return findLandedFiles(deps.store, {
        model: parseInput(modelName, input.model, 'model name'),
        dataset: parseInput(datasetName, input.dataset, 'dataset name'),
        landing: parseInput(landingSchema, input.landing, 'landing'),
        allowedRoots: deps.ingestAllowedRoots,
      });
    },
    /** Marks a file taken by its chain; false when another chain took it first. */
    async recordLandedFile(input: { model: string; dataset: string; marker: LandedMarker }): Promise<boolean> {
      return recordLanded(deps.store, parseInput(modelName, input.model, 'model name'), parseInput(datasetName, input.dataset, 'dataset name'), input.marker);
    },
  };
}
