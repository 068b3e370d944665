export { ingestDataset } from './ingest';
export { retentionSweep } from './retention';
export { modelRegistry } from './registry';
export { trainModel } from './train';
export { promoteModel } from './promote';
export { trainAndPromote } from './pipeline';
export { shadowEvaluate } from './evaluate';
export { scoreBatch } from './score';
