/** The GBDT's parameters and defaults, apart from the trainer (threads): request schemas, which workflow code parses with, import them. */
export interface GbdtParams {
  nEstimators: number;
  learningRate: number;
  maxDepth: number;
  maxLeaves: number;
  minSamplesLeaf: number;
  l2: number;
  maxBins: number;
}

export const DEFAULT_GBDT_PARAMS: GbdtParams = {
  nEstimators: 100,
  learningRate: 0.1,
  maxDepth: 6,
  maxLeaves: 31,
  minSamplesLeaf: 20,
  l2: 1,
  maxBins: 255,
};
