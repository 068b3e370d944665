/**
 * `npm run bench:peers:loop [-- --rows 10000] [--runs 3] [--mlflow-sqlite]`
 *
 * The whole loop — ingest → train → shadow evaluation → promotion — through our workflows
 * (trainAndPromote) on a real Temporal dev server this bench starts and stops, against the script a
 * Python user would write with pandas + scikit-learn + MLflow (bench/peers/loop_peer.py: local file
 * tracking, log the model, register it, set the alias `production`). Both sides get the same CSVs
 * (`--runs` of them, `--rows` rows each, new data for the same model every run, so from the second
 * run on each side evaluates against its production model) after one warm-up run each, alternating.
 *
 * Temporal's share of our wall time comes from the histories of the pipeline and every child
 * workflow (and the registry's events inside the run's window): the union of the activities'
 * started → closed intervals is the work; the rest of the wall time — waits from scheduled to
 * started, workflow tasks, child starts, the client's start and result calls — is Temporal's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Connection, type Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { tsToMs } from '@temporalio/common/lib/time';
import { NativeConnection, Runtime, DefaultLogger } from '@temporalio/worker';
import { registryWorkflowId } from '../src/api/registry';
import { formatTable } from '../src/cli/output';
import { startPipeline } from '../src/client/promote';
import { loadConfig } from '../src/config';
import { openDuckDb } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { clientOf } from '../src/temporal/connection';
import { startDevServer } from '../src/temporal/dev-server';
import { createWorker } from '../src/worker';
import { CHURN_CONTRACT, churnSql } from './churn-data';
import { ensureDir, median, recordHeadline, runHeader, runPeer, seconds } from './peers-common';

const OUT = path.join(__dirname, 'out', 'peers-loop');

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const ROWS = option('--rows', 10_000);
const RUNS = option('--runs', 3);
/** MLflow's local tracking: its file store by default, the sqlite backend MLflow 3 recommends with --mlflow-sqlite. */
const TRACKING_URI = process.argv.includes('--mlflow-sqlite') ? `sqlite:///${path.join(OUT, 'mlflow.db')}` : `file:${path.join(OUT, 'mlruns')}`;

interface Interval {
  from: number;
  to: number;
}

/** Where a run's time went, from the histories of its workflows. */
interface HistoryShare {
  workflows: number;
  activities: number;
  /** Union of activity started → closed intervals (ms). */
  activityMs: number;
  /** Sum of activity scheduled → started waits (ms). */
  activityWaitMs: number;
  /** Sum of workflow task scheduled → completed (ms): the worker deciding, and the wait for it. */
  workflowTaskMs: number;
  /** Pipeline workflow started → closed (ms). */
  serverWallMs: number;
}

function unionMs(intervals: Interval[]): number {
  const sorted = [...intervals].sort((a, b) => a.from - b.from);
  let total = 0;
  let current: Interval | undefined;
  for (const i of sorted) {
    if (!current || i.from > current.to) {
      if (current) total += current.to - current.from;
      current = { ...i };
    } else current.to = Math.max(current.to, i.to);
  }
  return total + (current ? current.to - current.from : 0);
}

async function historyShare(client: Client, pipelineId: string, model: string): Promise<HistoryShare> {
  const ms = (e: temporal.api.history.v1.IHistoryEvent) => tsToMs(e.eventTime);
  const share: HistoryShare = { workflows: 0, activities: 0, activityMs: 0, activityWaitMs: 0, workflowTaskMs: 0, serverWallMs: 0 };
  const runs: Interval[] = [];
  let window: Interval | undefined;
  const visit = async (workflowId: string, inWindow: boolean) => {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const events = (history.events ?? []).filter((e) => !inWindow || (window && ms(e) >= window.from && ms(e) <= window.to));
    if (!window) window = { from: ms(events[0]!), to: ms(events.at(-1)!) };
    share.workflows++;
    const scheduled = new Map<string, number>();
    const started = new Map<string, number>();
    const children: string[] = [];
    for (const e of events) {
      const id = String(e.eventId);
      if (e.activityTaskScheduledEventAttributes) scheduled.set(id, ms(e));
      if (e.activityTaskStartedEventAttributes) {
        const from = scheduled.get(String(e.activityTaskStartedEventAttributes.scheduledEventId));
        started.set(String(e.activityTaskStartedEventAttributes.scheduledEventId), ms(e));
        if (from !== undefined) share.activityWaitMs += ms(e) - from;
      }
      const closed = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
      if (closed) {
        const from = started.get(String(closed.scheduledEventId));
        if (from !== undefined) {
          runs.push({ from, to: ms(e) });
          share.activities++;
        }
      }
      if (e.workflowTaskScheduledEventAttributes) scheduled.set(`wft-${id}`, ms(e));
      if (e.workflowTaskCompletedEventAttributes) {
        const started = events.find((s) => String(s.eventId) === String(e.workflowTaskCompletedEventAttributes!.startedEventId));
        const from = started?.workflowTaskStartedEventAttributes ? scheduled.get(`wft-${started.workflowTaskStartedEventAttributes.scheduledEventId}`) : undefined;
        if (from !== undefined) share.workflowTaskMs += ms(e) - from;
      }
      const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId;
      if (child) children.push(child);
    }
    for (const child of children) await visit(child, false);
  };
  await visit(pipelineId, false);
  share.serverWallMs = window!.to - window!.from;
  // The registry is one long-lived workflow per model: only its events inside this run count.
  await visit(registryWorkflowId(model), true).catch(() => undefined);
  share.activityMs = unionMs(runs);
  return share;
}

interface PeerReport {
  seconds: number;
  steps: Record<string, number>;
  imports_seconds: number;
  rocAuc: number;
  production_rocAuc: number | null;
  promoted: boolean;
  had_production: boolean;
}

/** What this run started, to stop in reverse order whatever happens. */
const cleanups: Array<() => Promise<unknown>> = [];
async function stopAll(): Promise<void> {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
}

async function main(): Promise<void> {
  fs.rmSync(OUT, { recursive: true, force: true });
  ensureDir(OUT);
  const db = await openDuckDb();
  const conn = await db.connect();
  const csv = (i: number | 'warm') => path.join(OUT, `loop-${i}.csv`);
  for (const i of ['warm' as const, ...Array.from({ length: RUNS }, (_, r) => r)]) {
    await conn.run(`COPY (${churnSql({ seed: i === 'warm' ? 999 : i, firstId: 0, rows: ROWS, labeled: true, w: 1.2 })}) TO ${quoteString(csv(i))} (HEADER)`);
  }
  db.closeSync();

  Runtime.install({ logger: new DefaultLogger('WARN') });
  const server = await startDevServer({ headless: true, logFile: path.join(OUT, 'temporal.log') });
  cleanups.push(() => server.stop());
  const config = loadConfig({ TEMPORAL_ADDRESS: server.address, MLOPS_DATA_DIR: path.join(OUT, 'store'), MLOPS_TASK_QUEUE: 'bench-peers-loop' });
  const workerConnection = await NativeConnection.connect({ address: config.temporalAddress });
  cleanups.push(() => workerConnection.close());
  const connection = await Connection.connect({ address: config.temporalAddress });
  cleanups.push(() => connection.close());
  const client = clientOf(connection, config);
  const worker = await createWorker({ config, connection: workerConnection, client });
  const workerRun = worker.run();
  cleanups.push(async () => {
    worker.shutdown();
    await Promise.race([workerRun.catch(() => undefined), new Promise((r) => setTimeout(r, 30_000))]);
  });

  const gates = { thresholds: { rocAuc: { min: 0.6 } } };
  const ours = async (model: string, i: number | 'warm') => {
    const start = performance.now();
    const handle = await startPipeline(client, config, {
      ingest: { dataset: `${model}-${i}`, source: csv(i), contract: CHURN_CONTRACT },
      train: { model, dataset: `${model}-${i}`, trainer: { kind: 'logistic', params: {} } },
      promote: { gates, by: 'bench-peers-loop' },
    });
    const result = await handle.result();
    return { ms: performance.now() - start, id: handle.workflowId, result };
  };
  /** "infer": MLflow's default pip-requirements inference in log_model; "given": the requirements named (its own model, so its own production chain). */
  const peer = (model: string, i: number | 'warm', requirements: 'infer' | 'given') =>
    runPeer<PeerReport>('loop_peer.py', [csv(i), path.join(OUT, `peer-${i}.parquet`), TRACKING_URI, requirements === 'infer' ? model : `${model}-given`, requirements]);

  // Warm-up, not measured, on a model of its own: worker caches, DuckDB, the Python imports' page cache.
  await ours('warm', 'warm');
  peer('warm', 'warm', 'infer');
  peer('warm', 'warm', 'given');

  const rows: Array<Record<string, unknown>> = [];
  const oursMs: number[] = [];
  const peerS: number[] = [];
  const givenS: number[] = [];
  const shares: HistoryShare[] = [];
  for (let r = 0; r < RUNS; r++) {
    const o = await ours('loop', r);
    const share = await historyShare(client, o.id, 'loop');
    const p = peer('loop', r, 'infer');
    const g = peer('loop', r, 'given');
    oursMs.push(o.ms);
    peerS.push(p.seconds);
    givenS.push(g.seconds);
    shares.push(share);
    const temporalMs = o.ms - share.activityMs;
    rows.push({
      run: r + 1,
      'ours s': (o.ms / 1000).toFixed(2),
      'ours: activities s': (share.activityMs / 1000).toFixed(2),
      'ours: Temporal s': (temporalMs / 1000).toFixed(2),
      'Temporal share': `${((temporalMs / o.ms) * 100).toFixed(0)}%`,
      'ours AUC': o.result.trained.summary.metrics?.test?.rocAuc?.toFixed(4) ?? '',
      'ours outcome': o.result.promotion.phase,
      'ours: why': o.result.promotion.decision?.reason ?? '',
      'peer s': p.seconds.toFixed(2),
      'peer steps s (ingest/train/evaluate/promote)': ['ingest', 'train', 'evaluate', 'promote'].map((s) => p.steps[s]!.toFixed(2)).join(' / '),
      'peer AUC': p.rocAuc.toFixed(4),
      'peer outcome': `${p.promoted ? 'promoted' : 'not promoted'}${p.had_production ? ' (vs production)' : ''}`,
      'peer imports s': p.imports_seconds.toFixed(1),
      'peer, requirements given s': g.seconds.toFixed(2),
      'given: promote s': g.steps.promote!.toFixed(2),
    });
    process.stderr.write(`run ${r + 1}: ours ${(o.ms / 1000).toFixed(2)} s, peer ${p.seconds.toFixed(2)} s, requirements given ${g.seconds.toFixed(2)} s\n`);
  }
  const oursS = median(oursMs) / 1000;
  const peerMedian = median(peerS);
  console.log(`\n${runHeader('bench:peers:loop')}; ${ROWS.toLocaleString('en')} rows per run, ${RUNS} runs after a warm-up; MLflow tracking ${TRACKING_URI.split(':')[0]}`);
  console.log(formatTable(rows));
  const sum = (f: (s: HistoryShare) => number) => shares.reduce((a, s) => a + f(s), 0) / shares.length;
  // As in the table: our wall time less the activities' (union), per run, averaged.
  const temporalShare = shares.reduce((a, s, i) => a + (oursMs[i]! - s.activityMs) / oursMs[i]!, 0) / shares.length;
  const bench = `ingest → train → evaluate → promote, ${ROWS.toLocaleString('en')} rows`;
  recordHeadline(
    [
      ['pandas + sklearn + MLflow (defaults)', peerMedian],
      ['the same, pip requirements given', median(givenS)],
    ].map(([peer, s]) => ({
      bench,
      what: `Temporal ≈ ${(temporalShare * 100).toFixed(0)} % of our wall time`,
      ours: seconds(oursS),
      peer: `${peer as string} ${seconds(s as number)}`,
      vs: `peer ÷ ours ${((s as number) / oursS).toFixed(2)}`,
      target: 'ahead (> 1)',
      met: (s as number) / oursS > 1,
    })),
  );
  console.log(
    `\nMedian: ours ${oursS.toFixed(2)} s; peer (MLflow defaults) ${peerMedian.toFixed(2)} s, peer ÷ ours ${(peerMedian / oursS).toFixed(2)}; ` +
      `peer with requirements given ${median(givenS).toFixed(2)} s, peer ÷ ours ${(median(givenS) / oursS).toFixed(2)} (>1: ahead).` +
      `\nFrom the histories (mean per run): ${sum((s) => s.workflows).toFixed(0)} workflows, ${sum((s) => s.activities).toFixed(0)} activities; ` +
      `activities ran ${(sum((s) => s.activityMs) / 1000).toFixed(2)} s (union), waited ${(sum((s) => s.activityWaitMs) / 1000).toFixed(2)} s scheduled → started (sum); ` +
      `workflow tasks ${(sum((s) => s.workflowTaskMs) / 1000).toFixed(2)} s scheduled → completed (sum); the pipeline's history spans ${(sum((s) => s.serverWallMs) / 1000).toFixed(2)} s.`,
  );
}

main()
  .catch((err: unknown) => {
    console.error(`bench:peers:loop failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  })
  .finally(stopAll);
