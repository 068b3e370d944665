import type { InferenceSession } from 'onnxruntime-node';
import { userError } from '../errors';
import { loadSession } from '../onnx/runtime';
import { sha256File } from '../store/hash';
import type { ModelVersionSummary } from './card';

/**
 * A model version's ONNX file as the registry recorded it: the sha256 must match, and ONNX Runtime
 * must load it. Returns the loaded session, so a caller that serves the model (mlops serve) does
 * not read and parse the file a second time after checking it.
 */
export async function openVerifiedModel(summary: Pick<ModelVersionSummary, 'model' | 'version' | 'onnxUri' | 'onnxSha256'>): Promise<InferenceSession> {
  const where = `${summary.model}@${summary.version}`;
  const actual = await sha256File(summary.onnxUri).catch((err: NodeJS.ErrnoException) => {
    throw userError('ModelLoadError', `Model ${where}: cannot read ${summary.onnxUri} (${err.code ?? err.message})`);
  });
  if (actual !== summary.onnxSha256) {
    throw userError(
      'ModelLoadError',
      `Model ${where}: ${summary.onnxUri} changed after registration (sha256 ${actual.slice(0, 12)}…, registered ${summary.onnxSha256.slice(0, 12)}…)`,
    );
  }
  return loadSession(summary.onnxUri).catch((err: Error) => {
    throw userError('ModelLoadError', `Model ${where}: ONNX Runtime cannot load it: ${err.message}`);
  });
}
