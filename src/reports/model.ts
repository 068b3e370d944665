import type { RegistryState } from '../api/registry';
import { COLORS, lineChart, type TimelineEvent, timelineChart } from './charts';
import { grid, link, raw, renderPage, section, table, wide } from './page';
import { esc, fmt } from './svg';

/**
 * A model's page (`mlops report <model>`): its versions and aliases, its decision log as a
 * timeline where each decision links to its evidence, and links to its evaluation, monitoring
 * and scoring pages. Links are relative, so the pages open from the store folder, an archive
 * of it, or the loopback server alike.
 */
export interface ModelPageInput {
  state: RegistryState;
  /** The metric the versions are compared on (the model's primary metric). */
  primaryMetric: string;
  /** uri of a piece of evidence (decision.evidenceUri, a report's JSON) → href relative to the page. */
  href: (uri: string) => string | undefined;
  evaluations: Array<{ id: string; createdAt: string; candidate: string; baseline: string | null; passed: boolean; uri: string }>;
  monitoring: Array<{ id: string; createdAt: string; modelVersion: string; triggered: boolean; uri: string }>;
  scoring: Array<{ runId: string; createdAt: string; modelVersion: string; rows: number; flaggedShare: number; alert: boolean; uri: string }>;
  generatedAt: string;
}

/** Lanes of the timeline: what kind of decision, production moves apart from candidate ones. */
export function laneOf(action: string, alias?: string): string {
  if (action === 'set-alias') return `${alias ?? 'alias'} alias`;
  return action;
}

const LANE_COLORS: Record<string, string> = {
  register: COLORS.neutral,
  'candidate alias': COLORS.candidate,
  'production alias': COLORS.ok,
  rollback: COLORS.baseline,
  reject: COLORS.flagged,
  archive: '#a855f7',
};

const shortVersion = (v: string | undefined) => (v ? v.slice(0, 12) : '(none)');

export function renderModelPage(o: ModelPageInput): string {
  const { state } = o;
  const aliasesOf = (version: string) =>
    Object.entries(state.aliases)
      .filter(([, v]) => v === version)
      .map(([a]) => a);
  const lanes = ['register', 'candidate alias', 'production alias', 'reject', 'rollback', 'archive'].filter((l) => state.decisions.some((d) => laneOf(d.action, d.alias) === l));
  const events: TimelineEvent[] = state.decisions.map((d) => {
    const lane = laneOf(d.action, d.alias);
    const href = d.evidenceUri ? o.href(d.evidenceUri) : undefined;
    return {
      at: Date.parse(d.at),
      lane,
      color: LANE_COLORS[lane] ?? COLORS.neutral,
      label: `${d.at} · ${d.action}${d.alias ? ` ${d.alias}` : ''} → ${shortVersion(d.version)} by ${d.by}: ${d.reason}`,
      ...(href ? { href } : {}),
    };
  });
  const metric = o.primaryMetric;
  const versions = [...state.versions].sort((a, b) => a.registeredAt.localeCompare(b.registeredAt));
  const metricPoints = versions.flatMap((v) => {
    const value = v.metrics.test[metric];
    return value !== undefined && Number.isFinite(value) ? [[Date.parse(v.registeredAt), value] as const] : [];
  });
  const data = {
    model: state.model,
    aliases: state.aliases,
    versions: versions.map((v) => ({ version: v.version, registeredAt: v.registeredAt, status: v.status, [metric]: v.metrics.test[metric] ?? null })),
    decisions: state.decisions,
  };
  const versionRows = [...versions].reverse().map((v) => [
    raw(`<code>${esc(v.version)}</code>`),
    v.registeredAt,
    aliasesOf(v.version).join(', ') || (v.status === 'archived' ? 'archived' : ''),
    v.trainer.kind,
    `${v.dataset.name}@${v.dataset.version.slice(0, 8)}`,
    fmt(v.metrics.test[metric]),
    raw(
      o.evaluations
        .filter((e) => e.candidate === v.version)
        .slice(0, 3)
        .map((e) => {
          const h = o.href(e.uri);
          return h ? link(h, `${e.passed ? 'passed' : 'failed'} ${e.createdAt.slice(0, 10)}`).html : '';
        })
        .join(' · '),
    ),
  ]);
  const decisionRows = [...state.decisions].reverse().map((d) => {
    const href = d.evidenceUri ? o.href(d.evidenceUri) : undefined;
    return [
      d.at,
      d.action,
      d.alias ?? '',
      raw(`<code>${esc(shortVersion(d.version))}</code>`),
      d.by,
      d.reason,
      href ? link(href, 'evidence') : d.evidenceUri ? raw(`<code>${esc(d.evidenceUri)}</code>`) : '',
    ];
  });
  const reportLinks = (title: string, rows: Array<{ label: string; uri: string; detail: string }>) =>
    `<h3>${esc(title)}</h3>` +
    table(
      ['report', 'detail'],
      rows.map((r) => {
        const h = o.href(r.uri);
        return [h ? link(h, r.label) : r.label, r.detail];
      }),
    );
  const body = [
    section(
      'Decisions',
      wide(timelineChart({ id: 'decisions', title: 'Decision log (click a point for its evidence)', lanes, events, width: 1160 })),
      table(['at', 'action', 'alias', 'version', 'by', 'reason', 'evidence'], decisionRows),
    ),
    section(
      `Versions (${state.versions.length}${state.retiredVersions ? `, ${state.retiredVersions} older retired from the registry's state` : ''})`,
      grid(
        lineChart({
          id: 'versions-metric',
          title: `Test ${metric} per version, by registration time`,
          xLabel: 'registered (UTC)',
          yLabel: metric,
          time: true,
          series: [{ name: `test ${metric}`, color: COLORS.candidate, dots: true, points: metricPoints }],
        }),
      ),
      table(['version', 'registered', 'aliases', 'trainer', 'trained on', `test ${metric}`, 'evaluations'], versionRows),
    ),
    section(
      'Reports',
      reportLinks(
        'Evaluations',
        o.evaluations.map((e) => ({
          label: `${e.createdAt} · ${e.id}`,
          uri: e.uri,
          detail: `${shortVersion(e.candidate)} vs ${e.baseline ? shortVersion(e.baseline) : 'none'}: ${e.passed ? 'passed' : 'failed'}`,
        })),
      ),
      reportLinks(
        'Monitoring runs',
        o.monitoring.map((m) => ({
          label: `${m.createdAt} · ${m.id}`,
          uri: m.uri,
          detail: `${shortVersion(m.modelVersion)}: ${m.triggered ? 'threshold crossed' : 'no threshold crossed'}`,
        })),
      ),
      reportLinks(
        'Scoring runs',
        o.scoring.map((s) => ({
          label: `${s.createdAt} · ${s.runId}`,
          uri: s.uri,
          detail: `${shortVersion(s.modelVersion)}: ${s.rows} rows, ${fmt(s.flaggedShare * 100, 3)} % flagged${s.alert ? ' (alert)' : ''}`,
        })),
      ),
    ),
  ].join('\n');
  return renderPage({
    title: `Model ${state.model}`,
    subtitle: `production ${shortVersion(state.aliases.production)} · candidate ${shortVersion(state.aliases.candidate)} · ${state.versions.length} version(s) · generated ${o.generatedAt}`,
    body,
    data,
  });
}
