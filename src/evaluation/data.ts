import type { DatasetLineage, DatasetManifest, LineageSource } from '../datasets/manifest';
import type { ModelCard } from '../models/card';

/**
 * Which rows trained each model and which rows judged them, for the evaluation report: a verdict
 * means little without knowing whether the judging rows are new data or the old test split.
 */
export interface RowsDescription {
  dataset: string;
  version: string;
  /** Rows of the version (accepted). */
  rows: number;
  kind: 'ingested' | DatasetLineage['kind'];
  rule?: string;
  /** The dataset versions the rows came from, with row counts and when they were published or scored. */
  sources: LineageSource[];
  labelBatches: DatasetLineage['labelBatches'];
  scoringRuns: DatasetLineage['scoringRuns'];
  /** Range of every date or timestamp column. */
  dateRanges: Array<{ column: string; min: string; max: string }>;
}

export interface EvaluationData {
  judged: RowsDescription & { rowsJudged: number };
  trained: Array<RowsDescription & { model: 'candidate' | 'baseline'; modelVersion: string; trainRows: number }>;
}

export function describeRows(m: DatasetManifest): RowsDescription {
  const dateRanges = m.profile
    .filter((p) => (p.type === 'date' || p.type === 'timestamp') && p.min !== undefined && p.max !== undefined)
    .map((p) => ({ column: p.name, min: String(p.min), max: String(p.max) }));
  const l = m.lineage;
  return {
    dataset: m.dataset,
    version: m.version,
    rows: m.rows.accepted,
    kind: l?.kind ?? 'ingested',
    ...(l ? { rule: l.rule } : {}),
    sources: l?.sources ?? [{ kind: 'ingested', dataset: m.dataset, version: m.version, rows: m.rows.accepted, createdAt: m.createdAt }],
    labelBatches: l?.labelBatches ?? [],
    scoringRuns: l?.scoringRuns ?? [],
    dateRanges,
  };
}

export function describeEvaluationData(
  judged: DatasetManifest,
  rowsJudged: number,
  models: Array<{ role: 'candidate' | 'baseline'; card: ModelCard; manifest?: DatasetManifest }>,
): EvaluationData {
  return {
    judged: { ...describeRows(judged), rowsJudged },
    trained: models.flatMap(({ role, card, manifest }) => (manifest ? [{ ...describeRows(manifest), model: role, modelVersion: card.version, trainRows: card.split.train }] : [])),
  };
}

export const KIND_WORDS: Record<RowsDescription['kind'], string> = {
  ingested: 'ingested data',
  'labeled-production': 'labeled production data',
  'training-window': 'a training window',
  'judging-set': 'labeled production rows neither model trained on',
};

function sourceLine(s: LineageSource): string {
  const when = s.scored ? `scored ${s.scored.from === s.scored.to ? s.scored.from : `${s.scored.from} … ${s.scored.to}`}` : `published ${s.createdAt}`;
  return `${s.dataset}@${s.version}: ${s.rows} ${s.kind === 'labeled-production' ? 'labeled production' : 'ingested'} rows (${when})`;
}

/** Where the rows came from, one indented bullet per fact (the report's Data section, `mlops datasets show`). */
export function describeLines(d: RowsDescription): string[] {
  const lines = [`  - ${d.rule ?? KIND_WORDS[d.kind]}`, ...d.sources.map((s) => `  - ${sourceLine(s)}`)];
  if (d.labelBatches.length) lines.push(`  - labels from ${d.labelBatches.length} batch(es): ${d.labelBatches.map((b) => `${b.uri} (${b.rows} rows)`).join(', ')}`);
  if (d.scoringRuns.length) lines.push(`  - scored by ${d.scoringRuns.length} run(s): ${d.scoringRuns.map((r) => `${r.runId} (${r.modelVersion}, ${r.scoredAt})`).join(', ')}`);
  for (const r of d.dateRanges) lines.push(`  - ${r.column}: ${r.min} … ${r.max}`);
  return lines;
}

/** The "Data" section of the Markdown report. */
export function renderDataMarkdown(data: EvaluationData): string[] {
  const lines = [
    '## Data',
    '',
    `**Judged on** ${data.judged.rowsJudged} rows of ${data.judged.dataset}@${data.judged.version} (${data.judged.rows} rows in the version):`,
    ...describeLines(data.judged),
  ];
  for (const t of data.trained) {
    lines.push(
      '',
      `**${t.model === 'candidate' ? 'Candidate' : 'Production'} ${t.modelVersion} trained on** ${t.trainRows} rows (its training split) of ${t.dataset}@${t.version} (${t.rows} rows):`,
      ...describeLines(t),
    );
  }
  return lines;
}
