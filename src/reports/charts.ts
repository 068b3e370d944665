import {
  datum,
  esc,
  fmt,
  type Frame,
  frameOf,
  legend,
  type LegendEntry,
  linearScale,
  niceDomain,
  niceTicks,
  px,
  type Scale,
  svgRoot,
  timeDomain,
  timeLabel,
  timeTicks,
  xAxis,
  yAxis,
} from './svg';

/**
 * The charts of the report pages, as inline SVG. Every plot area says which data rectangle it
 * shows (data-x0 … data-y1 and its pixel box), and every bar, cell and event carries the exact
 * value it stands for (data-value …), so a test can read a drawn mark back into the number and
 * compare it with the report — the page shows the report, not an approximation of it.
 */
export const COLORS = {
  candidate: '#2563eb',
  baseline: '#f97316',
  training: '#94a3b8',
  live: '#2563eb',
  flagged: '#dc2626',
  ok: '#16a34a',
  neutral: '#64748b',
  reference: '#94a3b8',
  /** Shading of what lies outside an acceptable range. */
  outside: '#fca5a5',
} as const;

interface ChartBase {
  id: string;
  title: string;
  width?: number;
  height?: number;
}

/** The plot group: its data domain and pixel box, for reading marks back into data. */
function plotGroup(f: Frame, x: Scale | undefined, y: Scale | undefined, body: string): string {
  const domain = [
    ...(x ? [`data-x0="${datum(x.domain[0])}" data-x1="${datum(x.domain[1])}"`] : []),
    ...(y ? [`data-y0="${datum(y.domain[0])}" data-y1="${datum(y.domain[1])}"`] : []),
  ].join(' ');
  return `<g class="plot" ${domain} data-left="${f.left}" data-right="${f.right}" data-top="${f.top}" data-bottom="${f.bottom}">${body}</g>`;
}

function chartTitle(f: Frame, title: string): string {
  return `<text class="chart-title" x="${px(f.left)}" y="14">${esc(title)}</text>`;
}

function noData(base: ChartBase, why: string): string {
  const f = frameOf(base.width ?? 640, 120);
  return svgRoot(base.id, f, base.title, `${chartTitle(f, base.title)}<text class="no-data" x="${px(f.width / 2)}" y="70" text-anchor="middle">${esc(why)}</text>`);
}

export interface LineSeries {
  name: string;
  color: string;
  points: ReadonlyArray<readonly [number, number]>;
  dashed?: boolean;
  /** Draw a dot at every point (few points, e.g. one per monitoring run). */
  dots?: boolean;
}

export interface LineChartOptions extends ChartBase {
  xLabel: string;
  yLabel: string;
  series: readonly LineSeries[];
  xDomain?: [number, number];
  yDomain?: [number, number];
  /** The y = x line (ROC's chance line, a perfectly calibrated model). */
  diagonal?: boolean;
  /** x values are epoch milliseconds. */
  time?: boolean;
  /** Horizontal reference lines (a threshold, a baseline). */
  rules?: ReadonlyArray<{ y: number; label: string; color?: string }>;
}

export function lineChart(o: LineChartOptions): string {
  const series = o.series.map((s) => ({ ...s, points: s.points.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b)) })).filter((s) => s.points.length > 0);
  if (series.length === 0) return noData(o, 'no data to draw');
  const f = frameOf(o.width ?? 640, o.height ?? 320);
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = [...series.flatMap((s) => s.points.map((p) => p[1])), ...(o.rules ?? []).map((r) => r.y)];
  const x = linearScale(o.xDomain ?? (o.time ? timeDomain(xs) : niceDomain(xs)), [f.left, f.right]);
  const y = linearScale(o.yDomain ?? niceDomain(ys), [f.bottom, f.top]);
  const span = x.domain[1] - x.domain[0];
  const xTicks = o.time ? timeTicks(x.domain, 5) : undefined;
  const body: string[] = [yAxis(f, y, o.yLabel), xAxis(f, x, o.xLabel, xTicks, o.time ? (v) => timeLabel(v, span) : fmt)];
  if (o.diagonal) {
    const lo = Math.max(x.domain[0], y.domain[0]);
    const hi = Math.min(x.domain[1], y.domain[1]);
    body.push(`<line class="reference" x1="${px(x(lo))}" y1="${px(y(lo))}" x2="${px(x(hi))}" y2="${px(y(hi))}" stroke="${COLORS.reference}" stroke-dasharray="4 4"/>`);
  }
  for (const r of o.rules ?? []) {
    const at = px(y(r.y));
    body.push(
      `<line class="rule" data-value="${datum(r.y)}" x1="${px(f.left)}" x2="${px(f.right)}" y1="${at}" y2="${at}" stroke="${esc(r.color ?? COLORS.neutral)}" stroke-dasharray="6 3"/>` +
        `<text class="rule-label" x="${px(f.right - 4)}" y="${px(y(r.y) - 4)}" text-anchor="end">${esc(r.label)}</text>`,
    );
  }
  for (const s of series) {
    const d = s.points.map(([a, b], i) => `${i === 0 ? 'M' : 'L'}${px(x(a))} ${px(y(b))}`).join('');
    body.push(`<path class="line" data-series="${esc(s.name)}" d="${d}" fill="none" stroke="${esc(s.color)}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 3"' : ''}/>`);
    if (s.dots) {
      for (const [a, b] of s.points) {
        body.push(
          `<circle class="dot" data-series="${esc(s.name)}" data-x="${datum(a)}" data-y="${datum(b)}" cx="${px(x(a))}" cy="${px(y(b))}" r="3.5" fill="${esc(s.color)}"><title>${esc(`${s.name}: ${fmt(b)}`)}</title></circle>`,
        );
      }
    }
  }
  const entries: LegendEntry[] = series.map((s) => ({ name: s.name, color: s.color, line: true, dashed: s.dashed }));
  return svgRoot(o.id, f, o.title, chartTitle(f, o.title) + legend(f, entries) + plotGroup(f, x, y, body.join('')));
}

export interface BarSeries {
  name: string;
  color: string;
  values: ReadonlyArray<number | null>;
}

export interface BarChartOptions extends ChartBase {
  yLabel: string;
  categories: readonly string[];
  series: readonly BarSeries[];
  yDomain?: [number, number];
  /** A tick across a category's bars, e.g. the lowest value a gate allows. */
  markers?: ReadonlyArray<{ category: number; value: number; label: string }>;
  /** What the markers are, for the legend. */
  markerLegend?: string;
  /** false: the axis starts near the smallest value, so small differences show (metrics like AUC near 1). */
  includeZero?: boolean;
  /** Categories drawn pale (e.g. slices too small to be gated). */
  muted?: readonly boolean[];
  format?: (v: number) => string;
}

/** Grouped vertical bars: one group per category, one bar per series. */
export function barChart(o: BarChartOptions): string {
  const values = o.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  if (o.categories.length === 0 || values.length === 0) return noData(o, 'no data to draw');
  const shown = [...values, ...(o.markers ?? []).map((m) => m.value)];
  // Without zero, room below the smallest value, so its bar is still seen.
  const floor = Math.min(...shown) - (Math.max(...shown) - Math.min(...shown)) * 0.15;
  const domain = o.yDomain ?? niceDomain(shown, o.includeZero === false ? [floor] : [0]);
  const format = o.format ?? fmt;
  // Many categories (a 20-bin histogram): every k-th is labelled, and the last (e.g. "missing") always.
  const every = Math.ceil(o.categories.length / 12);
  const labelled = (c: number) => c % every === 0 || c === o.categories.length - 1;
  const longest = Math.max(...o.categories.filter((_, c) => labelled(c)).map((c) => c.length));
  const width = o.width ?? 640;
  const rotate = Math.ceil(o.categories.length / every) * Math.max(6, longest * 6.5) > width - 80;
  const tickWidth = Math.max(...niceTicks(domain[0], domain[1], 5).map((t) => format(t).length)) * 6.2;
  // Room for the tick labels and the axis title on the left, and for the first rotated category label.
  const left = Math.max(56, 30 + tickWidth, rotate ? longest * 5 + 10 - (width - 80) / o.categories.length / 2 : 0);
  const f = frameOf(width, o.height ?? 300, { left, bottom: rotate ? Math.min(130, 24 + longest * 4.6) : 44 });
  const y = linearScale(domain, [f.bottom, f.top]);
  const slot = (f.right - f.left) / o.categories.length;
  const barWidth = (slot * 0.8) / o.series.length;
  const zero = y(Math.max(y.domain[0], Math.min(y.domain[1], 0)));
  const body: string[] = [yAxis(f, y, o.yLabel, undefined, format), `<line class="axis" x1="${px(f.left)}" x2="${px(f.right)}" y1="${px(zero)}" y2="${px(zero)}"/>`];
  o.categories.forEach((category, c) => {
    const x0 = f.left + c * slot + slot * 0.1;
    const muted = o.muted?.[c] ?? false;
    o.series.forEach((s, k) => {
      const v = s.values[c];
      if (v === null || v === undefined || !Number.isFinite(v)) return;
      const top = y(v);
      body.push(
        `<rect class="bar" data-series="${esc(s.name)}" data-category="${esc(category)}" data-value="${datum(v)}" x="${px(x0 + k * barWidth)}" y="${px(Math.min(top, zero))}" width="${px(Math.max(1, barWidth - 1))}" height="${px(Math.abs(zero - top))}" fill="${esc(s.color)}"${muted ? ' fill-opacity="0.35"' : ''}><title>${esc(`${category} · ${s.name}: ${format(v)}`)}</title></rect>`,
      );
    });
    const cx = f.left + (c + 0.5) * slot;
    if (!labelled(c)) return;
    body.push(
      rotate
        ? `<text class="tick" transform="translate(${px(cx)} ${px(f.bottom + 10)}) rotate(-40)" text-anchor="end">${esc(category)}</text>`
        : `<text class="tick" x="${px(cx)}" y="${px(f.bottom + 16)}" text-anchor="middle">${esc(category)}</text>`,
    );
  });
  for (const m of o.markers ?? []) {
    const x0 = f.left + m.category * slot + slot * 0.05;
    const at = px(y(m.value));
    body.push(
      `<line class="marker" data-category="${esc(o.categories[m.category] ?? '')}" data-value="${datum(m.value)}" x1="${px(x0)}" x2="${px(x0 + slot * 0.9)}" y1="${at}" y2="${at}" stroke="#111827" stroke-width="2" stroke-dasharray="3 2"><title>${esc(m.label)}</title></line>`,
    );
  }
  const entries: LegendEntry[] = o.series.map((s) => ({ name: s.name, color: s.color }));
  if (o.markers?.length && o.markerLegend) entries.push({ name: o.markerLegend, color: '#111827', line: true, dashed: true });
  return svgRoot(o.id, f, o.title, chartTitle(f, o.title) + legend(f, entries) + plotGroup(f, undefined, y, body.join('')));
}

export interface HistogramOptions extends ChartBase {
  xLabel: string;
  yLabel: string;
  /** bins + 1 edges, ascending. */
  edges: readonly number[];
  series: readonly BarSeries[];
  /** grouped: side by side in each bin; stacked: on top of each other (parts of one whole). */
  mode: 'grouped' | 'stacked';
  /** Shaded x ranges (e.g. outside the acceptable range). */
  regions?: ReadonlyArray<{ from: number; to: number; label: string; color: string }>;
  /** Vertical lines (range bounds, zero). */
  rules?: ReadonlyArray<{ x: number; label: string; color?: string }>;
  format?: (v: number) => string;
}

export function histogramChart(o: HistogramOptions): string {
  const bins = o.edges.length - 1;
  const present = o.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  if (bins < 1 || present.length === 0 || present.every((v) => v === 0)) return noData(o, 'no data to draw');
  const f = frameOf(o.width ?? 640, o.height ?? 300);
  const xs = [o.edges[0]!, o.edges[bins]!, ...(o.rules ?? []).map((r) => r.x)];
  const x = linearScale(niceDomain(xs), [f.left, f.right]);
  const heights = o.mode === 'stacked' ? Array.from({ length: bins }, (_, b) => o.series.reduce((a, s) => a + (s.values[b] ?? 0), 0)) : present;
  const y = linearScale(niceDomain(heights, [0]), [f.bottom, f.top]);
  const format = o.format ?? fmt;
  const body: string[] = [];
  for (const r of o.regions ?? []) {
    const from = Math.max(x.domain[0], r.from);
    const to = Math.min(x.domain[1], r.to);
    if (to > from) {
      body.push(
        `<rect class="region" data-from="${datum(r.from)}" data-to="${datum(r.to)}" x="${px(x(from))}" y="${px(f.top)}" width="${px(x(to) - x(from))}" height="${px(f.bottom - f.top)}" fill="${esc(r.color)}" fill-opacity="0.3"><title>${esc(r.label)}</title></rect>`,
      );
    }
  }
  body.push(yAxis(f, y, o.yLabel, undefined, format), xAxis(f, x, o.xLabel));
  for (let b = 0; b < bins; b++) {
    const left = x(o.edges[b]!);
    const width = Math.max(1, x(o.edges[b + 1]!) - left - 1);
    let stackedTop = 0;
    o.series.forEach((s, k) => {
      const v = s.values[b];
      if (v === null || v === undefined || !Number.isFinite(v) || v === 0) return;
      const bottomValue = o.mode === 'stacked' ? stackedTop : 0;
      const topValue = bottomValue + v;
      if (o.mode === 'stacked') stackedTop = topValue;
      const w = o.mode === 'grouped' ? width / o.series.length : width;
      const xLeft = o.mode === 'grouped' ? left + k * w : left;
      body.push(
        `<rect class="bar" data-series="${esc(s.name)}" data-bin="${b}" data-from="${datum(o.edges[b]!)}" data-to="${datum(o.edges[b + 1]!)}" data-value="${datum(v)}" x="${px(xLeft)}" y="${px(y(topValue))}" width="${px(Math.max(0.5, w))}" height="${px(y(bottomValue) - y(topValue))}" fill="${esc(s.color)}"><title>${esc(`${s.name}, ${fmt(o.edges[b]!)} … ${fmt(o.edges[b + 1]!)}: ${format(v)}`)}</title></rect>`,
      );
    });
  }
  for (const r of o.rules ?? []) {
    const at = px(x(r.x));
    body.push(
      `<line class="rule" data-value="${datum(r.x)}" x1="${at}" x2="${at}" y1="${px(f.top)}" y2="${px(f.bottom)}" stroke="${esc(r.color ?? '#111827')}" stroke-width="1.5" stroke-dasharray="5 3"/>` +
        `<text class="rule-label" x="${px(x(r.x) + 4)}" y="${px(f.top + 10)}">${esc(r.label)}</text>`,
    );
  }
  const entries: LegendEntry[] = [...o.series.map((s) => ({ name: s.name, color: s.color })), ...(o.regions ?? []).slice(0, 1).map((r) => ({ name: r.label, color: r.color }))];
  return svgRoot(o.id, f, o.title, chartTitle(f, o.title) + legend(f, entries) + plotGroup(f, x, y, body.join('')));
}

export interface HeatmapOptions extends ChartBase {
  rowLabel: string;
  colLabel: string;
  rows: readonly string[];
  cols: readonly string[];
  /** values[row][col], e.g. a confusion matrix's counts (actual × predicted). */
  values: ReadonlyArray<ReadonlyArray<number>>;
}

/** Cells shaded by their share of the row (a confusion matrix reads as recall per class), counts written in. */
export function heatmapChart(o: HeatmapOptions): string {
  if (o.rows.length === 0 || o.cols.length === 0) return noData(o, 'no data to draw');
  const labelWidth = Math.min(140, 24 + Math.max(...o.rows.map((r) => r.length)) * 7);
  const cell = Math.max(36, Math.min(90, 300 / Math.max(o.rows.length, o.cols.length)));
  const width = Math.max(labelWidth + o.cols.length * cell + 16, labelWidth + o.title.length * 8.2 + 8);
  const f = frameOf(width, 56 + o.rows.length * cell + 40, { left: labelWidth, top: 56, bottom: 40, right: width - labelWidth - o.cols.length * cell });
  const body: string[] = [];
  o.rows.forEach((row, r) => {
    const total = o.values[r]!.reduce((a, b) => a + b, 0);
    o.cols.forEach((col, c) => {
      const v = o.values[r]![c] ?? 0;
      const share = total > 0 ? v / total : 0;
      const diagonal = row === col;
      const color = diagonal ? COLORS.candidate : COLORS.flagged;
      const x0 = f.left + c * cell;
      const y0 = f.top + r * cell;
      body.push(
        `<rect class="cell" data-row="${esc(row)}" data-col="${esc(col)}" data-value="${datum(v)}" x="${px(x0)}" y="${px(y0)}" width="${px(cell - 2)}" height="${px(cell - 2)}" fill="${color}" fill-opacity="${px(0.08 + 0.82 * share)}"><title>${esc(`actual ${row}, predicted ${col}: ${v}`)}</title></rect>` +
          `<text class="cell-text${share > 0.55 ? ' on-dark' : ''}" x="${px(x0 + (cell - 2) / 2)}" y="${px(y0 + (cell - 2) / 2)}" text-anchor="middle" dominant-baseline="middle">${esc(v)}</text>`,
      );
    });
    body.push(`<text class="tick" x="${px(f.left - 6)}" y="${px(f.top + r * cell + cell / 2)}" text-anchor="end" dominant-baseline="middle">${esc(row)}</text>`);
  });
  o.cols.forEach((col, c) => body.push(`<text class="tick" x="${px(f.left + c * cell + cell / 2)}" y="${px(f.top - 8)}" text-anchor="middle">${esc(col)}</text>`));
  body.push(`<text class="axis-label" x="${px(f.left + (o.cols.length * cell) / 2)}" y="${px(f.top - 26)}" text-anchor="middle">${esc(o.colLabel)}</text>`);
  body.push(`<text class="axis-label" x="${px(f.left)}" y="${px(f.top + o.rows.length * cell + 18)}">${esc(o.rowLabel)} ↓ (rows)</text>`);
  return svgRoot(o.id, f, o.title, chartTitle(f, o.title) + plotGroup(f, undefined, undefined, body.join('')));
}

export interface ScatterOptions extends ChartBase {
  xLabel: string;
  yLabel: string;
  series: ReadonlyArray<{ name: string; color: string; points: ReadonlyArray<readonly [number, number]> }>;
  diagonal?: boolean;
  /** A horizontal line at this y (0 for residuals). */
  zeroLine?: boolean;
  /** Lines drawn over the dots (e.g. binned means). */
  lines?: readonly LineSeries[];
}

export function scatterChart(o: ScatterOptions): string {
  const all = [...o.series.flatMap((s) => s.points), ...(o.lines ?? []).flatMap((l) => l.points)].filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
  if (all.length === 0) return noData(o, 'no data to draw');
  const f = frameOf(o.width ?? 640, o.height ?? 340);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const both = o.diagonal ? niceDomain([...xs, ...ys]) : undefined;
  const x = linearScale(both ?? niceDomain(xs), [f.left, f.right]);
  const y = linearScale(both ?? niceDomain(ys, o.zeroLine ? [0] : []), [f.bottom, f.top]);
  const body: string[] = [yAxis(f, y, o.yLabel), xAxis(f, x, o.xLabel)];
  if (o.diagonal)
    body.push(
      `<line class="reference" x1="${px(x(x.domain[0]))}" y1="${px(y(x.domain[0]))}" x2="${px(x(x.domain[1]))}" y2="${px(y(x.domain[1]))}" stroke="${COLORS.reference}" stroke-dasharray="4 4"/>`,
    );
  if (o.zeroLine)
    body.push(`<line class="reference" x1="${px(f.left)}" x2="${px(f.right)}" y1="${px(y(0))}" y2="${px(y(0))}" stroke="${COLORS.reference}" stroke-dasharray="4 4"/>`);
  for (const s of o.series) {
    const dots = s.points
      .filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b))
      .map(([a, b]) => `<circle class="dot" data-series="${esc(s.name)}" cx="${px(x(a))}" cy="${px(y(b))}" r="2.2"/>`);
    body.push(`<g fill="${esc(s.color)}" fill-opacity="0.45">${dots.join('')}</g>`);
  }
  for (const l of o.lines ?? []) {
    const d = l.points.map(([a, b], i) => `${i === 0 ? 'M' : 'L'}${px(x(a))} ${px(y(b))}`).join('');
    body.push(`<path class="line" data-series="${esc(l.name)}" d="${d}" fill="none" stroke="${esc(l.color)}" stroke-width="2.5"${l.dashed ? ' stroke-dasharray="6 3"' : ''}/>`);
  }
  const entries: LegendEntry[] = [
    ...o.series.map((s) => ({ name: s.name, color: s.color })),
    ...(o.lines ?? []).map((l) => ({ name: l.name, color: l.color, line: true, dashed: l.dashed })),
  ];
  return svgRoot(o.id, f, o.title, chartTitle(f, o.title) + legend(f, entries) + plotGroup(f, x, y, body.join('')));
}

export interface DivergingOptions extends ChartBase {
  xLabel: string;
  categories: readonly string[];
  values: readonly number[];
  positiveColor?: string;
  negativeColor?: string;
}

/** Horizontal bars left and right of zero, one row per category (e.g. contributions to a score). */
export function divergingBarChart(o: DivergingOptions): string {
  if (o.categories.length === 0) return noData(o, 'no data to draw');
  const labelWidth = Math.min(180, 20 + Math.max(...o.categories.map((c) => c.length)) * 6.5);
  const row = 22;
  const f = frameOf(o.width ?? 480, 40 + o.categories.length * row + 40, { left: labelWidth, top: 30, bottom: 40 });
  const x = linearScale(niceDomain(o.values, [0]), [f.left, f.right]);
  const zero = x(0);
  const body: string[] = [
    xAxis(f, x, o.xLabel, niceTicks(x.domain[0], x.domain[1], 4)),
    `<line class="axis" x1="${px(zero)}" x2="${px(zero)}" y1="${px(f.top)}" y2="${px(f.bottom)}"/>`,
  ];
  o.categories.forEach((category, i) => {
    const v = o.values[i]!;
    const y0 = f.top + i * row + 3;
    const end = x(v);
    body.push(
      `<rect class="bar" data-category="${esc(category)}" data-value="${datum(v)}" x="${px(Math.min(zero, end))}" y="${px(y0)}" width="${px(Math.max(0.5, Math.abs(end - zero)))}" height="${row - 6}" fill="${v >= 0 ? (o.positiveColor ?? COLORS.flagged) : (o.negativeColor ?? COLORS.candidate)}"><title>${esc(`${category}: ${fmt(v)}`)}</title></rect>` +
        `<text class="tick" x="${px(f.left - 6)}" y="${px(y0 + (row - 6) / 2)}" text-anchor="end" dominant-baseline="middle">${esc(category)}</text>`,
    );
  });
  return svgRoot(o.id, f, o.title, chartTitle(f, o.title) + plotGroup(f, x, undefined, body.join('')));
}

export interface TimelineEvent {
  /** Epoch milliseconds. */
  at: number;
  lane: string;
  label: string;
  color: string;
  /** Where its evidence is (a relative link). */
  href?: string;
}

/** Events on a time axis, one lane per kind; an event with evidence is a link to it. */
export function timelineChart(o: ChartBase & { lanes: readonly string[]; events: readonly TimelineEvent[] }): string {
  if (o.events.length === 0) return noData(o, 'no decisions yet');
  const laneWidth = 20 + Math.max(...o.lanes.map((l) => l.length)) * 6.5;
  const lane = 30;
  const f = frameOf(o.width ?? 900, 40 + o.lanes.length * lane + 44, { left: laneWidth, top: 34, bottom: 44 });
  const x = linearScale(timeDomain(o.events.map((e) => e.at)), [f.left, f.right]);
  const span = x.domain[1] - x.domain[0];
  const body: string[] = [xAxis(f, x, 'time (UTC)', timeTicks(x.domain, 6), (v) => timeLabel(v, span))];
  o.lanes.forEach((name, i) => {
    const at = px(f.top + i * lane + lane / 2);
    body.push(
      `<line class="grid" x1="${px(f.left)}" x2="${px(f.right)}" y1="${at}" y2="${at}"/><text class="tick" x="${px(f.left - 6)}" y="${at}" text-anchor="end" dominant-baseline="middle">${esc(name)}</text>`,
    );
  });
  for (const e of o.events) {
    const cy = f.top + Math.max(0, o.lanes.indexOf(e.lane)) * lane + lane / 2;
    const dot = `<circle class="event" data-at="${datum(e.at)}" data-lane="${esc(e.lane)}" cx="${px(x(e.at))}" cy="${px(cy)}" r="6" fill="${esc(e.color)}" stroke="#fff" stroke-width="1.5"><title>${esc(e.label)}</title></circle>`;
    body.push(e.href ? `<a href="${esc(e.href)}">${dot}</a>` : dot);
  }
  return svgRoot(o.id, f, o.title, chartTitle(f, o.title) + plotGroup(f, x, undefined, body.join('')));
}
