/**
 * The small toolkit the charts are drawn with: escaping, number formatting, linear scales with
 * "nice" ticks, axes and legends as SVG text. Pure functions of their inputs, so a page renders
 * the same bytes every time and a test can check each mark against the numbers it stands for.
 */

/** Text for XML and HTML, attribute values included. */
export function esc(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A number for people: four significant digits, exponents only for the very large and very small. */
export function fmt(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e7 || abs < 1e-4) return value.toExponential(2);
  return String(Number(value.toPrecision(digits)));
}

/** A share as a percentage with two significant decimals where it matters (0.0123 → "1.23 %"). */
export function pct(share: number | null | undefined): string {
  if (share === null || share === undefined || !Number.isFinite(share)) return 'n/a';
  return `${fmt(share * 100, 3)} %`;
}

/** Pixel coordinates need a tenth of a pixel, not seventeen digits. */
export function px(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/** The exact value a mark stands for, in a data-* attribute (shortest round-trip text). */
export function datum(value: number): string {
  return Number.isFinite(value) ? String(value) : 'NaN';
}

export interface Scale {
  (value: number): number;
  domain: readonly [number, number];
  range: readonly [number, number];
}

/** Maps domain → range linearly; a domain of zero width maps everything to the range's middle. */
export function linearScale(domain: readonly [number, number], range: readonly [number, number]): Scale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const width = d1 - d0;
  const scale = ((value: number) => (width === 0 ? (r0 + r1) / 2 : r0 + ((value - d0) / width) * (r1 - r0))) as Scale;
  scale.domain = domain;
  scale.range = range;
  return scale;
}

/** The step of about `count` ticks over [min, max]: 1, 2 or 5 times a power of ten. */
function tickStep(min: number, max: number, count: number): number {
  const raw = (max - min) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const ratio = raw / magnitude;
  return (ratio >= 7.5 ? 10 : ratio >= 3.5 ? 5 : ratio >= 1.5 ? 2 : 1) * magnitude;
}

/** Round tick values inside [min, max] (both ends included when they fall on a step). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max <= min) return [min];
  const step = tickStep(min, max, count);
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  const ticks: number[] = [];
  for (let k = Math.ceil(min / step - 1e-9); k * step <= max + step * 1e-9; k++) ticks.push(Number((k * step).toFixed(decimals)));
  return ticks;
}

/**
 * A domain that holds every value, widened to round tick values; `include` adds values that
 * must be in view (0 for bars, 1 for a probability axis). A single value gets some room around it.
 */
export function niceDomain(values: Iterable<number>, include: readonly number[] = []): [number, number] {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of [...values, ...include]) {
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min === Number.POSITIVE_INFINITY) return [0, 1];
  if (min === max) {
    const room = min === 0 ? 1 : Math.abs(min) * 0.1;
    return [min - room, max + room];
  }
  const step = tickStep(min, max, 5);
  return [Math.floor(min / step + 1e-9) * step, Math.ceil(max / step - 1e-9) * step];
}

/** Time ticks as dates, times, or times with seconds, as fine as the span needs. */
export function timeLabel(ms: number, span: number): string {
  const iso = new Date(ms).toISOString();
  return span < 10 * 60_000 ? iso.slice(11, 19) : span < 2 * 86_400_000 ? iso.slice(11, 16) : iso.slice(0, 10);
}

/** Ticks over a time domain, one per distinct label (round milliseconds are not round times). */
export function timeTicks(domain: readonly [number, number], count = 5): number[] {
  const span = domain[1] - domain[0];
  const seen = new Set<string>();
  return niceTicks(domain[0], domain[1], count).filter((t) => {
    const label = timeLabel(t, span);
    if (seen.has(label)) return false;
    seen.add(label);
    return true;
  });
}

/** A time domain around the given times; one moment gets an hour either side. */
export function timeDomain(times: readonly number[]): [number, number] {
  const [t0, t1] = [Math.min(...times), Math.max(...times)];
  const pad = t1 > t0 ? (t1 - t0) * 0.05 : 3_600_000;
  return [t0 - pad, t1 + pad];
}

export interface Frame {
  width: number;
  height: number;
  /** The plot area inside the margins. */
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export function frameOf(width: number, height: number, margin: { left?: number; right?: number; top?: number; bottom?: number } = {}): Frame {
  const m = { left: 56, right: 16, top: 34, bottom: 44, ...margin };
  return { width, height, left: m.left, right: width - m.right, top: m.top, bottom: height - m.bottom };
}

/** Horizontal grid lines with labels on the left, for a y scale. */
export function yAxis(f: Frame, y: Scale, label?: string, ticks = niceTicks(y.domain[0], y.domain[1], 5), format: (v: number) => string = fmt): string {
  const parts = ticks.map((t) => {
    const at = px(y(t));
    return `<line class="grid" x1="${px(f.left)}" x2="${px(f.right)}" y1="${at}" y2="${at}"/><text class="tick" x="${px(f.left - 6)}" y="${at}" text-anchor="end" dominant-baseline="middle">${esc(format(t))}</text>`;
  });
  if (label) parts.push(`<text class="axis-label" transform="translate(14 ${px((f.top + f.bottom) / 2)}) rotate(-90)" text-anchor="middle">${esc(label)}</text>`);
  return `<g class="y-axis">${parts.join('')}</g>`;
}

/** Tick marks and labels below the plot, for an x scale. */
export function xAxis(f: Frame, x: Scale, label?: string, ticks = niceTicks(x.domain[0], x.domain[1], 6), format: (v: number) => string = fmt): string {
  const parts = [`<line class="axis" x1="${px(f.left)}" x2="${px(f.right)}" y1="${px(f.bottom)}" y2="${px(f.bottom)}"/>`];
  for (const t of ticks) {
    const at = px(x(t));
    parts.push(
      `<line class="axis" x1="${at}" x2="${at}" y1="${px(f.bottom)}" y2="${px(f.bottom + 4)}"/><text class="tick" x="${at}" y="${px(f.bottom + 16)}" text-anchor="middle">${esc(format(t))}</text>`,
    );
  }
  if (label) parts.push(`<text class="axis-label" x="${px((f.left + f.right) / 2)}" y="${px(f.height - 6)}" text-anchor="middle">${esc(label)}</text>`);
  return `<g class="x-axis">${parts.join('')}</g>`;
}

export interface LegendEntry {
  name: string;
  color: string;
  /** Drawn as a line (curves) rather than a swatch (bars). */
  line?: boolean;
  dashed?: boolean;
}

/** A row of swatches above the plot, right of the title. */
export function legend(f: Frame, entries: readonly LegendEntry[]): string {
  let x = f.left;
  const parts = entries.map((e) => {
    const mark = e.line
      ? `<line x1="${px(x)}" x2="${px(x + 16)}" y1="${px(f.top - 12)}" y2="${px(f.top - 12)}" stroke="${esc(e.color)}" stroke-width="2.5"${e.dashed ? ' stroke-dasharray="5 3"' : ''}/>`
      : `<rect x="${px(x)}" y="${px(f.top - 17)}" width="12" height="10" fill="${esc(e.color)}"/>`;
    const text = `<text class="legend" x="${px(x + 20)}" y="${px(f.top - 12)}" dominant-baseline="middle">${esc(e.name)}</text>`;
    x += 28 + e.name.length * 6.5;
    return mark + text;
  });
  return `<g class="legend">${parts.join('')}</g>`;
}

/** The outer <svg>: scales to its container's width, keeps its aspect, and says what it shows. */
export function svgRoot(id: string, f: Frame, title: string, body: string): string {
  return (
    // Never wider than drawn: a small chart blown up to the column's width would have giant text.
    `<svg class="chart" id="${esc(id)}" viewBox="0 0 ${f.width} ${f.height}" style="max-width: ${f.width}px" role="img" aria-label="${esc(title)}" xmlns="http://www.w3.org/2000/svg">` +
    `<title>${esc(title)}</title>${body}</svg>`
  );
}
