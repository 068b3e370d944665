import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { userError } from '../errors';
import type { EvaluationReport } from '../evaluation/report';
import { evaluationsDir } from '../evaluation/reports';
import type { ArtifactStore } from '../store/artifact-store';
import { sha256File } from '../store/hash';
import { type ModelCard, type ModelVersionSummary, summaryOf } from './card';

/**
 * What the registry checks before it changes (it runs these through local activities, since
 * workflow code cannot read files): any Temporal client can send it an update, but only workers
 * write the artifact store. So a registered version must be files in the store that match their
 * card, and production moves only on evidence found there (see PromotionEvidence).
 */
const refuse = (message: string) => userError('RegistryRefused', message);

/** The real path of a file that must lie inside `dir`; refused (naming `what`) otherwise. */
async function insideStore(file: string, dir: string, what: string): Promise<string> {
  const real = await fs.realpath(file).catch(() => {
    throw refuse(`${what} ${file} does not exist`);
  });
  const root = await fs.realpath(dir).catch(() => dir);
  if (!real.startsWith(root + path.sep))
    throw refuse(`${what} ${file} is outside the artifact store's ${dir}; only files the workers wrote there can be registered or used as evidence`);
  return real;
}

/**
 * A version may be registered only as what training published: card and ONNX file at the
 * version's place in the store (not reached through a link out of it), the card naming this model
 * and version, the file's sha256 matching the card and the summary. Returns the card's own summary,
 * which is what the registry keeps (not the sender's claims about metrics or data).
 */
export async function verifyModelFiles(store: ArtifactStore, summary: ModelVersionSummary): Promise<ModelVersionSummary> {
  const where = `${summary.model}@${summary.version}`;
  const dir = store.modelVersionDir(summary.model, summary.version);
  const cardUri = store.cardFile(summary.model, summary.version);
  const onnxUri = path.join(dir, 'model.onnx');
  if (path.resolve(summary.cardUri) !== cardUri || path.resolve(summary.onnxUri) !== onnxUri) {
    throw refuse(`Version ${where} must be registered from ${dir} (card.json, model.onnx), where training publishes it; got card ${summary.cardUri}, model ${summary.onnxUri}`);
  }
  await insideStore(cardUri, dir, 'Card');
  await insideStore(onnxUri, dir, 'Model file');
  const card = await store.readJson<ModelCard>(cardUri);
  if (!card || card.model !== summary.model || card.version !== summary.version) throw refuse(`The card at ${cardUri} is not the card of ${where}`);
  const actual = await sha256File(onnxUri);
  if (actual !== card.onnx.sha256 || actual !== summary.onnxSha256) {
    throw refuse(`Model file ${onnxUri} has sha256 ${actual.slice(0, 12)}…; its card says ${card.onnx.sha256.slice(0, 12)}…, the registration ${summary.onnxSha256.slice(0, 12)}…`);
  }
  return summaryOf(card, cardUri);
}

/** A stored evaluation report of `candidate` against `baseline` (null: no production yet), from the store. */
export async function readEvaluationEvidence(store: ArtifactStore, model: string, candidate: string, baseline: string | null, reportUri: string): Promise<EvaluationReport> {
  const dir = evaluationsDir(store, model);
  if (!reportUri.endsWith('.json')) throw refuse(`Evidence ${reportUri} is not an evaluation report (reports/evaluations/${model}/<id>.json)`);
  const real = await insideStore(reportUri, dir, 'Evaluation report');
  const report = await store.readJson<EvaluationReport>(real);
  if (!report || report.model !== model) throw refuse(`${reportUri} is not an evaluation report of model ${model}`);
  if (report.candidate?.version !== candidate) throw refuse(`Evaluation report ${reportUri} evaluated ${report.candidate?.version}, not ${candidate}`);
  const compared = report.baseline?.version ?? null;
  if (compared !== baseline) {
    throw refuse(
      `Evaluation report ${reportUri} compared ${candidate} with ${compared ?? 'no production model'}, but production is ${baseline ?? 'unset'}; evaluate it against the current production`,
    );
  }
  return report;
}
