export { ingestDataset } from './ingest';
export { retentionSweep } from './retention';
