import type { MlopsConfig } from '../config';
import { ArtifactStore } from './artifact-store';
import { S3Backend } from './s3-backend';

/**
 * The artifact store the settings name: MLOPS_STORE=s3://bucket/prefix (with the AWS_* settings)
 * or, by default, the folder MLOPS_DATA_DIR. The one place that chooses a backend; the folder
 * stays this process's scratch space either way.
 */
export function openStore(config: Pick<MlopsConfig, 'dataDir' | 'store' | 'duckdbExtensionDir'>): ArtifactStore {
  if (config.store.kind === 's3') return new ArtifactStore(config.dataDir, new S3Backend(config.store, config.duckdbExtensionDir));
  return new ArtifactStore(config.store.root);
}
