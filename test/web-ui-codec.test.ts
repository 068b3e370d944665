import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { ingest } from '../src/client/ingest';
import { loadConfig } from '../src/config';
import { AesGcmPayloadCodec } from '../src/temporal/codec';
import { type CodecServer, startCodecServer } from '../src/temporal/codec-server';
import { clientOf } from '../src/temporal/connection';
import { type DevServer, freePort, PortInUse, startDevServer } from '../src/temporal/dev-server';
import { CHURN_CONTRACT } from './helpers/training';
import { launchBrowser } from './helpers/browser';
import { spawnWorker, stopWorker } from './helpers/worker-process';

/**
 * Encrypted payloads shown decoded in a real Web UI: a dev server whose UI is pointed at
 * `mlops codec-server` (--ui-codec-endpoint), a worker and client holding the key, and chromium
 * reading a workflow's input on the page. The browser calls the codec server cross-origin, so
 * this also exercises the CORS preflight.
 */
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-ui-codec-'));
let server: DevServer | undefined;
let codecServer: CodecServer | undefined;
let browser: Browser | undefined;
afterAll(async () => {
  await browser?.close();
  await codecServer?.close();
  await server?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('the Web UI with the codec server', () => {
  it('shows an encrypted workflow input decoded', async () => {
    const key = randomBytes(32).toString('base64');
    process.env.MLOPS_PAYLOAD_KEY = key; // inherited by the spawned worker
    const config = loadConfig({ MLOPS_PAYLOAD_KEY: key, MLOPS_DATA_DIR: path.join(root, 'store'), MLOPS_TASK_QUEUE: 'ui-codec' });
    // The codec server must know the UI's origin before the UI exists, so this test picks the UI
    // port itself, and picks again should another process take it first.
    for (let attempt = 1; !server; attempt++) {
      const uiPort = await freePort();
      codecServer = await startCodecServer({ codec: new AesGcmPayloadCodec(config.payloadEncryption!.key), allowedOrigins: [`http://127.0.0.1:${uiPort}`] });
      server = await startDevServer({ uiPort, uiCodecEndpoint: codecServer.url, logFile: path.join(root, 'server.log') }).catch(async (err: unknown) => {
        await codecServer!.close();
        if (err instanceof PortInUse && err.port === uiPort && attempt < 4) return undefined;
        throw err;
      });
    }
    const deployed = { ...config, temporalAddress: server.address };
    const worker = spawnWorker(deployed, deployed.taskQueue);
    const client = clientOf(await Connection.connect({ address: server.address }), deployed);
    try {
      // A source path no other payload holds: it can only appear on the page decoded.
      const marker = path.join(root, `secret-input-${randomBytes(4).toString('hex')}.csv`);
      const rows = Array.from({ length: 500 }, (_, i) => `${i},${(i % 40) / 10 - 2},${(i % 17) / 4 - 2},${['red', 'green', 'blue'][i % 3]},${i % 3 === 0}`);
      fs.writeFileSync(marker, `id,x1,x2,color,churned\n${rows.join('\n')}\n`);
      const ref = await ingest(client, deployed, { dataset: 'ui-codec', source: marker, contract: CHURN_CONTRACT });
      expect(ref.rows.accepted).toBe(500);
      let workflowId = '';
      for await (const wf of client.workflow.list({ query: 'WorkflowType = "ingestDataset"' })) workflowId = wf.workflowId;

      browser = await launchBrowser();
      const page = await browser.newPage();
      const decodeCalls: number[] = [];
      page.on('response', (r) => {
        if (r.url().startsWith(`${codecServer!.url}/decode`)) decodeCalls.push(r.status());
      });
      await page.goto(`${server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`, { waitUntil: 'domcontentloaded' });
      await page.getByText(path.basename(marker)).first().waitFor({ timeout: 60_000 });
      expect(decodeCalls.length).toBeGreaterThan(0);
      expect(decodeCalls.every((s) => s === 200)).toBe(true);
      fs.mkdirSync(path.resolve(__dirname, '..', 'test-results', 'web-ui-codec'), { recursive: true });
      await page.screenshot({ path: path.resolve(__dirname, '..', 'test-results', 'web-ui-codec', 'decoded-input.png'), fullPage: true });
    } finally {
      await client.connection.close();
      await stopWorker(worker.child);
    }
  }, 180_000);
});
