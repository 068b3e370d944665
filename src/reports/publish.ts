import * as path from 'node:path';
import { userError } from '../errors';
import { defaultPrimaryMetric } from '../evaluation/gates';
import type { EvaluationReport } from '../evaluation/report';
import { evaluationsDir, latestEvaluations } from '../evaluation/reports';
import { monitoringHistory } from '../monitoring/history';
import { monitoringDir } from '../monitoring/reports';
import type { MonitoringReport } from '../monitoring/monitor';
import { listRuns, predictionsDir, RUN_FILE, RUN_PAGE, type ScoreRun } from '../scoring/runs';
import { type ArtifactStore, fileExists } from '../store/artifact-store';
import { layout } from '../store/layout';
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

async function readOrExplain<T>(store: ArtifactStore, uri: string, what: string, list: string): Promise<T> {
  const value = await store.readJson<T>(uri);
  if (value === undefined) throw userError('InvalidInput', `No ${what} (${uri}); ${list}`);
  return value;
}

export async function writeEvaluationPage(store: ArtifactStore, model: string, id: string): Promise<string> {
  if (!REPORT_ID.test(id)) throw userError('InvalidInput', `Evaluation report id "${id}" must be 16 hex digits, as \`mlops status ${model}\` lists them`);
  const uri = path.join(evaluationsDir(store, model), `${id}.json`);
  const report = await readOrExplain<EvaluationReport>(store, uri, `evaluation report ${id} of ${model}`, `\`mlops status ${model}\` lists the latest`);
  const page = pageOf(uri);
  await store.writeFileAtomic(page, renderEvaluationPage(report, uri));
  return page;
}

export async function writeMonitoringPage(store: ArtifactStore, model: string, run: string): Promise<string> {
  const id = parseInput(runId, run, 'monitoring run id');
  const dir = monitoringDir(store, model);
  const uri = path.join(dir, `${id}.json`);
  const report = await readOrExplain<MonitoringReport>(store, uri, `monitoring run ${id} of ${model}`, `the runs are the .json files in ${dir}`);
  const page = pageOf(uri);
  await store.writeFileAtomic(page, renderMonitoringPage(report, await monitoringHistory(store, dir), uri));
  return page;
}

export async function writeScoringPage(store: ArtifactStore, model: string, run: string): Promise<string> {
  const id = parseInput(runId, run, 'scoring run id');
  const uri = path.join(predictionsDir(store, model), id, RUN_FILE);
  const scored = await readOrExplain<ScoreRun>(store, uri, `scoring run ${id} of ${model}`, `\`mlops runs ${model}\` lists them`);
  const page = path.join(path.dirname(uri), RUN_PAGE);
  await store.writeFileAtomic(page, renderScoringPage(scored, uri));
  return page;
}

/** The model page, reports/models/<model>/index.html, with the registry state it was drawn from as model.json beside it. */
export async function writeModelPage(store: ArtifactStore, state: RegistryState, now: string): Promise<string> {
  const model = state.model;
  const dir = store.path(...layout.modelPage(model));
  const page = path.join(dir, 'index.html');
  const task = state.versions[0]?.task ?? 'binary';
  const evaluations = await latestEvaluations(store, model, 50);
  const monitoring = (await monitoringHistory(store, monitoringDir(store, model), 50)).reverse();
  const scoring = (await listRuns(store, model)).reverse().slice(0, 50);
  // Relative links to pages that exist (drawn now if only their JSON does); else to the file itself.
  const hrefs = new Map<string, string>();
  const remember = async (uri: string, draw?: () => Promise<string>) => {
    let target = pageOf(uri);
    if (!(await fileExists(target))) target = draw ? await draw().catch(() => uri) : uri;
    hrefs.set(uri, path.relative(dir, target).split(path.sep).join('/'));
  };
  const evaluationUri = (id: string) => path.join(evaluationsDir(store, model), `${id}.json`);
  const monitoringUri = (id: string) => path.join(monitoringDir(store, model), `${id}.json`);
  for (const e of evaluations) await remember(evaluationUri(e.id), () => writeEvaluationPage(store, model, e.id));
  for (const m of monitoring) await remember(monitoringUri(m.id));
  for (const s of scoring)
    hrefs.set(
      s.runUri,
      path
        .relative(dir, path.join(path.dirname(s.runUri), RUN_PAGE))
        .split(path.sep)
        .join('/'),
    );
  for (const d of state.decisions) if (d.evidenceUri && !hrefs.has(d.evidenceUri)) await remember(d.evidenceUri);
  for (const s of scoring) if (!(await fileExists(path.join(path.dirname(s.runUri), RUN_PAGE)))) await writeScoringPage(store, model, s.runId);
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
  await store.writeJsonAtomic(path.join(dir, 'model.json'), state);
  await store.writeFileAtomic(page, html);
  return page;
}
