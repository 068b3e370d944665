import { type EvaluationData, KIND_WORDS, renderDataMarkdown } from './data';
import type { GateResult, GatesConfig } from './gates';
import type { ShadowResult } from './shadow';

/** A stored evaluation: the shadow comparison plus the gates' verdicts (reports/evaluations/<model>/<id>.json). */
export interface EvaluationReport extends ShadowResult {
  id: string;
  model: string;
  createdAt: string;
  dataset: { name: string; version: string };
  primaryMetric: string;
  gatesConfig: GatesConfig;
  gates: GateResult[];
  passed: boolean;
  /** Which rows trained each model and which judged them (reports written before this field lack it). */
  data?: EvaluationData;
}

const num = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '–' : Number(v.toPrecision(4)).toString());

function table(header: string[], rows: string[][]): string {
  const escape = (cell: string) => cell.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [header, header.map(() => '---'), ...rows].map((r) => `| ${r.map(escape).join(' | ')} |`).join('\n');
}

/** The same report for people: verdict first, then the evidence. */
export function renderMarkdown(r: EvaluationReport): string {
  const hasBaseline = r.baseline !== undefined;
  const metricNames = Object.keys(r.candidate.metrics);
  const lines = [
    `# Evaluation of ${r.model}: ${r.candidate.version}${hasBaseline ? ` vs production ${r.baseline!.version}` : ' (no baseline)'}`,
    '',
    `**Verdict: ${r.passed ? 'PASSED' : 'FAILED'}** — ${r.rows} rows of ${r.dataset.name}@${r.dataset.version}${r.data ? ` (${KIND_WORDS[r.data.judged.kind]}; see Data)` : ''}, ${r.createdAt}.`,
    `Left out: ${r.excluded.join('; ')}.`,
    '',
    '## Gates',
    '',
    r.gates.length
      ? table(
          ['gate', 'result', 'detail'],
          r.gates.map((g) => [g.gate, g.passed ? 'pass' : '**FAIL**', g.detail]),
        )
      : 'No gates apply.',
    '',
    '## Metrics',
    '',
    table(
      ['metric', 'candidate', ...(hasBaseline ? ['baseline', 'difference'] : [])],
      metricNames.map((m) => {
        const c = r.candidate.metrics[m];
        const b = r.baseline?.metrics[m];
        return [m === r.primaryMetric ? `**${m}**` : m, num(c), ...(hasBaseline ? [num(b), num(c !== undefined && b !== undefined ? c - b : undefined)] : [])];
      }),
    ),
    '',
    '## Latency and throughput (ONNX Runtime, per batch)',
    '',
    table(
      ['model', 'batches', 'p50 ms', 'p99 ms', 'rows/s'],
      [r.candidate, ...(r.baseline ? [r.baseline] : [])].map((s) => [
        s.version,
        String(s.latency.batches),
        num(s.latency.p50Ms),
        num(s.latency.p99Ms),
        num(s.latency.rowsPerSecond),
      ]),
    ),
  ];
  if (r.agreement) {
    const d = r.agreement.absoluteDifference;
    lines.push(
      '',
      '## Agreement',
      '',
      `${r.agreement.sameLabel !== undefined ? `Same predicted label on ${num(r.agreement.sameLabel * 100)}% of rows. ` : ''}` +
        `Absolute output difference: mean ${num(d.mean)}, p50 ${num(d.p50)}, p90 ${num(d.p90)}, p99 ${num(d.p99)}, max ${num(d.max)}.`,
    );
  }
  if (r.slices.length) {
    lines.push(
      '',
      `## Slices (${r.primaryMetric})`,
      '',
      table(
        ['column', 'value', 'rows', 'candidate', ...(hasBaseline ? ['baseline'] : [])],
        r.slices.map((s) => [s.column, s.value, String(s.rows), num(s.candidate[r.primaryMetric]), ...(hasBaseline ? [num(s.baseline?.[r.primaryMetric])] : [])]),
      ),
    );
  }
  if (r.data) lines.push('', ...renderDataMarkdown(r.data));
  return `${lines.join('\n')}\n`;
}
