import * as path from 'node:path';
import { userError } from '../errors';
import { defaultPrimaryMetric } from '../evaluation/gates';
import type { EvaluationReport } from '../evaluation/report';
import { evaluationFile, latestEvaluations } from '../evaluation/reports';
import { monitoringHistory } from '../monitoring/history';
import { monitoringDir, monitoringFile } from '../monitoring/reports';
import type { MonitoringReport } from '../monitoring/monitor';
import { listRuns, RUN_FILE, RUN_PAGE, type ScoreRun } from '../scoring/runs';
import type { ArtifactStore } from '../store/artifact-store';
import { urlJoin } from '../store/backend';
import { layout, MODEL_PAGE, MODEL_PAGE_DATA } from '../store/layout';
import { resourceName } from '../store/names';
import { parseInput } from '../validation';
import type { RegistryState } from '../api/registry';
import { renderEvaluationPage } from './evaluation';
import { renderModelPage } from './model';
import { renderMonitoringPage } from './monitoring';
import { renderScoringPage } from './scoring';

/**
 * (Re)writes a page from the JSON it shows, beside that JSON in the store, and returns its path:
 * what `mlops report` does. Pages are derived files — a page of an older report, or one whose
 * history has grown since (monitoring), is simply drawn again.
 */

const REPORT_ID = /^[0-9a-f]{16}$/;
const runId = resourceName('run');

export const pageOf = (jsonUri: string) => jsonUri.replace(/\.(json|md)$/, '.html');
/** A scoring run's page, beside its run.json. */
const runPageOf = (runUri: string) => runUri.replace(/[^/\\]+$/, RUN_PAGE);

/**
 * The link from a page in folder `dir` to `target`, relative so the pages work wherever the
 * store is opened (a folder, the page server, a copy of the bucket): computed on store keys, since
 * URLs (s3://…) are not paths. A target outside the store is linked as it is.
 */
function relativeHref(store: ArtifactStore, dir: string, target: string): string {
  const from = store.keyOf(dir);
  const to = store.keyOf(target);
  if (from === undefined || to === undefined) return target;
  return path.posix.relative(from, to);
}

async function readOrExplain<T>(store: ArtifactStore, uri: string, what: string, list: string): Promise<T> {
  const value = await store.readJson<T>(uri);
  if (value === undefined) throw userError('InvalidInput', `No ${what} (${uri}); ${list}`);
  return value;
}

export async function writeEvaluationPage(store: ArtifactStore, model: string, id: string): Promise<string> {
  if (!REPORT_ID.test(id)) throw userError('InvalidInput', `Evaluation report id "${id}" must be 16 hex digits, as \`mlops status ${model}\` lists them`);
  const uri = evaluationFile(store, model, id);
  const report = await readOrExplain<EvaluationReport>(store, uri, `evaluation report ${id} of ${model}`, `\`mlops status ${model}\` lists the latest`);
  const page = pageOf(uri);
  await store.writeFileAtomic(page, renderEvaluationPage(report, uri));
  return page;
}

export async function writeMonitoringPage(store: ArtifactStore, model: string, run: string): Promise<string> {
  const id = parseInput(runId, run, 'monitoring run id');
  const dir = monitoringDir(store, model);
  const uri = monitoringFile(store, model, id);
  const report = await readOrExplain<MonitoringReport>(store, uri, `monitoring run ${id} of ${model}`, `the runs are the .json files in ${dir}`);
  const page = pageOf(uri);
  await store.writeFileAtomic(page, renderMonitoringPage(report, await monitoringHistory(store, dir), uri));
  return page;
}

export async function writeScoringPage(store: ArtifactStore, model: string, run: string): Promise<string> {
  const id = parseInput(runId, run, 'scoring run id');
  const uri = store.url(...layout.predictionRuns(model), id, RUN_FILE);
  const scored = await readOrExplain<ScoreRun>(store, uri, `scoring run ${id} of ${model}`, `\`mlops runs ${model}\` lists them`);
  const page = runPageOf(uri);
  await store.writeFileAtomic(page, renderScoringPage(scored, uri));
  return page;
}

/** The model page, reports/models/<model>/index.html, with the registry state it was drawn from as model.json beside it. */
export async function writeModelPage(store: ArtifactStore, state: RegistryState, now: string): Promise<string> {
  const model = state.model;
  const dir = store.url(...layout.modelPage(model));
  const page = urlJoin(dir, MODEL_PAGE);
  const task = state.versions[0]?.task ?? 'binary';
  const evaluations = await latestEvaluations(store, model, 50);
  const monitoring = (await monitoringHistory(store, monitoringDir(store, model), 50)).reverse();
  const scoring = (await listRuns(store, model)).reverse().slice(0, 50);
  // Relative links to pages that exist (drawn now if only their JSON does); else to the file itself.
  const hrefs = new Map<string, string>();
  const remember = async (uri: string, draw?: () => Promise<string>) => {
    let target = pageOf(uri);
    if (!(await store.exists(target))) target = draw ? await draw().catch(() => uri) : uri;
    hrefs.set(uri, relativeHref(store, dir, target));
  };
  const evaluationUri = (id: string) => evaluationFile(store, model, id);
  const monitoringUri = (id: string) => monitoringFile(store, model, id);
  for (const e of evaluations) await remember(evaluationUri(e.id), () => writeEvaluationPage(store, model, e.id));
  for (const m of monitoring) await remember(monitoringUri(m.id));
  for (const s of scoring) hrefs.set(s.runUri, relativeHref(store, dir, runPageOf(s.runUri)));
  for (const d of state.decisions) if (d.evidenceUri && !hrefs.has(d.evidenceUri)) await remember(d.evidenceUri);
  for (const s of scoring) if (!(await store.exists(runPageOf(s.runUri)))) await writeScoringPage(store, model, s.runId);
  const html = renderModelPage({
    state,
    primaryMetric: evaluations[0]?.primaryMetric ?? defaultPrimaryMetric(task),
    href: (uri) => hrefs.get(uri),
    evaluations: evaluations.map((e) => ({
      id: e.id,
      createdAt: e.createdAt,
      candidate: e.candidate.version,
      baseline: e.baseline?.version ?? null,
      passed: e.passed,
      uri: evaluationUri(e.id),
    })),
    monitoring: monitoring.map((m) => ({ id: m.id, createdAt: m.createdAt, modelVersion: m.modelVersion, triggered: m.triggered, uri: monitoringUri(m.id) })),
    scoring: scoring.map((s) => ({
      runId: s.runId,
      createdAt: s.createdAt,
      modelVersion: s.modelVersion,
      rows: s.rows,
      flaggedShare: s.flaggedShare,
      alert: s.alert !== undefined,
      uri: s.runUri,
    })),
    generatedAt: now,
  });
  await store.writeJsonAtomic(urlJoin(dir, MODEL_PAGE_DATA), state);
  await store.writeFileAtomic(page, html);
  return page;
}
