import { ApplicationFailure } from '@temporalio/common';
import type { InferenceSession } from 'onnxruntime-node';
import { userError } from '../errors';
import { loadSession } from '../onnx/runtime';
import type { ArtifactStore } from '../store/artifact-store';
import { sha256 } from '../store/hash';
import type { ModelVersionSummary } from './card';

/**
 * A model version's ONNX file as the registry recorded it: the sha256 must match, and ONNX Runtime
 * must load it. The bytes are read once through the store (a local file or an S3 object), hashed,
 * and those same bytes loaded — so what runs is what was checked, and nothing is staged on local
 * disk. Returns the loaded session, so a caller that serves the model (mlops serve) does not read
 * and parse the file a second time after checking it.
 */
export async function openVerifiedModel(
  store: ArtifactStore,
  summary: Pick<ModelVersionSummary, 'model' | 'version' | 'onnxUri' | 'onnxSha256'>,
  sessionOptions: InferenceSession.SessionOptions = {},
): Promise<InferenceSession> {
  const where = `${summary.model}@${summary.version}`;
  const bytes = await readVerifiedModel(store, summary);
  return loadSession(bytes, sessionOptions).catch((err: Error) => {
    throw userError('ModelLoadError', `Model ${where}: ONNX Runtime cannot load it: ${err.message}`);
  });
}

/** The ONNX file's bytes, read once and checked against the registry's sha256 (ModelLoadError if not). */
export async function readVerifiedModel(store: ArtifactStore, summary: Pick<ModelVersionSummary, 'model' | 'version' | 'onnxUri' | 'onnxSha256'>): Promise<Uint8Array> {
  const where = `${summary.model}@${summary.version}`;
  const bytes = await store.readBytes(summary.onnxUri).catch((err: NodeJS.ErrnoException) => {
    // The store being unreachable or misconfigured (StoreUnavailable) is not the model's fault.
    if (err instanceof ApplicationFailure) throw err;
    throw userError('ModelLoadError', `Model ${where}: cannot read ${summary.onnxUri} (${err.code ?? err.message})`);
  });
  if (bytes === undefined) throw userError('ModelLoadError', `Model ${where}: cannot read ${summary.onnxUri} (ENOENT)`);
  const actual = sha256(bytes);
  if (actual !== summary.onnxSha256) {
    throw userError(
      'ModelLoadError',
      `Model ${where}: ${summary.onnxUri} changed after registration (sha256 ${actual.slice(0, 12)}…, registered ${summary.onnxSha256.slice(0, 12)}…)`,
    );
  }
  return bytes;
}
