/**
 * `npm run bench:score:workers [-- --rows 1000000] [--parts 4] [--repeats 2] [--trainer gbdt|logistic]`
 *
 * A scoring run split into parts (scoreBatch with `splitRows`: one scoreDatasetPart activity per
 * row range, then finishScoreRun publishes one log), end to end through Temporal, with one and
 * with two worker processes polling the run's task queue. Against an in-memory dev server this
 * bench starts and stops itself, and worker processes it spawns (`src/worker.ts`, default options):
 *
 *   - setup worker (queue bench-setup): ingest, training, promotion, the model's registry;
 *   - one worker  (queue bench-one):   P1;
 *   - two workers (queue bench-two):   P2 and P3, sharing the queue as separate hosts would.
 *
 * Idle workers poll but do no work, so every process stays warm between rounds. Each round scores
 * the same dataset version three times, one at a time: the one-activity run (scoreDatasetVersion,
 * splitRows above the row count) on `one`, the split run on `one`, the split run on `two`. The
 * time is the client's, start call to result; the ratios compare runs of the same round. From the
 * split runs' histories: how long parts waited for a worker, how long they ran and on which worker,
 * and how long publishing took. Rounds: `--repeats` (default 2) after one warm-up round.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Connection, type Client, type WorkflowHandle } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { ingest } from '../src/client/ingest';
import { startPipeline } from '../src/client/promote';
import { startScoring } from '../src/client/score';
import { formatTable } from '../src/cli/output';
import { loadConfig, type MlopsConfig } from '../src/config';
import type { ContractInput } from '../src/contract/schema';
import type { ScoreStatus } from '../src/api/score';
import { openDuckDb } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { clientOf } from '../src/temporal/connection';
import { type DevServer, startDevServer, stopProcess } from '../src/temporal/dev-server';

const OUT = path.join(__dirname, 'out', 'score-workers');
const ROOT = path.join(__dirname, '..');

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}
const ROWS = Number(option('--rows', '1000000'));
const PARTS = Number(option('--parts', '4'));
const REPEATS = Number(option('--repeats', '2'));
const TRAINER = option('--trainer', 'gbdt');
const SPLIT_ROWS = Math.ceil(ROWS / PARTS);
const FEATURES = 12;
const NAMES = Array.from({ length: FEATURES }, (_, j) => `x${j}`);

const CONTRACT: ContractInput = {
  columns: [{ name: 'id', type: 'integer', nullable: false }, ...NAMES.map((name) => ({ name, type: 'double' as const })), { name: 'y', type: 'boolean', nullable: false }],
  key: ['id'],
  label: 'y',
};
const LIVE_CONTRACT: ContractInput = { columns: CONTRACT.columns.filter((c) => c.name !== 'y'), key: ['id'] };

async function writeCsv(file: string, rows: number, firstId: number, labeled: boolean): Promise<void> {
  const db = await openDuckDb();
  try {
    const conn = await db.connect();
    const xs = NAMES.map((n, j) => `((hash(i, ${j}) % 10000) / 10000.0) * 4 - 2 AS ${n}`).join(', ');
    const logit = NAMES.map((n, j) => `${((j % 5) - 2) * 0.7} * ${n}`).join(' + ');
    await conn.run(
      `COPY (SELECT id, ${NAMES.join(', ')}${labeled ? `, (hash(id, 99) % 1000000) / 1000000.0 < 1 / (1 + exp(-(${logit}))) AS y` : ''}
             FROM (SELECT i AS id, ${xs} FROM range(${firstId}, ${firstId + rows}) t(i)))
       TO ${quoteString(file)} (HEADER)`,
    );
  } finally {
    db.closeSync();
  }
}

interface WorkerProcess {
  name: string;
  child: ChildProcess;
  output: () => string;
}

function spawnWorker(name: string, config: MlopsConfig, taskQueue: string): WorkerProcess {
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', path.join(ROOT, 'src', 'worker.ts')], {
    cwd: ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS: config.temporalAddress, MLOPS_DATA_DIR: config.dataDir, MLOPS_TASK_QUEUE: taskQueue },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return { name, child, output: () => output };
}

/** Per activity of a run: type, worker process, queue wait (scheduled → started) and run time (started → closed). */
async function activitiesOf(handle: WorkflowHandle, names: Map<string, string>) {
  const events = (await handle.fetchHistory()).events ?? [];
  const at = new Map(events.map((e) => [String(e.eventId), tsToMs(e.eventTime!)]));
  const scheduled = new Map(
    events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!.activityType!.name!]),
  );
  const started = new Map(events.filter((e) => e.activityTaskStartedEventAttributes).map((e) => [String(e.eventId), e.activityTaskStartedEventAttributes!]));
  return events
    .filter((e) => e.activityTaskCompletedEventAttributes)
    .map((e) => {
      const done = e.activityTaskCompletedEventAttributes!;
      const start = started.get(String(done.startedEventId))!;
      const pid = (start.identity ?? '').split('@')[0]!;
      return {
        type: scheduled.get(String(done.scheduledEventId))!,
        worker: names.get(pid) ?? pid,
        waitS: (at.get(String(done.startedEventId))! - at.get(String(done.scheduledEventId))!) / 1000,
        runS: (tsToMs(e.eventTime!) - at.get(String(done.startedEventId))!) / 1000,
      };
    });
}

async function main(): Promise<void> {
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });
  console.log(`bench:score:workers — ${os.cpus().length} cores; ${ROWS.toLocaleString('en')} rows, ${PARTS} parts of ${SPLIT_ROWS.toLocaleString('en')}; ${TRAINER}; out ${OUT}`);
  const server: DevServer = await startDevServer({ headless: true, logFile: path.join(OUT, 'temporal.log') });
  const config = loadConfig({ TEMPORAL_ADDRESS: server.address, MLOPS_DATA_DIR: path.join(OUT, 'store'), MLOPS_TASK_QUEUE: 'bench-setup' });
  const workers = [
    spawnWorker('setup', config, 'bench-setup'),
    spawnWorker('P1', config, 'bench-one'),
    spawnWorker('P2', config, 'bench-two'),
    spawnWorker('P3', config, 'bench-two'),
  ];
  const names = new Map(workers.map((w) => [String(w.child.pid), w.name]));
  const connection = await Connection.connect({ address: config.temporalAddress });
  const client: Client = clientOf(connection, config);
  try {
    const train = path.join(OUT, 'train.csv');
    const live = path.join(OUT, 'live.csv');
    await writeCsv(train, 50_000, 0, true);
    await writeCsv(live, ROWS, 10_000_000, false);
    const trainer: { kind: 'gbdt' | 'logistic'; params: Record<string, number> } =
      TRAINER === 'gbdt' ? { kind: 'gbdt', params: { nEstimators: 100 } } : { kind: 'logistic', params: {} };
    const pipeline = await startPipeline(client, config, {
      ingest: { dataset: 'bench-train', source: train, contract: CONTRACT },
      train: { model: 'bench', dataset: 'bench-train', trainer },
      promote: { gates: { thresholds: { rocAuc: { min: 0.5 } } }, by: 'bench' },
    });
    const promoted = await pipeline.result();
    if (promoted.promotion.phase !== 'promoted') throw new Error(`model not promoted: ${promoted.promotion.phase}`);
    const version = await ingest(client, config, { dataset: 'bench-live', source: live, contract: LIVE_CONTRACT });
    console.log(`  model bench promoted; bench-live@${version.version.slice(0, 8)}: ${version.rows.accepted.toLocaleString('en')} rows`);

    let runNo = 0;
    const score = async (queue: 'bench-one' | 'bench-two', splitRows: number) => {
      const started = performance.now();
      const handle = await startScoring(client, { ...config, taskQueue: queue }, { model: 'bench', dataset: 'bench-live', runId: `run-${runNo++}`, splitRows, maxFlaggedShare: 1 });
      const status: ScoreStatus = await handle.result();
      const seconds = (performance.now() - started) / 1000;
      if (status.run?.rows !== ROWS) throw new Error(`run scored ${status.run?.rows} rows, not ${ROWS}`);
      return { seconds, activities: await activitiesOf(handle, names) };
    };
    type Round = { whole: number; splitOne: number; splitTwo: number; detail: Array<{ label: string; activities: Awaited<ReturnType<typeof activitiesOf>> }> };
    const rounds: Round[] = [];
    for (let r = 0; r <= REPEATS; r++) {
      const whole = await score('bench-one', 1_000_000_000);
      const splitOne = await score('bench-one', SPLIT_ROWS);
      const splitTwo = await score('bench-two', SPLIT_ROWS);
      const label = r === 0 ? 'warm-up' : `round ${r}`;
      console.log(
        `  ${label}: one activity ${whole.seconds.toFixed(2)} s; split, one worker ${splitOne.seconds.toFixed(2)} s; split, two workers ${splitTwo.seconds.toFixed(2)} s`,
      );
      if (r > 0)
        rounds.push({
          whole: whole.seconds,
          splitOne: splitOne.seconds,
          splitTwo: splitTwo.seconds,
          detail: [
            { label: `${label}, one worker`, activities: splitOne.activities },
            { label: `${label}, two workers`, activities: splitTwo.activities },
          ],
        });
    }

    const rate = (s: number) => `${Math.round(ROWS / s / 1000)}k`;
    // Throughput ratios: above 1 is faster.
    const table = rounds.map((x, i) => ({
      round: i + 1,
      'one activity': `${x.whole.toFixed(2)} s`,
      'split, 1 worker': `${x.splitOne.toFixed(2)} s`,
      'split, 2 workers': `${x.splitTwo.toFixed(2)} s`,
      'rows/s one act.': rate(x.whole),
      'rows/s 1 worker': rate(x.splitOne),
      'rows/s 2 workers': rate(x.splitTwo),
      'split ÷ one activity': (x.whole / x.splitOne).toFixed(2),
      '2 workers ÷ 1': (x.splitOne / x.splitTwo).toFixed(2),
    }));
    console.log(`\n${formatTable(table)}`);
    console.log('\nactivities of the split runs (wait: scheduled → started; run: started → completed):');
    for (const { label, activities } of rounds.flatMap((x) => x.detail)) {
      const parts = activities.filter((a) => a.type === 'scoreDatasetPart');
      const finish = activities.find((a) => a.type === 'finishScoreRun');
      const byWorker = [...new Set(parts.map((p) => p.worker))].map((w) => `${w}: ${parts.filter((p) => p.worker === w).length}`).join(', ');
      console.log(
        `  ${label}: parts run ${parts.map((p) => p.runS.toFixed(2)).join(' / ')} s (wait ${parts.map((p) => p.waitS.toFixed(2)).join(' / ')} s) on ${byWorker}; finish ${finish?.runS.toFixed(2)} s`,
      );
    }
  } finally {
    await connection.close().catch(() => undefined);
    for (const w of workers) if (w.child.pid !== undefined && w.child.exitCode === null) await stopProcess(w.child.pid);
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(`bench:score:workers failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
