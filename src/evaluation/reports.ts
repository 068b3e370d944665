import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ArtifactStore } from '../store/artifact-store';
import { layout } from '../store/layout';
import type { EvaluationReport } from './report';

export function evaluationsDir(store: ArtifactStore, model: string): string {
  return store.path(...layout.evaluations(model));
}

/** A model's stored evaluation reports, newest first. */
export async function latestEvaluations(store: ArtifactStore, model: string, limit: number): Promise<EvaluationReport[]> {
  const dir = evaluationsDir(store, model);
  const files = (await fs.readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));
  const reports = await Promise.all(files.map((f) => store.readJson<EvaluationReport>(path.join(dir, f))));
  return reports
    .filter((r): r is EvaluationReport => r !== undefined)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
    .slice(0, limit);
}
