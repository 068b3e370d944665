import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reviewOutcome, startEvaluation, startPromotion } from '../src/client/promote';
import { startLabels, startMonitor } from '../src/client/retrain';
import { acknowledgeAlert, startScoring } from '../src/client/score';
import { startTraining } from '../src/client/train';
import type { EvaluationReport } from '../src/evaluation/report';
import type { MonitoringReport } from '../src/monitoring/monitor';
import type { ScoreRun } from '../src/scoring/runs';
import { openDuckDb, queryRows } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { promotionStatusQuery } from '../src/api/promote';
import { scoreStatusQuery } from '../src/api/score';
import { launchBrowser } from './helpers/browser';
import { ingestChurnData, writeChurnCsv } from './helpers/churn';
import { cliFor } from './helpers/cli';
import { type TestEnv, startTestEnv } from './helpers/env';
import { assertEveryChartDrawn, chart, openReportPage, type OpenedPage } from './helpers/report-pages';
import { until } from './helpers/wait';

/**
 * The report pages end to end: real trainings, evaluations, scoring and monitoring runs write
 * them beside their JSON; each page opens in headless chromium without a console error or a
 * network request, every chart has visible marks, and what is drawn equals the JSON report.
 * Screenshots of each kind go to test-results/reports/.
 */
const SHOTS = path.resolve(__dirname, '..', 'test-results', 'reports');

let env: TestEnv;
let browser: Browser;
const opened: OpenedPage[] = [];
beforeAll(async () => {
  env = await startTestEnv('reports');
  browser = await launchBrowser();
  fs.rmSync(SHOTS, { recursive: true, force: true });
  await ingestChurnData(env, { dataset: 'rep', rows: 5000 });
});
afterAll(async () => {
  for (const o of opened) await o.page.close().catch(() => undefined);
  await browser?.close();
  await env?.shutdown();
});

async function open(file: string, shot: string): Promise<OpenedPage> {
  const o = await openReportPage(browser, file, path.join(SHOTS, shot));
  // The page itself beside its screenshot: self-contained, it opens from there too.
  fs.copyFileSync(file, path.join(SHOTS, shot.replace(/\.png$/, '.html')));
  opened.push(o);
  expect(o.errors).toEqual([]);
  assertEveryChartDrawn(o);
  return o;
}

const json = <T>(file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as T;
/** A drawn point is within a tenth of a pixel of its value: far under 0.5 % of an axis. */
const close = (a: number, b: number, span: number) => Math.abs(a - b) <= span * 0.005;

function expectLineMatches(drawn: Array<[number, number]>, expected: Array<[number, number]>, spans: [number, number]): void {
  expect(drawn.length).toBe(expected.length);
  drawn.forEach(([x, y], i) => {
    expect(close(x, expected[i]![0], spans[0]) && close(y, expected[i]![1], spans[1]), `point ${i}: drawn (${x}, ${y}), report (${expected[i]})`).toBe(true);
  });
}

describe('report pages', () => {
  it('evaluation (binary): verdicts first, ROC/PR/calibration of both models, confusion, slices with the tolerance, differences, latency — as in the JSON; the Web UI and `mlops status` name the page', async () => {
    const first = await (await startTraining(env.client, env.config, { model: 'rep-model', dataset: 'rep', trainer: { kind: 'logistic', params: {} } })).result();
    expect(
      (
        await (
          await startPromotion(env.client, env.config, { model: 'rep-model', candidateVersion: first.summary.version, gates: { thresholds: { rocAuc: { min: 0.5 } } } })
        ).result()
      ).phase,
    ).toBe('promoted');
    const second = await (await startTraining(env.client, env.config, { model: 'rep-model', dataset: 'rep', trainer: { kind: 'gbdt', params: { nEstimators: 20 } } })).result();
    const promotion = await startPromotion(env.client, env.config, {
      model: 'rep-model',
      candidateVersion: second.summary.version,
      policy: 'manual',
      sliceColumns: ['color', 'x1'],
      gates: { maxSliceRegression: 0.02, minSliceRows: 50 },
    });
    const status = await until('the review', async () => {
      const s = await promotion.query(promotionStatusQuery);
      return s.phase === 'waiting-for-review' ? s : undefined;
    });
    const evaluation = status.evaluation!;
    expect(evaluation.htmlUri).toBe(evaluation.reportUri.replace(/\.json$/, '.html'));
    const id = path.basename(evaluation.reportUri, '.json');
    // The promotion's current details (the Web UI's "User Metadata") name the page and the command that opens it.
    const metadata = (await promotion.query('__temporal_workflow_metadata')) as { currentDetails?: string };
    expect(metadata.currentDetails).toContain(evaluation.htmlUri);
    expect(metadata.currentDetails).toContain(`mlops report rep-model --evaluation ${id} --open`);

    const report = json<EvaluationReport>(evaluation.reportUri);
    const page = await open(evaluation.htmlUri!, 'evaluation-binary.png');
    // Verdicts in words at the top, one row per gate.
    const top = await page.page.locator('.verdict').innerText();
    expect(top).toMatch(report.passed ? /Passed every gate/ : /Failed \d+ of \d+ gates/);
    const gateRows = await page.page.locator('section').first().locator('tbody tr').allInnerTexts();
    expect(gateRows).toHaveLength(report.gates.length);
    report.gates.forEach((g, i) => expect(gateRows[i]).toContain(g.detail));
    expect(page.data.gates).toEqual(report.gates);

    const candidate = report.candidate.curves!;
    const baseline = report.baseline!.curves!;
    // ROC and PR: both models on one chart, each drawn point the report's point.
    const roc = chart(page, 'roc');
    expect(roc.legend).toEqual([`candidate ${report.candidate.version.slice(0, 8)}`, `production ${report.baseline!.version.slice(0, 8)}`]);
    expect(roc.axisLabels.sort()).toEqual(['false positive rate', 'true positive rate']);
    expectLineMatches(
      roc.lines[0]!.points,
      candidate.roc!.map((p) => [p.fpr, p.tpr]),
      [1, 1],
    );
    expectLineMatches(
      roc.lines[1]!.points,
      baseline.roc!.map((p) => [p.fpr, p.tpr]),
      [1, 1],
    );
    expect(candidate.roc!.length).toBeGreaterThan(20);
    const pr = chart(page, 'pr');
    expectLineMatches(
      pr.lines[0]!.points,
      candidate.pr!.map((p) => [p.recall, p.precision]),
      [1, 1],
    );
    expectLineMatches(
      pr.lines[1]!.points,
      baseline.pr!.map((p) => [p.recall, p.precision]),
      [1, 1],
    );
    const calibration = chart(page, 'calibration');
    expectLineMatches(
      calibration.lines[0]!.points,
      candidate.calibration!.map((b) => [b.meanPredicted, b.observed]),
      [1, 1],
    );
    expect(calibration.dots).toBe(candidate.calibration!.length + baseline.calibration!.length);
    // Confusion matrices: the counts of every evaluated row.
    for (const [key, curves] of [
      ['candidate', candidate],
      ['baseline', baseline],
    ] as const) {
      const cells = chart(page, `confusion-${key}`).cells;
      expect(cells.map((c) => c.value)).toEqual(curves.confusion!.flat());
      expect(cells.reduce((a, c) => a + c.value, 0)).toBe(report.rows);
      expect(cells.map((c) => `${c.row}→${c.col}`)).toEqual(['false→false', 'false→true', 'true→false', 'true→true']);
    }
    // Slices: one bar per model and slice with the report's value, the gate's tolerance drawn.
    for (const column of ['color', 'x1']) {
      const slices = report.slices.filter((s) => s.column === column);
      const drawn = chart(page, `slices-${column}`);
      expect(drawn.bars.filter((b) => b.series.startsWith('candidate')).map((b) => b.value)).toEqual(slices.map((s) => s.candidate.rocAuc));
      expect(drawn.bars.filter((b) => b.series.startsWith('production')).map((b) => b.value)).toEqual(slices.map((s) => s.baseline!.rocAuc));
      const gated = slices.filter((s) => s.rows >= 50);
      expect(drawn.markers.map((m) => m.value)).toEqual(gated.map((s) => s.baseline!.rocAuc! - 0.02));
    }
    // Output differences and latency.
    const difference = chart(page, 'difference');
    expect(difference.bars.map((b) => b.value)).toEqual(report.agreement!.histogram!.counts.filter((c) => c > 0));
    expect(difference.bars.reduce((a, b) => a + b.value, 0)).toBe(report.rows);
    expect(chart(page, 'latency').bars.map((b) => b.value)).toEqual([
      report.candidate.latency.p50Ms,
      report.baseline!.latency.p50Ms,
      report.candidate.latency.p99Ms,
      report.baseline!.latency.p99Ms,
    ]);
    // Light enough to attach to a review.
    expect(fs.statSync(evaluation.htmlUri!).size).toBeLessThan(400_000);

    // `mlops status` names the page and the command that opens it.
    const cli = cliFor(env.config);
    const shown = await cli('status', 'rep-model');
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`its evaluation: ${evaluation.htmlUri} (mlops report rep-model --evaluation ${id} --open)`);
    expect(shown.stdout).toContain('model page: mlops report rep-model --open');

    await reviewOutcome(env.client, 'approve', { model: 'rep-model', version: second.summary.version, by: 'ana', reason: 'curves look right' });
    const done = (await promotion.query('__temporal_workflow_metadata')) as { currentDetails?: string };
    expect(done.currentDetails).toMatch(/^\*\*promoted\*\*[\s\S]*mlops report rep-model --evaluation/);
  });

  it('evaluation (regression): predicted vs actual and residuals of both models, as in the JSON', async () => {
    const base = { model: 'rep-reg', dataset: 'rep', label: 'x2', features: ['x1', 'color'] };
    const first = await (await startTraining(env.client, env.config, { ...base, trainer: { kind: 'linear', params: {} } })).result();
    expect((await (await startPromotion(env.client, env.config, { model: 'rep-reg', candidateVersion: first.summary.version })).result()).phase).toBe('promoted');
    const second = await (await startTraining(env.client, env.config, { ...base, trainer: { kind: 'gbdt', params: { nEstimators: 10 } } })).result();
    const outcome = await (
      await startEvaluation(env.client, env.config, { model: 'rep-reg', candidateVersion: second.summary.version, options: { sliceColumns: ['color'] } })
    ).result();
    const report = json<EvaluationReport>(outcome.reportUri);
    const page = await open(outcome.htmlUri, 'evaluation-regression.png');
    const scatter = chart(page, 'predicted-vs-actual');
    expect(scatter.dots).toBe(report.candidate.curves!.predictedVsActual!.length + report.baseline!.curves!.predictedVsActual!.length);
    expect(report.candidate.curves!.predictedVsActual!.length).toBe(Math.min(400, report.rows));
    for (const key of ['candidate', 'baseline'] as const) {
      const residuals = report[key]!.curves!.residuals!;
      const bars = chart(page, `residuals-${key}`).bars;
      expect(bars.map((b) => b.value)).toEqual(residuals.counts.filter((c) => c > 0));
      expect(residuals.counts.reduce((a, b) => a + b, 0)).toBe(report.rows);
    }
    expect(chart(page, 'slices-color').bars.map((b) => b.value)).toEqual(report.slices.flatMap((s) => [s.candidate.rmse, s.baseline!.rmse]));
  });

  it('scoring run: the output distribution against the range with the flagged share, and the most extreme flagged rows with their contributions; the alert names the page', async () => {
    await ingestChurnData(env, { dataset: 'rep-odd', rows: 2000, idOffset: 50_000, seed: 3, unlabeled: true });
    // A range narrower than the model's outputs: rows are flagged on both sides.
    const handle = await startScoring(env.client, env.config, { model: 'rep-model', dataset: 'rep-odd', runId: 'odd', range: { min: 0.15, max: 0.85 }, maxFlaggedShare: 0.05 });
    const status = await until('the alert', async () => {
      const s = await handle.query(scoreStatusQuery);
      if (s.phase === 'waiting-for-acknowledgement') return s;
      // A run that ended instead says why.
      if ((await handle.describe()).status.name !== 'RUNNING')
        throw new Error(`the scoring run ended: ${JSON.stringify(await handle.result().catch((e: Error) => e.cause ?? e.message))}`);
      return undefined;
    });
    const run = status.run!;
    const metadata = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
    expect(metadata.currentDetails).toContain(`Report: \`${run.htmlUri}\` — open it with \`mlops report rep-model --scoring odd --open\``);
    expect(json<ScoreRun>(run.runUri).summary).toEqual(run.summary);
    const page = await open(run.htmlUri!, 'scoring.png');
    expect(await page.page.locator('.verdict').innerText()).toMatch(new RegExp(`Alert: ${run.outOfRange + run.notANumber} of 2000 predictions`));
    const s = run.summary!;
    const bars = chart(page, 'output-distribution').bars;
    expect(bars.filter((b) => b.series === 'in range').map((b) => [b.bin, b.value])).toEqual(s.histogram.inRange.flatMap((v, b) => (v > 0 ? [[b, v]] : [])));
    expect(bars.filter((b) => b.series.startsWith('out of range')).reduce((a, b) => a + b.value, 0)).toBe(run.outOfRange);
    expect(bars.reduce((a, b) => a + b.value, 0)).toBe(run.rows - run.notANumber);

    // The top flagged rows are the log's flagged rows furthest outside the range, with the log's contributions.
    const db = await openDuckDb();
    const conn = await db.connect();
    try {
      const log = `read_parquet(${quoteString(path.join(run.logUri, 'part-*.parquet'))})`;
      const flagged = await queryRows<{ key: string; output: number; contributions: string }>(
        conn,
        `SELECT key, output, to_json(contributions)::VARCHAR AS contributions FROM ${log} WHERE flag IS NOT NULL ORDER BY greatest(${run.range.min} - output, output - ${run.range.max}) DESC, row_number LIMIT 10`,
      );
      expect(s.topFlagged.map((r) => r.key)).toEqual(flagged.map((r) => r.key));
      expect(s.topFlagged.every((r) => r.direction === (r.output! > run.range.max ? 'high' : 'low'))).toBe(true);
      s.topFlagged.forEach((r, i) => {
        const all = JSON.parse(flagged[i]!.contributions) as Record<string, number>;
        for (const c of r.contributions) expect(c.value).toBe(all[c.feature]);
        expect(chart(page, `contributions-${i}`).bars.map((b) => b.value)).toEqual(r.contributions.map((c) => c.value));
      });
      expect(s.topFlagged).toHaveLength(10);
      expect(s.topFlagged.every((r) => r.contributions.length > 0)).toBe(true);
    } finally {
      db.closeSync();
    }
    await acknowledgeAlert(env.client, { model: 'rep-model', runId: 'odd', by: 'ana', reason: 'test outliers' });
  });

  it('monitoring: features sorted by PSI with the drifted marked, prediction drift, live metrics across runs', async () => {
    const calm = { dataset: 'rep-live', rows: 3000, idOffset: 100_000, seed: 5 };
    await ingestChurnData(env, { ...calm, unlabeled: true });
    await (await startScoring(env.client, env.config, { model: 'rep-model', dataset: 'rep-live', runId: 'live-1', maxFlaggedShare: 1 })).result();
    await (await startLabels(env.client, env.config, { dataset: 'rep-live', source: await writeChurnCsv(env, calm), label: 'churned' })).result();
    const m1 = await (await startMonitor(env.client, env.config, { model: 'rep-model', dataset: 'rep-live', runId: 'm1', retrainOnTrigger: false, minLabeledRows: 100 })).result();
    const shifted = { dataset: 'rep-live', rows: 3000, idOffset: 200_000, seed: 6, x2Shift: 1.5, concept: 'b' as const };
    await ingestChurnData(env, { ...shifted, unlabeled: true });
    await (await startScoring(env.client, env.config, { model: 'rep-model', dataset: 'rep-live', runId: 'live-2', maxFlaggedShare: 1 })).result();
    await (await startLabels(env.client, env.config, { dataset: 'rep-live', source: await writeChurnCsv(env, shifted), label: 'churned' })).result();
    const handle = await startMonitor(env.client, env.config, { model: 'rep-model', dataset: 'rep-live', runId: 'm2', retrainOnTrigger: false, minLabeledRows: 100 });
    const m2 = await handle.result();
    expect(m2.triggered).toBe(true);
    const metadata = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
    expect(metadata.currentDetails).toContain(`Report: \`${m2.htmlUri}\` — open it with \`mlops report rep-model --monitoring m2 --open\``);

    const report = json<MonitoringReport>(m2.reportUri);
    const page = await open(m2.htmlUri, 'monitoring.png');
    expect(await page.page.locator('.verdict').innerText()).toMatch(/Threshold crossed: .*feature drift in x2/);
    // Sorted by PSI, most drifted first, drifted ones marked in the title; bars are the report's shares.
    const features = page.charts.filter((c) => c.id.startsWith('feature-'));
    const byPsi = [...report.features].sort((a, b) => b.psi - a.psi);
    expect(features).toHaveLength(report.features.length);
    const titles = await page.page.locator('svg[id^="feature-"] text.chart-title').allTextContents();
    byPsi.forEach((f, i) => {
      expect(titles[i]).toContain(f.feature);
      expect(titles[i]!.startsWith('DRIFTED')).toBe(f.drifted);
      const bars = features[i]!.bars;
      expect(bars.filter((b) => b.series === 'training').map((b) => [b.category, b.value])).toEqual(f.bins.map((b) => [b.bin, b.training]));
      expect(bars.filter((b) => b.series.startsWith('current')).map((b) => [b.category, b.value])).toEqual(f.bins.map((b) => [b.bin, b.live]));
    });
    expect(byPsi[0]!.feature).toBe('x2');
    expect(
      chart(page, 'predictions')
        .bars.filter((b) => b.series.startsWith('current'))
        .map((b) => b.value),
    ).toEqual(report.predictions!.bins.map((b) => b.live));
    // Live metric over time: one dot per run, at each run's value.
    const first = json<MonitoringReport>(m1.reportUri);
    const live = chart(page, 'live-over-time');
    expectLineMatches(
      live.lines[0]!.points,
      [first, report].map((r) => [Date.parse(r.createdAt), r.live!.value!]),
      [Date.parse(report.createdAt) - Date.parse(first.createdAt) || 1, 1],
    );
    expect(live.dots).toBe(2);
    expect(report.live!.value!).toBeLessThan(first.live!.value!);
  });

  it('model page (`mlops report <model>`): versions, aliases, the decision timeline linked to its evidence; --open serves the pages on loopback only', async () => {
    const cli = cliFor(env.config);
    const written = await cli('report', 'rep-model');
    expect(written.code, written.stderr).toBe(0);
    const file = written.stdout.trim();
    expect(file).toBe(path.join(env.config.dataDir, 'reports', 'models', 'rep-model', 'index.html'));
    const page = await open(file, 'model.png');
    const events = chart(page, 'decisions').events;
    const state = json<{ decisions: Array<{ at: string; action: string; evidenceUri?: string }> }>(path.join(path.dirname(file), 'model.json'));
    expect(events.map((e) => e.at)).toEqual(state.decisions.map((d) => Date.parse(d.at)));
    // Every decision with evidence links to a page that exists.
    const linked = events.filter((e) => e.href);
    expect(linked.length).toBe(state.decisions.filter((d) => d.evidenceUri).length);
    expect(linked.length).toBeGreaterThanOrEqual(2);
    for (const e of linked) {
      expect(e.href!).toMatch(/\.html$/);
      expect(fs.existsSync(path.resolve(path.dirname(file), e.href!))).toBe(true);
    }
    const text = await page.page.locator('main').innerText();
    expect(text).toContain('production alias');
    expect(text).toMatch(/Scoring runs[\s\S]*odd/);

    // Each kind again through the command, with a clear refusal for what does not exist.
    expect((await cli('report', 'rep-model', '--scoring', 'odd')).stdout.trim()).toBe(path.join(env.config.dataDir, 'predictions', 'rep-model', 'odd', 'report.html'));
    expect((await cli('report', 'rep-model', '--monitoring', 'm2')).stdout.trim()).toMatch(/reports\/monitoring\/rep-model\/m2\.html$/);
    const missing = await cli('report', 'rep-model', '--evaluation', '0123456789abcdef');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/No evaluation report 0123456789abcdef of rep-model .*mlops status rep-model/);
    const traversal = await cli('report', 'rep-model', '--scoring', '../../etc');
    expect(traversal.code).not.toBe(0);
    expect(traversal.stderr).toMatch(/run id/);

    const served = cli.spawn(['report', 'rep-model', '--open']);
    try {
      await served.waitFor(/open (http:\/\/127\.0\.0\.1:\d+\/\S+)/);
      const url = /open (http:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(served.output())![1]!;
      const answer = await fetch(url);
      expect(answer.status).toBe(200);
      expect(await answer.text()).toContain('<title>Model rep-model</title>');
      const root = new URL('/', url);
      // Pages only: no prediction logs, no manifests, nothing outside the store.
      expect((await fetch(new URL('predictions/rep-model/odd/run.json', root))).status).toBe(404);
      expect((await fetch(new URL('/%2e%2e/%2e%2e/etc/hostname.html', root))).status).toBe(404);
      // …and its links resolve on the server too.
      const evidence = linked[0]!.href!;
      expect((await fetch(new URL(evidence, url))).status).toBe(200);
    } finally {
      await served.stop();
    }
  });
});
