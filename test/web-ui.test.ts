import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startPromotion } from '../src/client/promote';
import { startTraining } from '../src/client/train';
import { promotionStatusQuery } from '../src/api/promote';
import { ingestChurnData } from './helpers/churn';
import { type TestEnv, startTestEnv } from './helpers/env';
import { until } from './helpers/wait';
import { launchBrowser } from './helpers/browser';

/**
 * The Temporal Web UI as the monitoring console, checked in a real browser (Debian chromium,
 * headless): a model's workflows are found by the MlopsModel search attribute, and what waits
 * for a person by MlopsNeedsAttention. Screenshots go to test-results/web-ui/.
 */
const SHOTS = path.resolve(__dirname, '..', 'test-results', 'web-ui');

let env: TestEnv;
let browser: Browser;
beforeAll(async () => {
  env = await startTestEnv('web-ui');
  browser = await launchBrowser();
  // Fresh each run: the test checks exactly which screenshots it took.
  fs.rmSync(SHOTS, { recursive: true, force: true });
  fs.mkdirSync(SHOTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await env?.shutdown();
});

/** Opens a workflow list filtered by `query`, reloading until every expected id is listed (visibility lags a little). */
async function listed(page: Page, query: string, ids: string[]): Promise<string> {
  const url = `${inject('temporalUiUrl')}/namespaces/${env.config.namespace}/workflows?query=${encodeURIComponent(query)}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    const found = await Promise.all(
      ids.map((id) =>
        page
          .getByText(id, { exact: true })
          .first()
          .waitFor({ timeout: 5_000 })
          .then(
            () => true,
            () => false,
          ),
      ),
    );
    if (found.every(Boolean)) return (await page.content()).toString();
    if (Date.now() > deadline) throw new Error(`the Web UI did not list ${ids.filter((_, i) => !found[i]).join(', ')} for ${query}`);
  }
}

/** Waits until some frame of the page shows `text` (the UI renders markdown summaries in iframes). */
async function shown(page: Page, text: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    for (const frame of page.frames()) {
      const body = await frame
        .locator('body')
        .innerText({ timeout: 1_000 })
        .catch(() => '');
      if (body.replace(/\s+/g, ' ').includes(text)) return;
    }
    if (Date.now() > deadline) throw new Error(`the Web UI page does not show "${text}"`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('the Temporal Web UI as the monitoring console', () => {
  it("lists a model's workflows by MlopsModel and the ones that need a person by MlopsNeedsAttention", async () => {
    await ingestChurnData(env, { dataset: 'ui-data', rows: 2000 });
    const trained = await (await startTraining(env.client, env.config, { model: 'ui-model', dataset: 'ui-data' })).result();
    const promotion = await startPromotion(env.client, env.config, { model: 'ui-model', candidateVersion: trained.summary.version, policy: 'manual' });
    await until('the review phase', async () => ((await promotion.query(promotionStatusQuery)).phase === 'waiting-for-review' ? true : undefined));

    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const trainId = await until('the training workflow in visibility', async () => {
      for await (const wf of env.client.workflow.list({ query: 'MlopsModel = "ui-model" AND WorkflowType = "trainModel"' })) return wf.workflowId;
      return undefined;
    });
    await listed(page, 'MlopsModel="ui-model"', ['registry:ui-model', trainId, promotion.workflowId]);
    await page.screenshot({ path: path.join(SHOTS, 'model-workflows.png'), fullPage: true });

    const attention = await listed(page, `MlopsNeedsAttention=true AND MlopsModel="ui-model"`, [promotion.workflowId]);
    expect(attention).not.toContain('registry:ui-model');
    await page.screenshot({ path: path.join(SHOTS, 'needs-attention.png'), fullPage: true });

    // The promotion's page says what it waits for and how to answer (its current details).
    await page.goto(
      `${inject('temporalUiUrl')}/namespaces/${env.config.namespace}/workflows/${encodeURIComponent(promotion.workflowId)}/${(await promotion.describe()).runId}/history`,
      { waitUntil: 'domcontentloaded' },
    );
    // The timeline names the activity by its summary.
    await page.getByText(`Shadow: ${trained.summary.version} vs none`, { exact: false }).first().waitFor({ timeout: 30_000 });
    // …and the metadata tab has the static summary and the current details.
    // …and the metadata tab has the static summary and the current details (markdown, rendered in frames).
    await page.getByText('User Metadata', { exact: true }).first().click();
    await shown(page, `Promote ui-model@${trained.summary.version} (manual)`);
    await shown(page, `Waiting for a review of ui-model@${trained.summary.version}`);
    await shown(page, `mlops approve ui-model ${trained.summary.version}`);
    // …and the report page to open, with the command that serves it.
    await shown(page, 'open it with mlops report ui-model --evaluation');
    await page.screenshot({ path: path.join(SHOTS, 'promotion-waiting.png'), fullPage: true });
    await page.close();
    // The registry keeps its current details too: where the aliases point, what changed last.
    const metadata = (await env.client.workflow.getHandle('registry:ui-model').query('__temporal_workflow_metadata')) as { currentDetails?: string };
    expect(metadata.currentDetails).toContain(`**candidate** ${trained.summary.version}`);
    expect(metadata.currentDetails).toMatch(/Last: set-alias candidate [0-9a-f]{16} by workflow train:ui-model/);
    expect(fs.readdirSync(SHOTS).sort()).toEqual(['model-workflows.png', 'needs-attention.png', 'promotion-waiting.png']);
  });
});
