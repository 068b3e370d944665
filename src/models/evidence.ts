import { userError } from '../errors';
import type { EvaluationReport } from '../evaluation/report';
import { evaluationsDir } from '../evaluation/reports';
import type { ArtifactStore } from '../store/artifact-store';
import { CARD_FILE, MODEL_FILE } from '../store/layout';
import { type ModelCard, type ModelVersionSummary, summaryOf } from './card';

/**
 * What the registry checks before it changes (it runs these through local activities, since
 * workflow code cannot read files): any Temporal client can send it an update, but only workers
 * write the artifact store. So a registered version must be files in the store that match their
 * card, and production moves only on evidence found there (see PromotionEvidence).
 */
const refuse = (message: string) => userError('RegistryRefused', message);

/**
 * The store key of a file that must be the store's own and lie below the folder `dir` (a URL);
 * refused (naming `what`) otherwise — also a local file reached through a link out of the store.
 */
async function insideStore(store: ArtifactStore, uri: string, dir: string, what: string): Promise<string> {
  const key = await store.realKey(uri);
  const dirKey = store.keyOf(dir);
  if (key === undefined && !(await store.exists(uri))) throw refuse(`${what} ${uri} does not exist`);
  if (key === undefined || dirKey === undefined || !key.startsWith(`${dirKey}/`))
    throw refuse(`${what} ${uri} is outside the artifact store's ${dir}; only files the workers wrote there can be registered or used as evidence`);
  return key;
}

/**
 * A version may be registered only as what training published: its card at the version's place
 * in the store and the ONNX file the card names inside the version's folder (directly, or on S3
 * under the attempt that published it; not reached through a link out of the store), the card
 * naming this model and version, the file's sha256 matching the card and the summary. Returns the
 * card's own summary, which is what the registry keeps (not the sender's claims about metrics or data).
 */
export async function verifyModelFiles(store: ArtifactStore, summary: ModelVersionSummary): Promise<ModelVersionSummary> {
  const where = `${summary.model}@${summary.version}`;
  const dir = store.modelVersionDir(summary.model, summary.version);
  const cardUri = store.cardFile(summary.model, summary.version);
  const dirKey = store.keyOf(dir)!;
  const onnxKey = store.keyOf(summary.onnxUri);
  if (store.keyOf(summary.cardUri) !== store.keyOf(cardUri) || onnxKey === undefined || !onnxKey.startsWith(`${dirKey}/`) || !onnxKey.endsWith(`/${MODEL_FILE}`)) {
    throw refuse(
      `Version ${where} must be registered from ${dir} (${CARD_FILE}, ${MODEL_FILE}), where training publishes it; got card ${summary.cardUri}, model ${summary.onnxUri}`,
    );
  }
  await insideStore(store, cardUri, dir, 'Card');
  const onnxUri = summary.onnxUri;
  await insideStore(store, onnxUri, dir, 'Model file');
  const card = await store.readJson<ModelCard>(cardUri);
  if (!card || card.model !== summary.model || card.version !== summary.version) throw refuse(`The card at ${cardUri} is not the card of ${where}`);
  if (store.keyOf(card.onnx.uri) !== onnxKey) throw refuse(`The card at ${cardUri} names model file ${card.onnx.uri}, not ${onnxUri}`);
  const actual = (await store.sha256(onnxUri))!;
  if (actual !== card.onnx.sha256 || actual !== summary.onnxSha256) {
    throw refuse(`Model file ${onnxUri} has sha256 ${actual.slice(0, 12)}…; its card says ${card.onnx.sha256.slice(0, 12)}…, the registration ${summary.onnxSha256.slice(0, 12)}…`);
  }
  return summaryOf(card, cardUri);
}

/** A stored evaluation report of `candidate` against `baseline` (null: no production yet), from the store. */
export async function readEvaluationEvidence(store: ArtifactStore, model: string, candidate: string, baseline: string | null, reportUri: string): Promise<EvaluationReport> {
  const dir = evaluationsDir(store, model);
  if (!reportUri.endsWith('.json')) throw refuse(`Evidence ${reportUri} is not an evaluation report (reports/evaluations/${model}/<id>.json)`);
  const key = await insideStore(store, reportUri, dir, 'Evaluation report');
  const report = await store.readJson<EvaluationReport>(store.url(...key.split('/')));
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
