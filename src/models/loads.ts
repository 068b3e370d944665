import { userError } from '../errors';
import { loadSession } from '../onnx/runtime';
import { sha256File } from '../store/hash';
import type { ModelVersionSummary } from './card';

/**
 * A model version's files are what the registry says they are, and ONNX Runtime loads them.
 * Checked before a version is evaluated and again right before it becomes production.
 */
export async function checkModelLoads(summary: ModelVersionSummary): Promise<void> {
  const where = `${summary.model}@${summary.version}`;
  const actual = await sha256File(summary.onnxUri).catch((err: NodeJS.ErrnoException) => {
    throw userError('ModelLoadError', `Model ${where}: cannot read ${summary.onnxUri} (${err.code ?? err.message})`);
  });
  if (actual !== summary.onnxSha256) {
    throw userError('ModelLoadError', `Model ${where}: ${summary.onnxUri} changed after registration (sha256 ${actual.slice(0, 12)}…, registered ${summary.onnxSha256.slice(0, 12)}…)`);
  }
  const session = await loadSession(summary.onnxUri).catch((err: Error) => {
    throw userError('ModelLoadError', `Model ${where}: ONNX Runtime cannot load it: ${err.message}`);
  });
  await session.release();
}
