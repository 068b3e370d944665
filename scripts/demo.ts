/**
 * `npm run demo`: the main job on an embedded default. Starts (or reuses) a Temporal dev server
 * and a worker, and runs the whole loop on synthetic customer data:
 *
 *   1. ingest three days (a clean one, one with quarantined rows, one the contract refuses)
 *   2. train v1 (logistic regression) and promote it behind the quality gates
 *   3. apply the model's spec (churn.yaml, as `mlops apply -f` would): a landing folder for the
 *      live data, scoring and monitoring thresholds, the retraining loop's limits and policy
 *   4. two ordinary days land in the folder: each file's chain ingests, scores with production
 *      and monitors it, with nobody typing anything: nothing to report
 *   5. a pricing change: day 6 lands and drifts; its scoring alert waits for a person, who waits
 *      for the outcomes (labels arrive late) before acknowledging; monitoring then sees live
 *      metrics drop and starts the retrain-until-improved loop, which proves its baseline, trains
 *      on the new labeled data, shadow-evaluates against production and waits for a person's
 *      approval, which the demo sends like `mlops approve` would
 *   6. a second model whose spec retrains it on a schedule, with no new data to learn from: it
 *      cannot improve, so the loop raises a flag and waits for a person (left waiting on purpose)
 *
 * Ends with a summary and Web UI links.
 *
 *   npm run demo                 run and exit (the specs' schedules are removed, as `mlops delete` would)
 *   npm run demo -- --keep-open  keep the server, worker, schedules and Web UI up afterwards
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { clientOf } from '../src/temporal/connection';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { ingest } from '../src/client/ingest';
import { applySpec, deleteAppliedSpec } from '../src/client/apply';
import { listPending, reviewPromotion, startPromotion } from '../src/client/promote';
import { startLabels } from '../src/client/retrain';
import { landingScheduleId, modelScheduleId } from '../src/client/schedules';
import { acknowledgeAlert } from '../src/client/score';
import { registryState, startTraining } from '../src/client/train';
import { listRuns } from '../src/scoring/runs';
import type { landedFile, monitorModel, retrainUntilImproved, scoreBatch } from '../src/workflows';
import { landedFileWorkflowId, landedStatusQuery } from '../src/api/landing';
import { promotionStatusQuery } from '../src/api/promote';
import { retrainStatusQuery, retrainWorkflowId } from '../src/api/retrain';
import { scoreStatusQuery } from '../src/api/score';
import { printChanges } from '../src/cli/commands/apply';
import { formatTable } from '../src/cli/output';
import { readSpecFile } from '../src/spec/load';
import { describeError } from '../src/cli/errors';
import { loadConfig, type MlopsConfig } from '../src/config';
import type { ContractInput } from '../src/contract/schema';
import { type DevServer, freePort, startDevServer } from '../src/temporal/dev-server';
import { temporalReachable } from '../src/temporal/readiness';
import { createWorker } from '../src/worker';
import type { ArtifactStore } from '../src/store/artifact-store';
import { openStore } from '../src/store/open';
import { generateChurnDay } from '../src/synthetic/churn';

const DATASET = 'churn';
const LIVE = 'churn-live';
const MODEL = 'churn';
const LITE = 'churn-lite';

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

/** Live snapshots: the same columns before the outcome is known. */
const liveContract: ContractInput = {
  description: 'Daily customer snapshot to score (no outcome yet)',
  columns: contract.columns.filter((c) => c.name !== 'churned'),
  key: ['customer_id'],
};

async function ensureServer(config: MlopsConfig): Promise<{ address: string; uiUrl?: string; server?: DevServer }> {
  if (await temporalReachable(config.temporalAddress)) {
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

/** On a shared server, a previous demo run's open workflows (registries, a waiting loop) would meet this run's: end them. */
async function endPreviousRuns(config: MlopsConfig): Promise<void> {
  const connection = await Connection.connect({ address: config.temporalAddress });
  const client = clientOf(connection, config);
  let ended = 0;
  for await (const wf of client.workflow.list({ query: `TaskQueue = "${config.taskQueue}" AND ExecutionStatus = "Running"` })) {
    await client.workflow
      .getHandle(wf.workflowId, wf.runId)
      .terminate('a new demo run starts')
      .catch(() => undefined);
    ended++;
  }
  if (ended) console.log(`Ended ${ended} open workflow(s) of a previous demo run on task queue "${config.taskQueue}"`);
  await connection.close();
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
  const began = Date.now();
  // Every run tells the story from the start: its own artifact store (and, when the demo starts
  // the server itself, its own server history) under <MLOPS_DATA_DIR>/demo/<time>.
  const loaded = loadConfig();
  // (Loaded again rather than spread: the store's root and DuckDB's spill folder derive from it.)
  const runDir = path.join(loaded.dataDir, 'demo', new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, ''));
  const base: MlopsConfig = loadConfig({ ...process.env, MLOPS_DATA_DIR: runDir });
  const { address, uiUrl, server } = await ensureServer(base);
  embedded = server;
  const config: MlopsConfig = { ...base, temporalAddress: address, taskQueue: process.env.MLOPS_TASK_QUEUE ?? 'mlops-demo' };
  if (!server) await endPreviousRuns(config);

  // Expected contract violations are part of the story; keep the worker's own log to errors.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const workerConnection = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const client = clientOf(connection, config);
  const worker = await createWorker({ config, connection: workerConnection, client });
  const running = worker.run();
  console.log(`Worker polling "${config.taskQueue}"; artifact store ${config.dataDir}\n`);
  const story = new Story(client, config);

  await story.ingestHistory();
  await story.firstModel();
  await story.applySpec();
  await story.ordinaryDays();
  await story.pricingChange();
  await story.cannotImprove();
  await story.summary(uiUrl ?? 'http://127.0.0.1:8233', Date.now() - began);
  // A shared server would go on running the specs' schedules against this run's folders.
  if (!keepOpen) await story.deleteSpecs();

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

const step = (text: string) => console.log(`\n▶ ${text}`);
const say = (text: string) => console.log(`  ${text}`);
const fmt = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : v.toFixed(3));
/** A path as a user would type it from here. */
const shown = (p: string) => (p.startsWith(process.cwd() + path.sep) ? path.relative(process.cwd(), p) : p);

class Story {
  private readonly inputDir: string;
  private readonly store: ArtifactStore;
  private readonly flags: Array<Record<string, string>> = [];
  /** Models whose spec this run applied. */
  private readonly applied: string[] = [];

  constructor(
    private readonly client: Client,
    private readonly config: MlopsConfig,
  ) {
    this.inputDir = path.join(config.dataDir, 'demo-inputs');
    this.store = openStore(config);
    fs.mkdirSync(this.inputDir, { recursive: true });
  }

  private write(name: string, text: string): string {
    const file = path.join(this.inputDir, name);
    fs.writeFileSync(file, text);
    return file;
  }

  async ingestHistory(): Promise<void> {
    const days = [
      { day: '2026-11-01', badShare: 0, note: 'a clean day' },
      { day: '2026-11-02', badShare: 0.03, note: '3% bad rows: quarantined, version published' },
      { day: '2026-11-03', badShare: 0.2, note: '20% bad rows: over the 5% limit, refused' },
    ];
    for (const d of days) {
      const file = this.write(`churn-${d.day}.csv`, generateChurnDay({ day: d.day, rows: 5000, badShare: d.badShare }));
      step(`ingest ${path.basename(file)} (${d.note})`);
      try {
        const ref = await ingest(this.client, this.config, { dataset: DATASET, source: file, contract, retentionDays: 14 });
        say(`${ref.reused ? 'already published' : 'published'} ${DATASET}@${ref.version}: ${ref.rows.accepted} rows, ${ref.rows.rejected} quarantined`);
      } catch (err) {
        say(`refused: ${describeError(err).split('\n').slice(0, 3).join('\n  ')}`);
      }
    }
  }

  async firstModel(): Promise<void> {
    step(`train "${MODEL}" v1 (logistic regression) on ${DATASET}@latest`);
    const { summary } = await (await startTraining(this.client, this.config, { model: MODEL, dataset: DATASET, trainer: { kind: 'logistic', params: {} } })).result();
    say(`${MODEL}@${summary.version}: test ROC AUC ${fmt(summary.metrics.test.rocAuc)}, registered as candidate`);
    step(`promote ${MODEL}@${summary.version}: the first model, so only the absolute gates apply`);
    const status = await (
      await startPromotion(this.client, this.config, { model: MODEL, candidateVersion: summary.version, gates: { thresholds: { rocAuc: { min: 0.6 } } }, by: 'demo' })
    ).result();
    say(`${status.decision?.outcome} by ${status.decision?.by}: ${status.decision?.reason}`);
  }

  /**
   * The spec the rest of the story runs from (as `mlops apply -f churn.yaml` would apply it): new
   * live files in landing/churn-live are ingested, scored with production and monitored; a
   * crossing starts the retraining loop with these limits, and its candidate waits for a person.
   */
  async applySpec(): Promise<void> {
    this.write('churn-live.contract.json', JSON.stringify(liveContract, null, 2));
    const file = this.write(
      'churn.yaml',
      `apiVersion: mlops/v1
kind: Model
name: ${MODEL}
datasets:
  ${LIVE}: # each file in the folder, once its .done marker is there: ingest, score with production, monitor
    role: live
    contract: ./churn-live.contract.json
    landing: { path: ./landing/${LIVE}, pattern: 'live-*.csv', ready: { marker: .done } }
scoring:
  maxFlaggedShare: 0.005 # more flagged predictions than this: an alert waits for a person
promotion:
  policy: manual # the retraining loop's candidate waits for \`mlops approve\`
  approvalTimeout: 1h
monitoring:
  every: 1d # also a daily pass over ${LIVE}@latest
  dataset: ${LIVE}
retraining:
  maxAttempts: 2
`,
    );
    step(`apply the spec of "${MODEL}" (mlops apply -f ${shown(file)}): from here on, nobody types a command for the daily data`);
    await this.apply(file);
  }

  private async apply(file: string): Promise<void> {
    const { spec, text } = readSpecFile(file);
    const result = await applySpec(this.client, this.config, this.store, { spec, source: file, text, baseDir: path.dirname(file) });
    this.applied.push(spec.name);
    printChanges(result);
  }

  async deleteSpecs(): Promise<void> {
    for (const model of this.applied) await deleteAppliedSpec(this.client, this.store, model);
  }

  /**
   * Drops a day's snapshot into the landing folder (the file, then its .done marker) and runs
   * the landing scan now rather than at its next minute; then follows the file's chain to its
   * end, answering a scoring alert like a person would (`beforeAcknowledging` first).
   */
  private async landDay(day: string, pricingChange: boolean, firstId: number, beforeAcknowledging?: () => Promise<void>) {
    const folder = path.join(this.inputDir, 'landing', LIVE);
    fs.mkdirSync(folder, { recursive: true });
    const name = `live-${day}.csv`;
    const text = generateChurnDay({ day, rows: 4000, badShare: 0, pricingChange, unlabeled: true, firstId });
    fs.writeFileSync(path.join(folder, name), text);
    fs.writeFileSync(path.join(folder, `${name}.done`), '');
    step(`${name} lands in ${shown(folder)}`);
    await this.client.schedule.getHandle(landingScheduleId(MODEL, LIVE)).trigger();
    const chain = this.client.workflow.getHandle<typeof landedFile>(landedFileWorkflowId(MODEL, LIVE, createHash('sha256').update(text).digest('hex')));
    let alerted = false;
    for (;;) {
      const status = await chain.query(landedStatusQuery).catch(() => undefined);
      if (status?.phase === 'waiting-for-a-person') throw new Error(`the chain of ${name} failed: ${status.failure?.message}`);
      if (!alerted && status?.phase === 'scoring' && status.scoringWorkflowId) {
        alerted = await this.acknowledgeIfAlerted(this.client.workflow.getHandle<typeof scoreBatch>(status.scoringWorkflowId), beforeAcknowledging);
      }
      if (status?.phase === 'done') break;
      await sleep(200);
    }
    const status = await chain.result();
    say(`${chain.workflowId}: ingested ${LIVE}@${status.version!.slice(0, 8)}, scored (${status.scoringWorkflowId}), monitored (${status.monitoringWorkflowId})`);
    const { run } = await this.client.workflow.getHandle<typeof scoreBatch>(status.scoringWorkflowId!).result();
    say(`${run!.rows} rows scored with ${run!.modelVersion}: ${run!.outOfRange} outside [${run!.range.min.toFixed(3)}, ${run!.range.max.toFixed(3)}]; log ${shown(run!.logUri)}`);
    const result = await this.client.workflow.getHandle<typeof monitorModel>(status.monitoringWorkflowId!).result();
    say(
      `monitoring: ${result.triggered ? `THRESHOLD CROSSED — ${result.reasons.join('; ')}` : 'no threshold crossed'} ` +
        `(drifted features: ${result.driftedFeatures.join(', ') || 'none'}, prediction PSI ${fmt(result.predictionPsi)}${result.estimated ? `, estimated AUC before labels ${fmt(result.estimated.rocAuc)}` : ''}${result.live ? `, live AUC ${fmt(result.live.value)} vs ${fmt(result.live.baseline)} at training` : ''})`,
    );
    return result;
  }

  /** A run with too many flagged predictions waits for a person; the demo acknowledges like `mlops acknowledge`. */
  private async acknowledgeIfAlerted(handle: WorkflowHandle<typeof scoreBatch>, beforeAcknowledging?: () => Promise<void>): Promise<boolean> {
    const status = await handle.query(scoreStatusQuery).catch(() => undefined);
    if (status?.phase !== 'waiting-for-acknowledgement') return false;
    say(`ALERT: ${status.run!.alert}`);
    await beforeAcknowledging?.();
    const reason = beforeAcknowledging ? 'pricing change, confirmed by the outcomes' : 'looked at the flagged rows';
    say(`a person looks at the flagged rows and sends: mlops acknowledge ${MODEL} ${status.runId} --reason "${reason}"`);
    await acknowledgeAlert(this.client, { model: MODEL, runId: status.runId, by: 'demo-analyst', reason });
    this.flags.push({ workflow: handle.workflowId, flag: 'scoring alert', answered: 'acknowledged by the demo' });
    return true;
  }

  async ordinaryDays(): Promise<void> {
    let firstId = 200000;
    for (const day of ['2026-11-04', '2026-11-05']) {
      await this.landDay(day, false, firstId);
      firstId += 10000;
    }
  }

  async pricingChange(): Promise<void> {
    const day = '2026-11-06';
    console.log(`\n— a pricing change ships on ${day} —`);
    let outcomes = false;
    const result = await this.landDay(day, true, 300000, async () => {
      outcomes = true;
      say('before acknowledging, the analyst waits for the outcomes of the day; they arrive (late, as labels do):');
      const labels = this.write(`labels-${day}.csv`, generateChurnDay({ day, rows: 4000, badShare: 0, pricingChange: true, firstId: 300000 }));
      const batch = await (await startLabels(this.client, this.config, { dataset: LIVE, source: labels, label: 'churned' })).result();
      say(`mlops labels ${LIVE} ${path.basename(labels)}: ${batch.rows} labels recorded`);
      const training = this.write(`churn-${day}.csv`, generateChurnDay({ day: `${day}-training`, rows: 6000, badShare: 0, pricingChange: true, firstId: 400000 }));
      const ref = await ingest(this.client, this.config, { dataset: DATASET, source: training, contract, retentionDays: 14 });
      say(`the data team publishes ${DATASET}@${ref.version}: ${ref.rows.accepted} labeled rows after the change`);
    });
    if (!outcomes) throw new Error(`expected the scoring of ${day} to raise an alert`);
    if (!result.retrain) throw new Error('expected monitoring to start the retraining loop');
    step(
      `${result.retrain.workflowId}: baseline proof, then train on ${DATASET}@latest plus the labeled production rows → shadow against production on held-out labeled production rows → a person approves`,
    );
    const loop = this.client.workflow.getHandle<typeof retrainUntilImproved>(result.retrain.workflowId);
    let reviewed = false;
    for (;;) {
      const status = await loop.query(retrainStatusQuery).catch(() => undefined);
      if (status?.phase === 'done' || status?.phase === 'escalated') break;
      const review = reviewed ? undefined : (await listPending(this.client)).find((p) => p.type === 'promoteModel' && p.model === MODEL);
      if (review) {
        const promotion = await this.client.workflow.getHandle(review.workflowId).query(promotionStatusQuery);
        const e = promotion.evaluation!;
        say(
          `baseline proof: ${status?.proof?.passed ? 'passed' : 'failed'} (production reproduced: ${status?.proof?.primaryMetric} ${fmt(status?.proof?.reproduced)} vs ${fmt(status?.proof?.registered)} registered)`,
        );
        const data = status?.current?.data;
        if (data) {
          say(
            `trained on ${data.trainedOn.dataset}@${data.trainedOn.version.slice(0, 8)}: ${data.trainedOn.originalRows} original + ${data.trainedOn.productionRows} labeled production rows`,
          );
          say(
            `judged on ${data.judgedOn.dataset}@${data.judgedOn.version.slice(0, 8)}: ${data.judgedOn.labeledProduction ? 'labeled production rows neither model trained on' : "the training data's test split"}`,
          );
        }
        say(
          `shadow evaluation of ${promotion.candidate} against ${promotion.baseline}: ${e.primaryMetric} ${fmt(e.candidateValue)} vs ${fmt(e.baselineValue)} on ${e.rows} rows, gates ${e.passed ? 'passed' : 'failed'}`,
        );
        say(`waiting for a person (MlopsNeedsAttention=true); the reviewer reads ${shown(e.markdownUri)}`);
        const decision = e.passed ? 'approve' : 'reject';
        say(`and sends: mlops ${decision} ${MODEL} ${promotion.candidate} --reason "…" --by demo-reviewer`);
        await reviewPromotion(this.client, decision, {
          model: MODEL,
          version: promotion.candidate,
          by: 'demo-reviewer',
          reason: e.passed ? 'better on the new pricing, slices look fine' : 'gates failed',
        });
        this.flags.push({ workflow: review.workflowId, flag: 'promotion review', answered: `${decision} by demo-reviewer` });
        reviewed = true;
      }
      await sleep(300);
    }
    const status = await loop.query(retrainStatusQuery);
    if (status.phase === 'escalated') {
      // E.g. a second demo run: production already learned the new pricing, nothing beats it.
      say(`the loop could not improve on ${status.production}: ${status.escalation!.reason}`);
      this.flags.push({ workflow: loop.workflowId, flag: 'retraining cannot improve', answered: 'waiting for a person' });
      return;
    }
    say(`loop ${status.outcome} after ${status.attemptsMade} attempt(s) in ${status.runs} run(s); production is now ${status.production}`);
  }

  async cannotImprove(): Promise<void> {
    console.log('\n— a second model, and a weekly retraining with nothing new to learn —');
    step(`train "${LITE}" (plan and region only) on ${DATASET}@latest and promote it`);
    const lite = (await (await startTraining(this.client, this.config, { model: LITE, dataset: DATASET, features: ['plan', 'region'] })).result()).summary.version;
    await (await startPromotion(this.client, this.config, { model: LITE, candidateVersion: lite, gates: { thresholds: { rocAuc: { min: 0.5 } } }, by: 'demo' })).result();
    const file = this.write('churn-lite.yaml', `apiVersion: mlops/v1\nkind: Model\nname: ${LITE}\nretraining:\n  every: 7d # a Temporal Schedule\n  maxAttempts: 1\n`);
    step(`apply the spec of "${LITE}" (mlops apply -f ${shown(file)}): retrain every 7 days, one attempt allowed`);
    await this.apply(file);
    step('a week passes: the schedule is due (the demo triggers it now)');
    await this.client.schedule.getHandle(modelScheduleId('retrain', LITE)).trigger();
    const handle = this.client.workflow.getHandle<typeof retrainUntilImproved>(retrainWorkflowId(LITE));
    for (;;) {
      const status = await handle.query(retrainStatusQuery).catch(() => undefined);
      if (status?.phase === 'escalated') {
        say(`attempt 1: ${status.attempts[0]?.outcome} — ${status.attempts[0]?.reason}`);
        say(`FLAG: ${status.escalation!.reason}`);
        say(`it waits for a person: mlops decide ${LITE} retry|accept-current|force-promote|abort --reason "…" (left waiting)`);
        this.flags.push({ workflow: handle.workflowId, flag: 'retraining cannot improve', answered: 'waiting for a person' });
        return;
      }
      if (status?.phase === 'done') return say(`loop ended: ${status.outcome}`);
      await sleep(300);
    }
  }

  async summary(uiUrl: string, ms: number): Promise<void> {
    console.log(`\n════ Summary (${(ms / 1000).toFixed(0)} s) ════`);
    for (const model of [MODEL, LITE]) {
      const registry = await registryState(this.client, model);
      const rows = registry.versions.map((v) => ({
        version: v.version,
        trainer: v.trainer.kind,
        'trained on': `${v.dataset.name}@${v.dataset.version.slice(0, 8)}`,
        'test AUC': fmt(v.metrics.test.rocAuc),
        alias:
          Object.entries(registry.aliases)
            .filter(([, id]) => id === v.version)
            .map(([a]) => a)
            .join(',') || (v.status === 'archived' ? 'archived' : ''),
      }));
      console.log(`\nModel "${model}"\n${formatTable(rows)}`);
      const decisions = registry.decisions
        .filter((d) => d.action !== 'register')
        .slice(-4)
        .map((d) => ({ action: d.action, alias: d.alias ?? '', version: d.version, by: d.by, reason: d.reason.slice(0, 60) }));
      console.log(`decisions\n${formatTable(decisions)}`);
    }
    const runs = (await listRuns(this.store, MODEL)).map((r) => ({
      run: r.runId,
      'model version': r.modelVersion,
      rows: r.rows,
      'out of range': r.outOfRange,
      alert: r.alert ? 'yes' : '',
    }));
    console.log(`\nScoring runs of "${MODEL}"\n${formatTable(runs)}`);
    console.log(`\nFlags raised for a person\n${formatTable(this.flags)}`);
    const ns = this.config.namespace;
    const link = (q: string) => `${uiUrl}/namespaces/${ns}/workflows?query=${encodeURIComponent(q)}`;
    console.log('\nWeb UI:');
    console.log(`  everything about "${MODEL}":     ${link(`MlopsModel="${MODEL}"`)}`);
    console.log(`  waiting for a person:         ${link('MlopsNeedsAttention=true AND ExecutionStatus="Running"')}`);
    console.log(`  the retraining loop:          ${link(`WorkflowId="retrain:${MODEL}"`)}`);
    console.log(`  query lineage:  npx mlops sql "SELECT model, version, trainer, test_metrics FROM models"   (MLOPS_DATA_DIR=${this.config.dataDir})`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The dev server this run started, stopped on every way out (a failed demo must not leave it behind). */
let embedded: DevServer | undefined;

main().catch(async (err: unknown) => {
  console.error(`demo failed: ${describeError(err)}`);
  await embedded?.stop().catch(() => undefined);
  process.exit(1);
});
