/**
 * `npm run demo`: the main job on an embedded default. Starts (or reuses) a Temporal dev server
 * and a worker, generates a synthetic churn dataset for three days, and ingests each day through
 * the durable ingestion workflow: a clean day, a day with a few bad rows (quarantined), and a
 * broken day that the contract refuses. Then trains logistic regression on the latest version and
 * promotes it behind the quality gates, trains a GBDT and puts it to a (simulated) reviewer after
 * its shadow evaluation against production. Ends with a summary and Web UI links.
 *
 *   npm run demo                 run and exit
 *   npm run demo -- --keep-open  keep the server, worker and Web UI up afterwards
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { ingest } from '../src/client/ingest';
import { listPending, reviewPromotion, startPromotion } from '../src/client/promote';
import { registryState, startTraining } from '../src/client/train';
import { promotionStatusQuery } from '../src/workflows/promote-messages';
import { formatTable } from '../src/cli/output';
import { describeError } from '../src/cli/errors';
import { loadConfig, type MlopsConfig } from '../src/config';
import type { ContractInput } from '../src/contract/schema';
import { listVersions } from '../src/datasets/catalog';
import { type DevServer, freePort, startDevServer } from '../src/temporal/dev-server';
import { createWorker } from '../src/worker';
import { ArtifactStore } from '../src/store/artifact-store';
import { generateChurnDay } from '../src/synthetic/churn';

const DATASET = 'churn';
const MODEL = 'churn';

const contract: ContractInput = {
  description: 'Daily customer snapshot for churn prediction',
  columns: [
    { name: 'customer_id', type: 'integer', nullable: false },
    { name: 'tenure_months', type: 'integer', nullable: false, min: 0, max: 600 },
    { name: 'monthly_spend', type: 'double', nullable: false, min: 0 },
    { name: 'support_calls', type: 'integer', nullable: true, min: 0 },
    { name: 'plan', type: 'string', nullable: false, allowed: ['basic', 'plus', 'pro'] },
    { name: 'region', type: 'string', nullable: true },
    { name: 'churned', type: 'boolean', nullable: false },
  ],
  key: ['customer_id'],
  label: 'churned',
};

async function reachable(address: string): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: 1500 });
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

async function ensureServer(config: MlopsConfig): Promise<{ address: string; uiUrl?: string; server?: DevServer }> {
  if (await reachable(config.temporalAddress)) {
    console.log(`Using the Temporal server at ${config.temporalAddress}`);
    return { address: config.temporalAddress, uiUrl: process.env.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233' };
  }
  const uiPort = (await portFree(8233)) ? 8233 : await freePort();
  const port = (await portFree(7233)) ? 7233 : await freePort();
  console.log('Starting an embedded Temporal dev server …');
  const server = await startDevServer({
    port,
    uiPort,
    dbFile: path.join(config.dataDir, 'temporal', 'demo.sqlite'),
    logFile: path.join(config.dataDir, 'temporal', 'demo.log'),
  });
  console.log(`  gRPC ${server.address}, Web UI ${server.uiUrl} (pid ${server.pid})`);
  return { address: server.address, uiUrl: server.uiUrl, server };
}

async function portFree(port: number): Promise<boolean> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function main(): Promise<void> {
  const keepOpen = process.argv.includes('--keep-open');
  const base = loadConfig();
  const { address, uiUrl, server } = await ensureServer(base);
  const config: MlopsConfig = { ...base, temporalAddress: address, taskQueue: process.env.MLOPS_TASK_QUEUE ?? 'mlops-demo' };

  // Expected contract violations are part of the story; keep the worker's own log to errors.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const workerConnection = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: config.namespace });
  const worker = await createWorker({ config, connection: workerConnection, client });
  const running = worker.run();
  console.log(`Worker polling "${config.taskQueue}"; artifact store ${config.dataDir}\n`);

  const inputDir = path.join(config.dataDir, 'demo-inputs');
  fs.mkdirSync(inputDir, { recursive: true });
  const days = [
    { day: '2026-11-01', rows: 5000, badShare: 0, note: 'a clean day' },
    { day: '2026-11-02', rows: 5000, badShare: 0.03, note: '3% bad rows: quarantined, version published' },
    { day: '2026-11-03', rows: 5000, badShare: 0.2, note: '20% bad rows: over the 5% limit, refused' },
  ];
  const outcomes: Array<Record<string, unknown>> = [];
  for (const d of days) {
    const file = path.join(inputDir, `churn-${d.day}.csv`);
    fs.writeFileSync(file, generateChurnDay({ day: d.day, rows: d.rows, badShare: d.badShare }));
    console.log(`▶ ingest ${path.basename(file)} (${d.note})`);
    const started = Date.now();
    try {
      const ref = await ingest(client, config, { dataset: DATASET, source: file, contract, retentionDays: 14 });
      console.log(
        `  ${ref.reused ? 'already published' : 'published'} ${DATASET}@${ref.version}: ` +
          `${ref.rows.accepted} rows, ${ref.rows.rejected} quarantined (${Date.now() - started} ms)`,
      );
      outcomes.push({ day: d.day, outcome: 'published', version: ref.version, accepted: ref.rows.accepted, quarantined: ref.rows.rejected });
    } catch (err) {
      const message = describeError(err);
      console.log(`  refused: ${message.split('\n').slice(0, 4).join('\n  ')}`);
      outcomes.push({ day: d.day, outcome: message.split(':')[0], version: '-', accepted: 0, quarantined: '-' });
    }
  }

  const versions = await listVersions(new ArtifactStore(config.dataDir), DATASET);
  console.log(`\nIngestion outcomes\n${formatTable(outcomes)}\n`);
  const versionRows = versions.map((v) => ({ version: v.version, created: v.createdAt, rows: v.rows.accepted, quarantined: v.rows.rejected, rawExpires: v.raw.expiresAt }));
  console.log(`Published versions of "${DATASET}"\n${formatTable(versionRows)}\n`);
  // Logistic regression first, promoted on the gates alone; then GBDT, promoted only when a
  // person approves (the demo plays that person, as `mlops approve` would).
  const steps: Array<{ trainer: { kind: 'logistic' | 'gbdt'; params: Record<string, number> }; policy: 'auto' | 'manual' }> = [
    { trainer: { kind: 'logistic', params: {} }, policy: 'auto' },
    { trainer: { kind: 'gbdt', params: { nEstimators: 100 } }, policy: 'manual' },
  ];
  for (const { trainer, policy } of steps) {
    console.log(`▶ train model "${MODEL}" with ${trainer.kind} on ${DATASET}@latest`);
    const { summary, reused } = await (await startTraining(client, config, { model: MODEL, dataset: DATASET, trainer })).result();
    const m = summary.metrics.test;
    console.log(
      `  ${reused ? 'already trained' : 'trained'} ${MODEL}@${summary.version}: test ROC AUC ${m.rocAuc?.toFixed(3)}, ` +
        `accuracy ${m.accuracy?.toFixed(3)}, log loss ${m.logLoss?.toFixed(3)} — registered as candidate`,
    );
    console.log(`▶ promote ${MODEL}@${summary.version} (${policy}): shadow evaluation against production, quality gates`);
    const handle = await startPromotion(client, config, { model: MODEL, candidateVersion: summary.version, policy, sliceColumns: ['plan'], by: 'demo' });
    if (policy === 'manual') await reviewLikeAPerson(client, handle, summary.version);
    const status = await handle.result();
    const e = status.evaluation;
    if (e) {
      const against = e.baselineValue !== undefined ? ` vs production ${e.baselineValue?.toFixed(3)}` : ' (first model: absolute gates only)';
      console.log(`  ${e.primaryMetric} ${e.candidateValue?.toFixed(3)}${against}; gates ${e.passed ? 'passed' : 'failed'}; report ${e.markdownUri}`);
    }
    console.log(`  ${status.decision?.outcome ?? status.phase} by ${status.decision?.by}: ${status.decision?.reason}`);
  }
  const registry = await registryState(client, MODEL);
  const modelRows = registry.versions.map((v) => ({
    version: v.version,
    trainer: v.trainer.kind,
    'test AUC': v.metrics.test.rocAuc?.toFixed(3),
    alias: Object.entries(registry.aliases).filter(([, id]) => id === v.version).map(([a]) => a).join(','),
  }));
  console.log(`\nRegistry of model "${MODEL}" (registry:${MODEL})\n${formatTable(modelRows)}\n`);
  const decisions = registry.decisions.slice(-6).map((d) => ({ action: d.action, alias: d.alias ?? '', version: d.version, by: d.by, reason: d.reason.slice(0, 70) }));
  console.log(`Latest decisions\n${formatTable(decisions)}\n`);

  const query = encodeURIComponent(`MlopsDataset="${DATASET}"`);
  const modelQuery = encodeURIComponent(`MlopsModel="${MODEL}"`);
  console.log('Web UI:');
  console.log(`  all ingestion runs of "${DATASET}": ${uiUrl}/namespaces/${config.namespace}/workflows?query=${query}`);
  console.log(`  training runs and registry of "${MODEL}": ${uiUrl}/namespaces/${config.namespace}/workflows?query=${modelQuery}`);
  console.log(`  inspect versions:  npx mlops datasets show ${DATASET}    (MLOPS_DATA_DIR=${config.dataDir})`);

  if (keepOpen) {
    console.log('\n--keep-open: server, worker and Web UI stay up; Ctrl-C to stop.');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  }
  worker.shutdown();
  await running;
  await connection.close();
  await workerConnection.close();
  await server?.stop();
}

main().catch(async (err: unknown) => {
  console.error(`demo failed: ${describeError(err)}`);
  process.exit(1);
});

/** What a reviewer does: find the promotion among the pending ones, read the verdict, decide. */
async function reviewLikeAPerson(client: Client, handle: WorkflowHandle, version: string): Promise<void> {
  for (;;) {
    const status = await handle.query(promotionStatusQuery);
    if (status.phase !== 'evaluating') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const status = await handle.query(promotionStatusQuery);
  if (status.phase !== 'waiting-for-review') return; // e.g. already production from an earlier run
  for (let i = 0; i < 50 && !(await listPending(client)).some((p) => p.workflowId === handle.workflowId); i++) {
    await new Promise((r) => setTimeout(r, 200));
  }
  console.log(`  waiting for a person (MlopsNeedsAttention=true; \`npx mlops pending\` lists it)`);
  const passed = status.evaluation?.passed ?? false;
  const decision = passed ? 'approve' : 'reject';
  console.log(`  the reviewer reads ${status.evaluation?.markdownUri} and sends: mlops ${decision} ${MODEL} ${version} --by demo-reviewer`);
  await reviewPromotion(client, decision, {
    model: MODEL,
    version,
    by: 'demo-reviewer',
    reason: passed ? 'gates passed and the report reads well' : 'gates failed',
  });
}
