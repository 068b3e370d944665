/**
 * `npm run bench:load [-- --models 50] [--scoring-runs 200] [--rows 4000] [--max-activities N]`
 *
 * Many workflows at once on one worker, with the worker's default options (createWorker), against
 * an in-memory Temporal dev server this bench starts and stops itself:
 *
 *   1. `--models` pipelines at once: per model its own generated CSV (`--rows` rows) and one
 *      trainAndPromote (ingest → train → shadow evaluation → promotion, automatic policy); every
 *      tenth model is a 20-tree GBDT, the rest logistic regressions. Checked afterwards: every
 *      model's registry holds exactly one version and it is production.
 *   2. `--scoring-runs` scoring runs at once over the promoted models (run j scores model
 *      j mod N's own unlabeled dataset of `--rows` rows). Checked afterwards: every run's prediction
 *      log holds exactly the dataset's rows, each row once.
 *
 * Latency of a workflow = from the start call to its result, as a client sees it. The reference, in
 * the same run (the machine is shared and has 2 cores, so absolute times move): the same kind of
 * work one workflow at a time — 10 pipelines with the same trainer mix, 20 scoring runs — and a
 * floor for Temporal alone (a workflow with one activity that touches no data). From the workflow
 * histories, each activity's wait for a slot (scheduled → started) and run time (started →
 * closed), at once vs one at a time, say where the time goes; the same minimal workflow started
 * `--scoring-runs` times at once shows what Temporal alone (this dev server, this worker) sustains.
 *
 * `--max-activities N` sets the worker's concurrent activity slots (MLOPS_MAX_CONCURRENT_ACTIVITIES;
 * default 4 per core, the SDK's own default is 100).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Connection, type Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { DefaultLogger, type LogEntry, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { startPipeline } from '../src/client/promote';
import { ingest } from '../src/client/ingest';
import { startScoring } from '../src/client/score';
import { registryState } from '../src/client/train';
import { describeError } from '../src/cli/errors';
import { formatTable } from '../src/cli/output';
import { loadConfig, type MlopsConfig } from '../src/config';
import type { ContractInput } from '../src/contract/schema';
import { openDuckDb, queryRows } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { clientOf } from '../src/temporal/connection';
import { type DevServer, startDevServer } from '../src/temporal/dev-server';
import type { TrainRequestInput } from '../src/training/request';
import { createWorker } from '../src/worker';
import { CHURN_CONTRACT, churnSql } from './churn-data';
import { registryWorkflowId } from '../src/api/registry';
import { scoreWorkflowId } from '../src/api/score';

const OUT = path.join(__dirname, 'out', 'load');
const OUT_RESULTS = path.join(__dirname, 'out', 'load-results');
const FLOOR_RUNS = 20;

function option(name: string, fallback: number): number;
function option(name: string, fallback?: number): number | undefined;
function option(name: string, fallback?: number): number | undefined {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} needs a positive integer`);
  return value;
}

const MODELS = option('--models', 50);
const SCORING_RUNS = option('--scoring-runs', 200);
const ROWS = option('--rows', 4000);
const MAX_ACTIVITIES = option('--max-activities');
/** The reference: the same kind of work one at a time (fewer when the load itself is smaller). */
const REF_PIPELINES = Math.min(10, MODELS);
const REF_SCORING = Math.min(20, SCORING_RUNS);

const CONTRACT = CHURN_CONTRACT;
const LIVE_CONTRACT: ContractInput = { columns: CONTRACT.columns.filter((c) => c.name !== 'churned'), key: ['id'] };

/** Every tenth model a small GBDT: the same mix in the concurrent phase and in the reference. */
function trainerOf(i: number): TrainRequestInput['trainer'] {
  return i % 10 === 9 ? { kind: 'gbdt', params: { nEstimators: 20 } } : { kind: 'logistic', params: {} };
}

// ---------------------------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------------------------

interface Outcome<T> {
  ms: number;
  value?: T;
  error?: string;
}

async function timed<T>(work: () => Promise<T>): Promise<Outcome<T>> {
  const start = performance.now();
  try {
    const value = await work();
    return { ms: performance.now() - start, value };
  } catch (err) {
    return { ms: performance.now() - start, error: describeError(err) };
  }
}

/** Nearest-rank percentile. */
function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** CPU seconds (user + system) of another process, from /proc; undefined where there is none. */
function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

/** Busy CPU seconds of the whole machine (every process), from /proc/stat. */
function machineCpuSeconds(): number | undefined {
  try {
    const [, ...ticks] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    const n = ticks.map(Number);
    const total = n.reduce((a, b) => a + b, 0);
    return (total - n[3]! - n[4]!) / 100; // minus idle and iowait
  } catch {
    return undefined;
  }
}

function processPeakRssMb(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

interface PhaseResult {
  phase: string;
  workflows: number;
  ok: number;
  failed: number;
  wallS: number;
  perMin: number;
  p50S: number;
  p99S: number;
  maxS: number;
  rowsPerS?: number;
  cpuBench: number;
  cpuServer?: number;
  /** Every process on the machine (the tests of others included: the machine is shared). */
  cpuMachine?: number;
  /** The bench process's event loop (activities' JS, the SDK's bridge to core): how late timers fired. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  rssMb: number;
  failures: Map<string, number>;
}

interface PhaseSpec<T> {
  name: string;
  count: number;
  mode: 'at once' | 'one at a time';
  /** Starts workflow i and waits for its result. */
  work: (i: number) => Promise<T>;
  /** A wrong result, as a failure message. */
  check?: (value: T, i: number) => string | undefined;
  rows?: (value: T) => number;
}

let serverPid: number | undefined;

async function phase<T>(spec: PhaseSpec<T>): Promise<{ result: PhaseResult; outcomes: Outcome<T>[] }> {
  const { name, count, mode, work } = spec;
  const cpu0 = process.cpuUsage();
  const server0 = serverPid ? processCpuSeconds(serverPid) : undefined;
  const machine0 = machineCpuSeconds();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const start = performance.now();
  let done = 0;
  const ticker = setInterval(() => console.log(`    ${name}: ${done}/${count} done after ${((performance.now() - start) / 1000).toFixed(0)} s`), 15_000);
  const one = async (i: number) => {
    const outcome = await timed(() => work(i));
    done++;
    if (outcome.value !== undefined && !outcome.error) {
      const problem = spec.check?.(outcome.value, i);
      if (problem) outcome.error = problem;
    }
    return outcome;
  };
  let outcomes: Outcome<T>[];
  try {
    if (mode === 'at once') outcomes = await Promise.all(Array.from({ length: count }, (_, i) => one(i)));
    else {
      outcomes = [];
      for (let i = 0; i < count; i++) outcomes.push(await one(i));
    }
  } finally {
    clearInterval(ticker);
    loop.disable();
  }
  const wallS = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const server1 = serverPid ? processCpuSeconds(serverPid) : undefined;
  const machine1 = machineCpuSeconds();
  const okOutcomes = outcomes.filter((o) => !o.error);
  const latencies = okOutcomes.map((o) => o.ms / 1000).sort((a, b) => a - b);
  const failures = new Map<string, number>();
  for (const o of outcomes) if (o.error) failures.set(o.error, (failures.get(o.error) ?? 0) + 1);
  const rows = spec.rows ? okOutcomes.reduce((sum, o) => sum + spec.rows!(o.value as T), 0) : 0;
  return {
    outcomes,
    result: {
      phase: `${name} (${mode})`,
      workflows: count,
      ok: okOutcomes.length,
      failed: count - okOutcomes.length,
      wallS,
      perMin: (okOutcomes.length / wallS) * 60,
      p50S: percentile(latencies, 50),
      p99S: percentile(latencies, 99),
      maxS: latencies.at(-1) ?? NaN,
      ...(rows ? { rowsPerS: rows / wallS } : {}),
      cpuBench: (cpu.user + cpu.system) / 1e6 / wallS,
      ...(server0 !== undefined && server1 !== undefined ? { cpuServer: (server1 - server0) / wallS } : {}),
      ...(machine0 !== undefined && machine1 !== undefined ? { cpuMachine: (machine1 - machine0) / wallS } : {}),
      // The histogram counts from the timer's due time; subtract the resolution.
      loopDelayP99Ms: Math.max(0, loop.percentile(99) / 1e6 - 10),
      loopDelayMaxMs: Math.max(0, loop.max / 1e6 - 10),
      rssMb: peakRssMb(),
      failures,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Where the time goes: activity waits and run times from the histories
// ---------------------------------------------------------------------------------------------

interface Timings {
  /** activity type → scheduled→started waits and started→closed run times (ms), attempts. */
  activities: Map<string, { waits: number[]; runs: number[]; retried: number }>;
  /** Workflow task scheduled → started (ms): how long decisions waited for the worker. */
  workflowTaskWaits: number[];
  /** Why activities were retried (the failure of the attempt before the last), and workflow task timeouts/failures, by workflow type. */
  incidents: Map<string, number>;
  /** History events written for these workflows. */
  events: number;
}

async function historyTimings(client: Client, workflowIds: string[]): Promise<Timings> {
  const timings: Timings = { activities: new Map(), workflowTaskWaits: [], incidents: new Map(), events: 0 };
  const incident = (text: string) => timings.incidents.set(text, (timings.incidents.get(text) ?? 0) + 1);
  const ms = (ts: Parameters<typeof tsToMs>[0]) => tsToMs(ts);
  for (const workflowId of workflowIds) {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    timings.events += history.events?.length ?? 0;
    const workflowType = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '?';
    const scheduled = new Map<string, { type: string; at: number }>();
    const started = new Map<string, { at: number; attempt: number }>();
    const wftScheduled = new Map<string, number>();
    for (const e of history.events ?? []) {
      const id = String(e.eventId);
      if (e.activityTaskScheduledEventAttributes) scheduled.set(id, { type: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', at: ms(e.eventTime) });
      const st = e.activityTaskStartedEventAttributes;
      if (st) {
        started.set(String(st.scheduledEventId), { at: ms(e.eventTime), attempt: st.attempt ?? 1 });
        const type = scheduled.get(String(st.scheduledEventId))?.type ?? '?';
        if ((st.attempt ?? 1) > 1) incident(`${type} attempt ${st.attempt}, the one before: ${failureText(st.lastFailure)}`);
      }
      const closed = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
      if (closed) {
        const s = scheduled.get(String(closed.scheduledEventId));
        const t = started.get(String(closed.scheduledEventId));
        if (!s || !t) continue;
        const entry = timings.activities.get(s.type) ?? { waits: [], runs: [], retried: 0 };
        entry.waits.push(t.at - s.at);
        entry.runs.push(ms(e.eventTime) - t.at);
        if (t.attempt > 1) entry.retried++;
        timings.activities.set(s.type, entry);
      }
      if (e.activityTaskTimedOutEventAttributes)
        incident(
          `${scheduled.get(String(e.activityTaskTimedOutEventAttributes.scheduledEventId))?.type} timed out for good: ${failureText(e.activityTaskTimedOutEventAttributes.failure)}`,
        );
      if (e.workflowTaskScheduledEventAttributes) wftScheduled.set(id, ms(e.eventTime));
      const wst = e.workflowTaskStartedEventAttributes;
      if (wst) {
        const at = wftScheduled.get(String(wst.scheduledEventId));
        if (at !== undefined) timings.workflowTaskWaits.push(ms(e.eventTime) - at);
      }
      if (e.workflowTaskTimedOutEventAttributes) incident(`${workflowType}: workflow task timed out (${timeoutTypeName(e.workflowTaskTimedOutEventAttributes.timeoutType)})`);
      if (e.workflowTaskFailedEventAttributes) incident(`${workflowType}: workflow task failed (${failureText(e.workflowTaskFailedEventAttributes.failure)})`);
    }
  }
  return timings;
}

function failureText(failure: { message?: string | null; timeoutFailureInfo?: { timeoutType?: unknown } | null } | null | undefined): string {
  if (!failure) return 'no failure recorded';
  const timeout = failure.timeoutFailureInfo ? ` (${timeoutTypeName(failure.timeoutFailureInfo.timeoutType)})` : '';
  return `${(failure.message ?? '').slice(0, 160)}${timeout}`;
}

const TIMEOUT_TYPES = ['unspecified', 'start-to-close', 'schedule-to-start', 'schedule-to-close', 'heartbeat'];
function timeoutTypeName(t: unknown): string {
  return typeof t === 'number' ? (TIMEOUT_TYPES[t] ?? String(t)) : String(t);
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const sortedCopy = (xs: number[]) => [...xs].sort((a, b) => a - b);

function timingRows(concurrent: Timings, sequential: Timings) {
  const rows: Array<Record<string, string | number>> = [];
  for (const [type, c] of concurrent.activities) {
    const s = sequential.activities.get(type);
    rows.push({
      activity: type,
      n: c.runs.length,
      'wait mean s': round(mean(c.waits) / 1000, 3),
      'wait p99 s': round(percentile(sortedCopy(c.waits), 99) / 1000, 3),
      'run mean s': round(mean(c.runs) / 1000, 3),
      'run p99 s': round(percentile(sortedCopy(c.runs), 99) / 1000, 3),
      'run mean s, one at a time': s ? round(mean(s.runs) / 1000, 3) : '',
      'slow-down': s ? round(mean(c.runs) / mean(s.runs), 1) : '',
      retried: c.retried,
    });
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------------

/** A churn-like CSV: churned depends on x1, x2 (10% missing), x3 and color, with weights varying by seed. */
async function writeCsvs(files: Array<{ file: string; seed: number; firstId: number; labeled: boolean }>): Promise<void> {
  const db = await openDuckDb();
  const conn = await db.connect();
  try {
    for (const { file, seed, firstId, labeled } of files) {
      await conn.run(
        `COPY (${churnSql({ seed, firstId, rows: ROWS, labeled, w: 1 + (seed % 5) * 0.25 })})
         TO ${quoteString(file)} (HEADER)`,
      );
    }
  } finally {
    db.closeSync();
  }
}

/** Rows in a run's prediction log and how many distinct row numbers, read back from its Parquet parts. */
async function logCounts(parts: string[][]): Promise<Array<{ rows: number; distinct: number }>> {
  const db = await openDuckDb();
  const conn = await db.connect();
  try {
    const counts: Array<{ rows: number; distinct: number }> = [];
    for (const p of parts) {
      const [row] = await queryRows<{ rows: number; distinct: number }>(
        conn,
        `SELECT count(*) AS rows, count(DISTINCT row_number) AS distinct FROM read_parquet([${p.map(quoteString).join(', ')}])`,
      );
      counts.push(row!);
    }
    return counts;
  } finally {
    db.closeSync();
  }
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

interface Running {
  server?: DevServer;
  worker?: Worker;
  workerRun?: Promise<void>;
  connection?: Connection;
  workerConnection?: NativeConnection;
}
const running: Running = {};

/** Warnings and errors the worker logged, by message: retries and timeouts show up here first. */
const logged = new Map<string, number>();

async function main(): Promise<void> {
  const began = performance.now();
  fs.rmSync(OUT, { recursive: true, force: true });
  const inputs = path.join(OUT, 'inputs');
  fs.mkdirSync(inputs, { recursive: true });
  console.log(`bench:load — ${os.cpus().length} cores; ${MODELS} models, ${SCORING_RUNS} scoring runs, ${ROWS} rows per dataset; out ${OUT}`);

  Runtime.install({
    logger: new DefaultLogger('WARN', (entry: LogEntry) => {
      // Ids and numbers differ per message; the rest says what happened.
      const text = entry.message
        .replace(/^\[TMPRL\d+\]\s+\S+\s+/, '')
        .replace(/[0-9a-f-]{36}/g, '…')
        .slice(0, 160);
      const type = typeof entry.meta?.workflow_type === 'string' ? ` (${entry.meta.workflow_type})` : '';
      const key = `${entry.level}: ${text}${type}`;
      logged.set(key, (logged.get(key) ?? 0) + 1);
    }),
    // Core's own warnings (e.g. slow workflow tasks) go through the same logger, to be counted.
    telemetryOptions: { logging: { filter: { core: 'WARN', other: 'WARN' }, forward: {} } },
  });
  running.server = await startDevServer({ headless: true, logFile: path.join(OUT, 'temporal.log') });
  serverPid = running.server.pid;
  const config: MlopsConfig = loadConfig({ TEMPORAL_ADDRESS: running.server.address, MLOPS_DATA_DIR: path.join(OUT, 'store'), MLOPS_TASK_QUEUE: 'bench-load' });
  running.workerConnection = await NativeConnection.connect({ address: config.temporalAddress });
  running.connection = await Connection.connect({ address: config.temporalAddress });
  const client = clientOf(running.connection, config);
  // --max-activities overrides MLOPS_MAX_CONCURRENT_ACTIVITIES (default 4 per core).
  running.worker = await createWorker({ config: MAX_ACTIVITIES ? { ...config, maxConcurrentActivities: MAX_ACTIVITIES } : config, connection: running.workerConnection, client });
  running.workerRun = running.worker.run();
  const workerOptions = MAX_ACTIVITIES ? `maxConcurrentActivityTaskExecutions ${MAX_ACTIVITIES}, the rest default` : 'default options';
  console.log(`  dev server pid ${serverPid} at ${config.temporalAddress}; worker polling "${config.taskQueue}" (${workerOptions})`);

  // Inputs: a labeled CSV per model (and per reference model), an unlabeled one to score per model.
  const names = {
    model: (i: number) => `load-${String(i).padStart(3, '0')}`,
    ref: (i: number) => `ref-${String(i).padStart(3, '0')}`,
    live: (i: number) => `live-${String(i).padStart(3, '0')}`,
  };
  const csv = (name: string) => path.join(inputs, `${name}.csv`);
  const t0 = performance.now();
  await writeCsvs([
    { file: csv('warmup'), seed: 999, firstId: 0, labeled: true },
    ...Array.from({ length: MODELS }, (_, i) => ({ file: csv(names.model(i)), seed: i, firstId: 0, labeled: true })),
    ...Array.from({ length: REF_PIPELINES }, (_, i) => ({ file: csv(names.ref(i)), seed: 500 + i, firstId: 0, labeled: true })),
    ...Array.from({ length: MODELS }, (_, i) => ({ file: csv(names.live(i)), seed: i, firstId: 1_000_000, labeled: false })),
  ]);
  console.log(`  wrote ${MODELS * 2 + REF_PIPELINES + 1} CSVs of ${ROWS} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const gates = { thresholds: { rocAuc: { min: 0.6 } } };
  const pipeline = async (model: string, i: number) => {
    const handle = await startPipeline(client, config, {
      ingest: { dataset: model, source: csv(model), contract: CONTRACT },
      train: { model, dataset: model, trainer: trainerOf(i) },
      promote: { gates, by: 'bench-load' },
    });
    return { id: handle.workflowId, result: await handle.result() };
  };
  type PipelineRun = Awaited<ReturnType<typeof pipeline>>;
  const promoted = (run: PipelineRun) =>
    run.result.promotion.phase === 'promoted' ? undefined : `not promoted: ${run.result.promotion.decision?.reason ?? run.result.promotion.phase}`;
  const pipelineIds = (run: PipelineRun) => [
    run.id,
    `${run.id}/ingest`,
    `${run.id}/train`,
    `promote:${run.result.promotion.model}:${run.result.promotion.candidate}`,
    registryWorkflowId(run.result.promotion.model),
  ];

  // Warm-up, not measured: the first fit thread, ONNX sessions, DuckDB and workflow caches.
  console.log('\n▶ warm-up: one pipeline and one scoring run (not measured)');
  const warm = await pipeline('warmup', 0);
  if (warm.result.promotion.phase !== 'promoted') throw new Error(`warm-up model not promoted: ${warm.result.promotion.decision?.reason}`);
  const warmScore = await (await startScoring(client, config, { model: 'warmup', dataset: 'warmup', runId: 'warmup', maxFlaggedShare: 1 })).result();
  if (!warmScore.run) throw new Error('warm-up scoring returned no run');

  const results: PhaseResult[] = [];
  const report = (r: PhaseResult) => {
    results.push(r);
    console.log(`  ${r.phase}: ${r.ok}/${r.workflows} ok in ${r.wallS.toFixed(1)} s, p50 ${r.p50S.toFixed(2)} s, p99 ${r.p99S.toFixed(2)} s`);
    for (const [message, n] of r.failures) console.log(`    FAILED ×${n}: ${message}`);
  };

  // The floor: scoreBatch of a model without a registry — one workflow, one activity (a query that
  // finds no registry), refused. Temporal's own cost per workflow, with no data work at all.
  const floorWork = (prefix: string) => async (i: number) => {
    const handle = await startScoring(client, config, { model: 'no-such-model', dataset: 'warmup', runId: `${prefix}-${i}` });
    const refused = await handle.result().then(
      () => undefined,
      (err: unknown) => describeError(err),
    );
    if (!refused?.includes('has no registry')) throw new Error(`expected a refusal for a model without registry, got: ${refused ?? 'success'}`);
    return { workflowId: handle.workflowId };
  };
  console.log(`\n▶ floor: ${FLOOR_RUNS} minimal workflows one at a time, then ${SCORING_RUNS} at once (1 workflow + 1 activity, no data)`);
  const floor = await phase({ name: 'floor', count: FLOOR_RUNS, mode: 'one at a time', work: floorWork('floor') });
  report({ ...floor.result, phase: 'floor: 1 workflow + 1 activity (one at a time)' });
  const floorAtOnce = await phase({ name: 'floor', count: SCORING_RUNS, mode: 'at once', work: floorWork('floor-at-once') });
  report({ ...floorAtOnce.result, phase: 'floor: 1 workflow + 1 activity (at once)' });
  // The floor's refusals are logged as failed activities and workflows by design (forwarded logs
  // arrive up to 100 ms late); count from here on.
  await new Promise((r) => setTimeout(r, 500));
  logged.clear();

  console.log(`\n▶ reference: ${REF_PIPELINES} pipelines one at a time`);
  const refPipelines = await phase({ name: 'pipelines', count: REF_PIPELINES, mode: 'one at a time', work: (i) => pipeline(names.ref(i), i), check: promoted, rows: () => ROWS });
  report(refPipelines.result);

  console.log(`\n▶ phase 1: ${MODELS} pipelines at once`);
  const pipelines = await phase({ name: 'pipelines', count: MODELS, mode: 'at once', work: (i) => pipeline(names.model(i), i), check: promoted, rows: () => ROWS });
  report(pipelines.result);

  // Exactly one version per model, and it is production.
  const registryProblems: string[] = [];
  for (let i = 0; i < MODELS; i++) {
    const model = names.model(i);
    const state = await registryState(client, model).catch((err: Error) => err);
    if (state instanceof Error) {
      registryProblems.push(`${model}: ${describeError(state)}`);
      continue;
    }
    const trained = pipelines.outcomes[i]?.value?.result.trained.summary.version;
    if (state.versions.length !== 1) registryProblems.push(`${model}: ${state.versions.length} versions`);
    if (!state.aliases.production || state.aliases.production !== trained)
      registryProblems.push(`${model}: production ${state.aliases.production ?? 'unset'}, trained ${trained ?? 'none'}`);
  }
  console.log(`  registries: ${MODELS - new Set(registryProblems.map((p) => p.split(':')[0])).size}/${MODELS} with exactly one version, production set to it`);
  for (const p of registryProblems.slice(0, 10)) console.log(`    PROBLEM ${p}`);

  // Phase 2 needs data to score: each model's live data, ingested at once (measured too).
  console.log(`\n▶ phase 2 setup: ${MODELS} ingests at once (the data to score)`);
  const live = await phase({
    name: 'ingests',
    count: MODELS,
    mode: 'at once',
    work: (i) => ingest(client, config, { dataset: names.live(i), source: csv(names.live(i)), contract: LIVE_CONTRACT }),
    check: (ref) => (ref.rows.accepted === ROWS ? undefined : `accepted ${ref.rows.accepted} of ${ROWS} rows`),
    rows: (ref) => ref.rows.accepted,
  });
  report(live.result);
  const servedModels = Array.from({ length: MODELS }, (_, i) => i).filter((i) => !pipelines.outcomes[i]?.error && !live.outcomes[i]?.error);
  if (!servedModels.length) throw new Error('no model is promoted with live data to score; stopping');

  // A run with too many flagged rows would wait days for an acknowledgement: flags are counted, never waited on.
  const score = (prefix: string) => async (j: number) => {
    const m = servedModels[j % servedModels.length]!;
    const handle = await startScoring(client, config, {
      model: names.model(m),
      dataset: names.live(m),
      datasetVersion: live.outcomes[m]!.value!.version,
      runId: `${prefix}-${j}`,
      maxFlaggedShare: 1,
    });
    return handle.result();
  };
  type ScoreResult = Awaited<ReturnType<ReturnType<typeof score>>>;
  const scored = (s: ScoreResult) => (s.phase === 'done' && s.run?.rows === ROWS ? undefined : `phase ${s.phase}, ${s.run?.rows ?? 'no'} rows scored of ${ROWS}`);
  const scoredRows = (s: ScoreResult) => s.run?.rows ?? 0;

  console.log(`\n▶ reference: ${REF_SCORING} scoring runs one at a time`);
  const refScoring = await phase({ name: 'scoring runs', count: REF_SCORING, mode: 'one at a time', work: score('ref'), check: scored, rows: scoredRows });
  report(refScoring.result);

  console.log(`\n▶ phase 2: ${SCORING_RUNS} scoring runs at once`);
  const scoring = await phase({ name: 'scoring runs', count: SCORING_RUNS, mode: 'at once', work: score('run'), check: scored, rows: scoredRows });
  report(scoring.result);

  // Every run's prediction log, read back: all rows, each once.
  const finished = scoring.outcomes.filter((o) => o.value?.run);
  const counts = await logCounts(finished.map((o) => o.value!.run!.parts));
  const badLogs = counts.filter((c) => c.rows !== ROWS || c.distinct !== ROWS).length + (SCORING_RUNS - finished.length);
  const flagged = finished.reduce((sum, o) => sum + o.value!.run!.outOfRange + o.value!.run!.notANumber, 0);
  console.log(`  prediction logs: ${SCORING_RUNS - badLogs}/${SCORING_RUNS} hold exactly ${ROWS} rows, each once; ${flagged} rows flagged out of range in all`);

  // Where the time goes, from the histories.
  const pipelineHistory = (outcomes: Outcome<PipelineRun>[]) =>
    historyTimings(
      client,
      outcomes.flatMap((o) => (o.value ? pipelineIds(o.value) : [])),
    );
  const scoreHistory = (outcomes: Outcome<ScoreResult>[]) =>
    historyTimings(
      client,
      outcomes.flatMap((o) => (o.value ? [scoreWorkflowId(o.value.model, o.value.runId)] : [])),
    );
  const pAt = await pipelineHistory(pipelines.outcomes);
  const pSeq = await pipelineHistory(refPipelines.outcomes);
  const sAt = await scoreHistory(scoring.outcomes);
  const sSeq = await scoreHistory(refScoring.outcomes);
  const fAt = await historyTimings(
    client,
    floorAtOnce.outcomes.flatMap((o) => (o.value ? [o.value.workflowId] : [])),
  );

  // ------------------------------------------------------------------------------------------
  console.log(`\n════ bench:load — ${MODELS} models, ${SCORING_RUNS} scoring runs, ${ROWS} rows each; worker: ${workerOptions} ════\n`);
  console.log(
    formatTable(
      results.map((r) => ({
        phase: r.phase,
        workflows: r.workflows,
        ok: r.ok,
        failed: r.failed,
        'wall s': round(r.wallS, 1),
        'per min': round(r.perMin, 1),
        'p50 s': round(r.p50S, 2),
        'p99 s': round(r.p99S, 2),
        'max s': round(r.maxS, 2),
        'rows/s': r.rowsPerS === undefined ? '' : Math.round(r.rowsPerS),
        'CPU bench': `${Math.round(r.cpuBench * 100)}%`,
        'CPU server': r.cpuServer === undefined ? '' : `${Math.round(r.cpuServer * 100)}%`,
        'CPU machine': r.cpuMachine === undefined ? '' : `${Math.round(r.cpuMachine * 100)}%`,
        'loop delay p99/max ms': `${Math.round(r.loopDelayP99Ms)}/${Math.round(r.loopDelayMaxMs)}`,
        'peak RSS MB': r.rssMb,
      })),
    ),
  );
  const speedUp = (seq: PhaseResult, at: PhaseResult) => ({
    'mean s, one at a time': round(seq.wallS / seq.ok, 2),
    'wall s at once': round(at.wallS, 1),
    'same work one at a time, s': round((seq.wallS / seq.ok) * at.ok, 1),
    'speed-up': round(((seq.wallS / seq.ok) * at.ok) / at.wallS, 2),
    'p50 latency at once / one at a time': round(at.p50S / seq.p50S, 1),
  });
  console.log(
    `\n${formatTable([
      { work: `${MODELS} pipelines`, ...speedUp(refPipelines.result, pipelines.result) },
      { work: `${SCORING_RUNS} scoring runs`, ...speedUp(refScoring.result, scoring.result) },
      { work: `${SCORING_RUNS} floor workflows`, ...speedUp(floor.result, floorAtOnce.result) },
    ])}`,
  );
  const floorS = floor.result.p50S;
  console.log(
    `\nTemporal floor, one at a time: ${round(floorS * 1000, 0)} ms (p50) — ` +
      `${round((floorS / refPipelines.result.p50S) * 100, 1)}% of a pipeline (5 workflows, 9 activities), ` +
      `${round((floorS / refScoring.result.p50S) * 100, 1)}% of a scoring run (1 workflow, 3 activities)`,
  );
  const rate = (t: Timings, r: PhaseResult) => `${t.events} history events, ${Math.round(t.events / r.wallS)}/s`;
  const wftWaits = (at: Timings, seq: Timings) => {
    const w = sortedCopy(at.workflowTaskWaits);
    return `workflow tasks waited ${round(mean(w), 0)} ms on average (p99 ${round(percentile(w, 99), 0)} ms) to be picked up; one at a time ${round(mean(seq.workflowTaskWaits), 0)} ms`;
  };
  console.log(`\nWhere the time goes: ${MODELS} pipelines at once — ${rate(pAt, pipelines.result)}; ${wftWaits(pAt, pSeq)}\n${formatTable(timingRows(pAt, pSeq))}`);
  console.log(`\nWhere the time goes: ${SCORING_RUNS} scoring runs at once — ${rate(sAt, scoring.result)}; ${wftWaits(sAt, sSeq)}\n${formatTable(timingRows(sAt, sSeq))}`);
  const fw = sortedCopy(fAt.workflowTaskWaits);
  console.log(`\nThe floor at once — ${rate(fAt, floorAtOnce.result)}; workflow tasks waited ${round(mean(fw), 0)} ms on average (p99 ${round(percentile(fw, 99), 0)} ms)`);
  const incidents = [
    ...[...pAt.incidents].map(([what, n]) => ({ phase: 'pipelines at once', n, what })),
    ...[...pSeq.incidents].map(([what, n]) => ({ phase: 'pipelines one at a time', n, what })),
    ...[...sAt.incidents].map(([what, n]) => ({ phase: 'scoring at once', n, what })),
    ...[...sSeq.incidents].map(([what, n]) => ({ phase: 'scoring one at a time', n, what })),
    ...[...fAt.incidents].map(([what, n]) => ({ phase: 'floor at once', n, what })),
  ];
  console.log(`\nRetries and workflow task timeouts in the histories\n${formatTable(incidents)}`);
  console.log(
    `\nChecks: registries ${registryProblems.length ? `${registryProblems.length} PROBLEM(S)` : 'all one version = production'}; ` +
      `prediction logs ${badLogs ? `${badLogs} WRONG` : 'all complete, each row once'}`,
  );
  console.log(`Peak RSS: bench process (worker + client) ${peakRssMb()} MB; dev server ${processPeakRssMb(serverPid) ?? '?'} MB`);
  if (logged.size) {
    console.log('Worker log after the floor, WARN and above (count × message):');
    for (const [message, n] of [...logged].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${n} × ${message}`);
  } else console.log('Worker log after the floor: no warnings or errors');

  const latencies = (outcomes: Outcome<unknown>[]) => outcomes.map((o) => ({ s: round(o.ms / 1000, 3), ...(o.error ? { error: o.error } : {}) }));
  // Beside the run folder (which the next run deletes), one file per run.
  const resultsFile = path.join(OUT_RESULTS, `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}${MAX_ACTIVITIES ? `-max${MAX_ACTIVITIES}` : ''}.json`);
  fs.mkdirSync(OUT_RESULTS, { recursive: true });
  fs.writeFileSync(
    resultsFile,
    JSON.stringify(
      {
        options: { models: MODELS, scoringRuns: SCORING_RUNS, rows: ROWS, maxActivities: MAX_ACTIVITIES ?? null },
        phases: results.map(({ failures, ...r }) => ({ ...r, failures: Object.fromEntries(failures) })),
        latencies: {
          pipelines: latencies(pipelines.outcomes),
          refPipelines: latencies(refPipelines.outcomes),
          scoring: latencies(scoring.outcomes),
          refScoring: latencies(refScoring.outcomes),
        },
        incidents,
        logged: Object.fromEntries(logged),
      },
      null,
      2,
    ),
  );
  console.log(`Total ${((performance.now() - began) / 1000).toFixed(0)} s; results in ${path.relative(process.cwd(), resultsFile)}`);
  const allFailures = results.reduce((sum, r) => sum + r.failed, 0) + registryProblems.length + badLogs;
  if (allFailures) process.exitCode = 1;
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

async function stopAll(): Promise<void> {
  if (running.worker && running.workerRun) {
    try {
      running.worker.shutdown();
    } catch {
      // not running any more
    }
    await Promise.race([running.workerRun.catch(() => undefined), new Promise((r) => setTimeout(r, 30_000))]);
  }
  await running.connection?.close().catch(() => undefined);
  await running.workerConnection?.close().catch(() => undefined);
  await running.server?.stop();
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the dev server`);
    void (running.server?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

main()
  .catch((err: unknown) => {
    console.error(`bench:load failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAll();
  });
