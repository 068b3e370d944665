export { ingestDataset } from './ingest';
export { retentionSweep } from './retention';
export { modelRegistry } from './registry';
export { trainModel } from './train';
