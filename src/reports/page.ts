import { esc } from './svg';

/**
 * The shell every report page shares: one self-contained HTML file (inline CSS, inline SVG, no
 * script that runs, nothing fetched — the Content-Security-Policy says so to the browser), with
 * the numbers behind its charts embedded as JSON (`<script type="application/json"
 * id="report-data">`), so what a page shows can be checked against the report it came from.
 */

/** HTML that is already safe to insert; anything else is escaped as text. */
export class Html {
  constructor(readonly html: string) {}
}

export const raw = (html: string) => new Html(html);

/** Text or ready HTML → HTML. */
export function h(content: string | number | Html): string {
  return content instanceof Html ? content.html : esc(content);
}

export function table(header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number | Html>>, className = ''): string {
  if (rows.length === 0) return '<p class="muted">(none)</p>';
  return (
    `<table${className ? ` class="${esc(className)}"` : ''}><thead><tr>${header.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead>` +
    `<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${h(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`
  );
}

export function badge(passed: boolean, yes = 'pass', no = 'FAIL'): Html {
  return raw(`<span class="badge ${passed ? 'pass' : 'fail'}">${esc(passed ? yes : no)}</span>`);
}

export function link(href: string, text: string): Html {
  return raw(`<a href="${esc(href)}">${esc(text)}</a>`);
}

export function section(title: string, ...content: string[]): string {
  return `<section><h2>${esc(title)}</h2>${content.join('')}</section>`;
}

/** Charts side by side where the window is wide enough. */
export function grid(...charts: string[]): string {
  return `<div class="grid">${charts.map((c) => `<figure>${c}</figure>`).join('')}</div>`;
}

/** One chart across the page's width (a timeline, a distribution with many bins). */
export function wide(chart: string): string {
  return `<figure class="wide">${chart}</figure>`;
}

export function note(text: string | Html): string {
  return `<p class="note">${h(text)}</p>`;
}

export interface PageOptions {
  title: string;
  /** One line under the title: what, on which data, when. */
  subtitle: string;
  /** The banner at the top: the verdict in plain words. */
  verdict?: { ok: boolean; text: string | Html };
  body: string;
  /** The numbers behind the charts, keyed by chart id. */
  data: Record<string, unknown>;
  /** Where the page came from (the JSON report), shown in the footer. */
  source?: string;
}

const CSS = `
:root { color-scheme: light; --fg: #111827; --muted: #6b7280; --line: #e5e7eb; --pass: #15803d; --fail: #b91c1c; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg); margin: 0; background: #f8fafc; }
main { max-width: 1240px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 16px 0 6px; }
.subtitle, .muted, footer { color: var(--muted); }
.verdict { margin: 14px 0; padding: 12px 16px; border-radius: 6px; font-size: 15px; border-left: 6px solid; background: #fff; }
.verdict.ok { border-color: var(--pass); } .verdict.bad { border-color: var(--fail); }
.verdict strong { font-size: 16px; }
table { border-collapse: collapse; background: #fff; margin: 6px 0 10px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f1f5f9; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; font-weight: 600; color: #fff; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); }
.wide { margin: 6px 0 10px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 14px; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px; }
svg.chart { width: 100%; height: auto; display: block; font-family: inherit; }
svg .chart-title { font-size: 13px; font-weight: 600; fill: var(--fg); }
svg .tick, svg .legend, svg .rule-label { font-size: 11px; fill: #374151; }
svg .axis-label { font-size: 11px; fill: var(--muted); }
svg .grid { stroke: #eef2f7; } svg .axis { stroke: #9ca3af; }
svg .no-data { font-size: 13px; fill: var(--muted); }
svg .cell-text { font-size: 12px; fill: var(--fg); } svg .cell-text.on-dark { fill: #fff; }
.note { color: #374151; background: #fffbeb; border: 1px solid #fde68a; padding: 6px 10px; border-radius: 4px; }
ul.timeline { list-style: none; padding-left: 0; } ul.timeline li { padding: 3px 0; border-bottom: 1px dashed var(--line); }
code { font-size: 12px; background: #f1f5f9; padding: 0 3px; border-radius: 3px; }
footer { margin-top: 30px; font-size: 12px; }
`;

export function renderPage(o: PageOptions): string {
  // JSON inside <script> must not close the element: "<" is written as its escape.
  const data = JSON.stringify(o.data).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(o.title)}</title><style>${CSS}</style></head>
<body><main>
<h1>${esc(o.title)}</h1><div class="subtitle">${esc(o.subtitle)}</div>
${o.verdict ? `<div class="verdict ${o.verdict.ok ? 'ok' : 'bad'}">${h(o.verdict.text)}</div>` : ''}
${o.body}
<footer>temporal-mlops report${o.source ? ` · from <code>${esc(o.source)}</code>` : ''} · self-contained: nothing is fetched; the numbers behind the charts are in the <code>report-data</code> JSON of this file.</footer>
</main>
<script type="application/json" id="report-data">${data}</script>
</body></html>
`;
}
