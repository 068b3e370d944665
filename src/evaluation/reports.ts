import type { ArtifactStore } from '../store/artifact-store';
import { urlJoin } from '../store/backend';
import { layout } from '../store/layout';
import type { EvaluationReport } from './report';

/** Where a model's evaluation reports live (a folder or an S3 prefix): reports/evaluations/<model>/<id>.json (+ .md, .html). */
export function evaluationsDir(store: ArtifactStore, model: string): string {
  return store.url(...layout.evaluations(model));
}

/** The URL of evaluation report `id` of `model`, as `.json` or one of its companions. */
export function evaluationFile(store: ArtifactStore, model: string, id: string, extension: 'json' | 'md' | 'html' = 'json'): string {
  return urlJoin(evaluationsDir(store, model), `${id}.${extension}`);
}

/** A model's stored evaluation reports, newest first. */
export async function latestEvaluations(store: ArtifactStore, model: string, limit: number): Promise<EvaluationReport[]> {
  const dir = evaluationsDir(store, model);
  const files = (await store.children(dir)).filter((f) => f.endsWith('.json'));
  const reports = await Promise.all(files.map((f) => store.readJson<EvaluationReport>(urlJoin(dir, f))));
  return reports
    .filter((r): r is EvaluationReport => r !== undefined)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
    .slice(0, limit);
}
