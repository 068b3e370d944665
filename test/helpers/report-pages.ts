/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';

/**
 * Report pages as a reader sees them: opened from disk in headless chromium, every console
 * message and page error collected, and each chart read back from what was drawn — bars and
 * cells by the value they carry, lines by inverting their pixel path through the plot's scale —
 * so a test compares the drawing with the JSON report, not the page's source with itself.
 */
export interface DrawnChart {
  id: string;
  noData: boolean;
  /** Visible size in CSS pixels. */
  width: number;
  height: number;
  bars: Array<{ series: string; category: string; bin: number | null; value: number; height: number }>;
  lines: Array<{ series: string; points: Array<[number, number]> }>;
  dots: number;
  cells: Array<{ row: string; col: string; value: number }>;
  markers: Array<{ category: string; value: number }>;
  events: Array<{ lane: string; at: number; href: string | null }>;
  legend: string[];
  axisLabels: string[];
}

export interface OpenedPage {
  page: Page;
  errors: string[];
  charts: DrawnChart[];
  data: Record<string, unknown>;
}

export async function openReportPage(browser: Browser, file: string, screenshot: string): Promise<OpenedPage> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
  page.on('request', (r) => {
    if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) errors.push(`network request: ${r.url()}`);
  });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  fs.mkdirSync(path.dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  const charts = await page.evaluate(() => {
    const num = (el: Element, name: string) => Number(el.getAttribute(name));
    return [...document.querySelectorAll('svg.chart')].map((svg) => {
      const box = svg.getBoundingClientRect();
      const plot = svg.querySelector('g.plot');
      const lines = [...svg.querySelectorAll('path.line')].map((p) => {
        const nums = (p.getAttribute('d') ?? '').match(/-?[\d.]+/g)?.map(Number) ?? [];
        const points: Array<[number, number]> = [];
        for (let i = 0; i + 1 < nums.length; i += 2) {
          const [x0, x1, y0, y1] = ['data-x0', 'data-x1', 'data-y0', 'data-y1'].map((a) => num(plot!, a));
          const [left, right, top, bottom] = ['data-left', 'data-right', 'data-top', 'data-bottom'].map((a) => num(plot!, a));
          points.push([x0! + ((nums[i]! - left!) / (right! - left!)) * (x1! - x0!), y0! + ((bottom! - nums[i + 1]!) / (bottom! - top!)) * (y1! - y0!)]);
        }
        return { series: p.getAttribute('data-series') ?? '', points };
      });
      return {
        id: svg.id,
        noData: svg.querySelector('.no-data') !== null,
        width: box.width,
        height: box.height,
        bars: [...svg.querySelectorAll('rect.bar')].map((r) => ({
          series: r.getAttribute('data-series') ?? '',
          category: r.getAttribute('data-category') ?? '',
          bin: r.hasAttribute('data-bin') ? num(r, 'data-bin') : null,
          value: num(r, 'data-value'),
          height: r.getBoundingClientRect().height,
        })),
        lines,
        dots: svg.querySelectorAll('circle.dot').length,
        cells: [...svg.querySelectorAll('rect.cell')].map((c) => ({ row: c.getAttribute('data-row') ?? '', col: c.getAttribute('data-col') ?? '', value: num(c, 'data-value') })),
        markers: [...svg.querySelectorAll('line.marker')].map((m) => ({ category: m.getAttribute('data-category') ?? '', value: num(m, 'data-value') })),
        events: [...svg.querySelectorAll('circle.event')].map((e) => ({
          lane: e.getAttribute('data-lane') ?? '',
          at: num(e, 'data-at'),
          href: e.parentElement?.tagName.toLowerCase() === 'a' ? e.parentElement.getAttribute('href') : null,
        })),
        legend: [...svg.querySelectorAll('text.legend')].map((t) => t.textContent ?? ''),
        axisLabels: [...svg.querySelectorAll('text.axis-label')].map((t) => t.textContent ?? ''),
      };
    });
  });
  const data = JSON.parse((await page.locator('#report-data').textContent()) ?? '{}') as Record<string, unknown>;
  return { page, errors, charts, data };
}

export function chart(opened: OpenedPage, id: string): DrawnChart {
  const found = opened.charts.find((c) => c.id === id);
  if (!found) throw new Error(`no chart "${id}" on the page (charts: ${opened.charts.map((c) => c.id).join(', ')})`);
  return found;
}

/** What every chart must have: a real size, and marks (a chart with no visible data is a failure). */
export function assertEveryChartDrawn(opened: OpenedPage): void {
  for (const c of opened.charts) {
    const marks = c.bars.filter((b) => b.height > 0).length + c.lines.filter((l) => l.points.length > 0).length + c.dots + c.cells.length + c.events.length;
    if (c.noData || marks === 0) throw new Error(`chart "${c.id}" shows no data`);
    if (c.width < 200 || c.height < 100) throw new Error(`chart "${c.id}" is drawn ${c.width}×${c.height} px`);
  }
}
