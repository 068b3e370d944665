import type { DuckDBInstance } from '@duckdb/node-api';
import { defaultPrimaryMetric, higherIsBetter } from '../evaluation/gates';
import type { EvaluationReport } from '../evaluation/report';
import type { ModelVersionSummary } from '../models/card';
import { readModelCard } from '../models/cards';
import { liveMetrics } from '../monitoring/monitor';
import { withDuckDbActivity } from './progress';
import { esc } from '../reports/svg';
import type { ArtifactStore } from '../store/artifact-store';
import { layout } from '../store/layout';
import { LATENCY_BOUNDS_MS, type LiveComparison, mergeTraffic, type OnlineShadowSummary, type OnlineTraffic, type OnlineTrafficFile, summarizeShadow } from '../api/online';

export interface OnlineTrafficInput {
  model: string;
  candidate: string;
  /** The promotion run the servers followed (its workflow run id). */
  promotionRun: string;
}

/** What model servers wrote for one promotion run, summed (servers that wrote nothing count as none). */
export async function readOnlineTrafficFiles(store: ArtifactStore, input: OnlineTrafficInput): Promise<OnlineTraffic> {
  const segments = layout.onlineTraffic(input.model, input.candidate, input.promotionRun);
  const names = (await store.backend.children(store.key(...segments))).filter((n) => n.endsWith('.json'));
  const files = await Promise.all(names.map((n) => store.readJson<OnlineTrafficFile>(store.url(...segments, n)).catch(() => undefined)));
  return mergeTraffic(files.filter((f): f is OnlineTrafficFile => f !== undefined && f.candidate === input.candidate));
}

const SECTION_START = '<!-- online-shadow -->';
const SECTION_END = '<!-- /online-shadow -->';

const pct = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(2)} %`);
const num = (x: number | null) => (x === null ? '–' : x.toPrecision(4));
const ms = (x: number | null) => (x === null ? '–' : x === Infinity ? `> ${LATENCY_BOUNDS_MS.at(-1)} ms` : `≤ ${x} ms`);

function rowsOf(s: OnlineShadowSummary): string[][] {
  const side = (name: string, t: OnlineShadowSummary['production']) => [name, String(t.rows), pct(t.flaggedShare), num(t.meanOutput), ms(t.p50Ms), ms(t.p99Ms), String(t.errors)];
  return [side('production', s.production), side('candidate', s.candidate)];
}
const HEADER = ['model', 'rows', 'flagged', 'mean output', 'p50 latency', 'p99 latency', 'errors'];

function headline(s: OnlineShadowSummary): string {
  return (
    `${s.rows} live rows from ${s.servers} model server(s), scored by both models off the response path` +
    (s.agreement === null ? '' : `; same label on ${pct(s.agreement)}`) +
    `; mean |difference| ${num(s.meanAbsoluteDifference)}, max ${num(s.maxAbsoluteDifference)}` +
    `; ${s.dropped} request(s) not shadowed (queue full). As of ${s.at}.`
  );
}

function markdownSection(s: OnlineShadowSummary): string {
  const table = [HEADER, HEADER.map(() => '---'), ...rowsOf(s)].map((r) => `| ${r.join(' | ')} |`);
  const outputs = s.outputs
    ? [
        '',
        `Output distribution (rows below ${num(s.outputs.range.min)}, ${s.outputs.production.length - 2} bins up to ${num(s.outputs.range.max)}, above):`,
        '',
        `- production: ${s.outputs.production.join(' ')}`,
        `- candidate: ${s.outputs.candidate.join(' ')}`,
      ]
    : [];
  return [SECTION_START, '## Online shadow', '', headline(s), '', ...table, ...outputs, SECTION_END, ''].join('\n');
}

function htmlSection(s: OnlineShadowSummary): string {
  const cells = (r: string[], tag: string) => `<tr>${r.map((c) => `<${tag}>${esc(c)}</${tag}>`).join('')}</tr>`;
  const outputs = s.outputs
    ? `<p>Output distribution (below ${esc(num(s.outputs.range.min))}, ${s.outputs.production.length - 2} bins, above ${esc(num(s.outputs.range.max))}): production ${esc(s.outputs.production.join(' '))}; candidate ${esc(s.outputs.candidate.join(' '))}</p>`
    : '';
  return `${SECTION_START}<section><h2>Online shadow</h2><p>${esc(headline(s))}</p><table>${cells(HEADER, 'th')}${rowsOf(s)
    .map((r) => cells(r, 'td'))
    .join('')}</table>${outputs}</section>${SECTION_END}`;
}

/** Replaces the section if an earlier write left one, else puts it before `before` (or at the end). */
function withSection(text: string, section: string, before?: string): string {
  const start = text.indexOf(SECTION_START);
  if (start >= 0) {
    const end = text.indexOf(SECTION_END, start);
    return text.slice(0, start) + section + text.slice(end + SECTION_END.length + (text[end + SECTION_END.length] === '\n' ? 1 : 0));
  }
  const at = before ? text.indexOf(before) : -1;
  return at >= 0 ? text.slice(0, at) + section + text.slice(at) : `${text.trimEnd()}\n\n${section}`;
}

export interface OnlineShadowInput extends OnlineTrafficInput {
  reportUri: string;
  markdownUri: string;
  htmlUri?: string;
}

type CardRef = Pick<ModelVersionSummary, 'model' | 'version' | 'cardUri'>;

export interface CanaryTrafficInput extends OnlineTrafficInput {
  /** Also compare live metrics: both sides' online predictions since `since`, joined with their labels. */
  live?: { candidate: CardRef; production: CardRef; since: string };
}

export function createOnlineActivities(deps: { store: ArtifactStore; duckdb: DuckDBInstance }) {
  const { store } = deps;

  /** Each side's primary metric on its labeled online predictions (the prediction log joined with `mlops labels`). */
  async function compareLive(live: NonNullable<CanaryTrafficInput['live']>): Promise<LiveComparison> {
    const [candidate, production] = await Promise.all([readModelCard(store, live.candidate), readModelCard(store, live.production)]);
    const metric = defaultPrimaryMetric(candidate.task);
    const [c, p] = await withDuckDbActivity(deps.duckdb, async (conn) => [
      await liveMetrics(conn, store, candidate, metric, { onlineSince: live.since }),
      await liveMetrics(conn, store, production, metric, { onlineSince: live.since }),
    ]);
    const drop = c.value === null || p.value === null ? null : higherIsBetter(metric) ? p.value - c.value : c.value - p.value;
    return { metric, candidate: { rows: c.rows, value: c.value }, production: { rows: p.rows, value: p.value }, drop };
  }

  return {
    /** The live traffic of a promotion run so far (the canary's gates judge it), with live metrics when asked. */
    async readOnlineTraffic(input: CanaryTrafficInput): Promise<OnlineTraffic> {
      const traffic = await readOnlineTrafficFiles(store, input);
      // No prediction logged yet (or no labels): nothing to compare, not an error.
      if (input.live) traffic.live = await compareLive(input.live).catch(() => undefined);
      return traffic;
    },

    /**
     * Adds (or refreshes) the "online shadow" section of the promotion's evaluation report: in its
     * JSON (`onlineShadow`), Markdown and page. Nothing when no server shadowed the candidate.
     * Rewriting the same numbers is harmless, so a retry is too.
     */
    async recordOnlineShadow(input: OnlineShadowInput): Promise<OnlineShadowSummary | null> {
      const report = await store.readJson<EvaluationReport & { onlineShadow?: OnlineShadowSummary }>(input.reportUri);
      if (!report) return null;
      const summary = summarizeShadow(await readOnlineTrafficFiles(store, input), report.task !== 'regression', new Date().toISOString());
      if (!summary || summary.rows === 0) return null;
      const markdown = await store.readText(input.markdownUri);
      if (markdown !== undefined) await store.writeFileAtomic(input.markdownUri, withSection(markdown, markdownSection(summary)));
      const html = input.htmlUri ? await store.readText(input.htmlUri) : undefined;
      if (html !== undefined) await store.writeFileAtomic(input.htmlUri!, withSection(html, htmlSection(summary), '<footer>'));
      await store.writeJsonAtomic(input.reportUri, { ...report, onlineShadow: summary });
      return summary;
    },
  };
}
