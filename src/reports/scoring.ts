import type { ScoreRun } from '../scoring/runs';
import { COLORS, divergingBarChart, histogramChart } from './charts';
import { grid, note, raw, renderPage, section, table, wide } from './page';
import { esc, fmt, pct } from './svg';

/**
 * A scoring run as a page: the share of flagged predictions against its limit, in words; the
 * output distribution against the acceptable range; and the most extreme flagged rows with the
 * features that pushed each one high or low.
 */
export function renderScoringPage(run: ScoreRun, source?: string): string {
  const data: Record<string, unknown> = {
    run: run.runId,
    rows: run.rows,
    outOfRange: run.outOfRange,
    notANumber: run.notANumber,
    flaggedShare: run.flaggedShare,
    range: run.range,
  };
  const flagged = run.outOfRange + run.notANumber;
  const verdict = run.alert
    ? `<strong>Alert:</strong> ${flagged} of ${run.rows} predictions (${esc(pct(run.flaggedShare))}) are flagged; the limit is ${esc(pct(run.maxFlaggedShare))}. A person should look at the rows below and acknowledge the run.`
    : `<strong>Within limits:</strong> ${flagged} of ${run.rows} predictions (${esc(pct(run.flaggedShare))}) are flagged; the limit is ${esc(pct(run.maxFlaggedShare))}.`;
  const facts = table(
    ['rows', 'out of range', 'not a number', 'flagged share', 'acceptable range', 'output min · mean · max', 'seconds (inference)'],
    [
      [
        String(run.rows),
        String(run.outOfRange),
        String(run.notANumber),
        pct(run.flaggedShare),
        `[${fmt(run.range.min)}, ${fmt(run.range.max)}] (${run.range.source})`,
        `${fmt(run.output.min)} · ${fmt(run.output.mean)} · ${fmt(run.output.max)}`,
        `${fmt(run.seconds.total, 3)} (${fmt(run.seconds.inference, 3)})`,
      ],
    ],
  );
  const s = run.summary;
  if (!s) {
    return renderPage({
      title: `Scoring run ${run.runId} of ${run.model}`,
      subtitle: subtitle(run),
      verdict: { ok: !run.alert, text: raw(verdict) },
      body: section('Run', facts, note('This run was scored before pages were written: no distribution was stored.')),
      data,
      source,
    });
  }
  data.histogram = s.histogram;
  data.topFlagged = s.topFlagged;
  const lo = s.histogram.edges[0] ?? run.range.min;
  const hi = s.histogram.edges[s.histogram.edges.length - 1] ?? run.range.max;
  const distribution = histogramChart({
    id: 'output-distribution',
    title: 'Output distribution against the acceptable range',
    xLabel: 'model output',
    yLabel: 'rows',
    edges: s.histogram.edges,
    mode: 'stacked',
    series: [
      { name: 'in range', color: COLORS.live, values: s.histogram.inRange },
      { name: 'out of range (flagged)', color: COLORS.flagged, values: s.histogram.outOfRange },
    ],
    regions: [
      { from: lo, to: run.range.min, label: 'outside the range', color: COLORS.outside },
      { from: run.range.max, to: hi, label: 'outside the range', color: COLORS.outside },
    ],
    rules: [
      { x: run.range.min, label: `min ${fmt(run.range.min)}` },
      { x: run.range.max, label: `max ${fmt(run.range.max)}` },
    ],
    width: 1160,
  });
  const scale = s.contributionScale === 'log-odds' ? 'contribution (log-odds)' : 'contribution';
  const rows = s.topFlagged.map((r) => [
    r.key,
    fmt(r.output),
    r.direction === 'not-a-number' ? 'not a number' : `too ${r.direction}`,
    r.contributions
      .slice(0, 3)
      .map((c) => `${c.feature} ${c.value >= 0 ? '+' : ''}${fmt(c.value, 3)}`)
      .join(', ') || '(the model gives no contributions)',
  ]);
  const charts = s.topFlagged
    .filter((r) => r.contributions.length > 0)
    .map((r, i) =>
      divergingBarChart({
        id: `contributions-${i}`,
        title: `${r.key}: output ${fmt(r.output)}, too ${r.direction}`,
        xLabel: `${scale}; right pushes the output up`,
        categories: r.contributions.map((c) => c.feature),
        values: r.contributions.map((c) => c.value),
      }),
    );
  const body = [
    section('Run', facts),
    section('Outputs', wide(distribution)),
    section(
      `The ${s.topFlagged.length} most extreme flagged rows`,
      s.topFlagged.length
        ? '<p>Furthest outside the range first. The bars are the features that moved each prediction most; all flagged rows are in the prediction log (<code>flag IS NOT NULL</code>).</p>'
        : '',
      table(['key', 'output', 'why flagged', 'largest contributions'], rows),
      charts.length ? grid(...charts) : '',
    ),
  ].join('\n');
  return renderPage({ title: `Scoring run ${run.runId} of ${run.model}`, subtitle: subtitle(run), verdict: { ok: !run.alert, text: raw(verdict) }, body, data, source });
}

function subtitle(run: ScoreRun): string {
  return `${run.model}@${run.modelVersion} on ${run.dataset}@${run.datasetVersion} · ${run.createdAt} · log ${run.logUri}`;
}
