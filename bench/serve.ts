/**
 * `npm run bench:serve [-- --seconds 10] [--concurrency 16] [--sizes 1,64] [--no-log] [--profile] [--only <server>] [--baseline <checkout>]`
 *
 * Online predictions over HTTP on loopback: `mlops serve` (the command users run, in its own
 * process, with its prediction log and range checks on) answering single-row and 64-row requests
 * from a closed-loop load generator (another process, keep-alive connections, `--concurrency`
 * requests in flight). In the same run, on the same ONNX file and the same rows:
 *   (a) a bare ONNX Runtime loop: tensors built before the clock starts, only `session.run` timed,
 *       fetching the same outputs the server fetches (probabilities and contributions), one call
 *       after another, with the server's session options (SERVING_SESSION_OPTIONS);
 *   (b) the server a Python user would write: FastAPI + uvicorn + onnxruntime
 *       (bench/peers/serve_peer.py: pydantic rows, the same response fields), driven by the same
 *       load generator.
 * Targets (issue 16): our throughput ≥ 0.5 of the bare loop at 64-row requests, ahead of FastAPI at
 * both request sizes; p50/p99 latency reported under that load.
 *
 * The model: a 100-tree GBDT over 20 numeric features, trained and promoted through the pipeline
 * on an in-memory Temporal dev server this bench starts and stops itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import * as ort from 'onnxruntime-node';
import { ensurePeersPython } from '../scripts/python-env';
import { startPipeline } from '../src/client/promote';
import { formatTable } from '../src/cli/output';
import { recordHeadline } from './peers-common';
import { SERVING_SESSION_OPTIONS } from '../src/serving/model';
import type { PredictorStatus } from '../src/serving/predictor';
import { loadConfig } from '../src/config';
import type { ContractInput } from '../src/contract/schema';
import type { ModelCard } from '../src/models/card';
import { openDuckDb } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { clientOf } from '../src/temporal/connection';
import { type DevServer, startDevServer } from '../src/temporal/dev-server';
import { createWorker } from '../src/worker';

const OUT = path.join(__dirname, 'out', 'serve');
const MODEL = 'serve-bench';
const FEATURES = Array.from({ length: 20 }, (_, j) => `f${j}`);
const TRAIN_ROWS = 20_000;
const POOL_ROWS = 4096;
/** `--sizes 64` (comma-separated): rows per request to time; default 1 and 64. */
const SIZES = process.argv.includes('--sizes') ? process.argv[process.argv.indexOf('--sizes') + 1]!.split(',').map(Number) : [1, 64];

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const SECONDS = option('--seconds', 10);
const WARMUP_SECONDS = 2;
const CONCURRENCY = option('--concurrency', 16);
const LOG = !process.argv.includes('--no-log');
/** `--profile`: the server runs under `node --cpu-prof`; its .cpuprofile lands in bench/out/serve/profile. */
const PROFILE = process.argv.includes('--profile');
/**
 * `--baseline <dir>`: also serve with another checkout's `mlops serve` (e.g. a worktree of main with
 * its node_modules), same store, same rows, same run: before and after a change side by side.
 */
/** `--only <name>`: time only that server (e.g. "mlops serve, v2 binary") beside the bare loop, for profiles. */
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const BASELINE = process.argv.includes('--baseline') ? path.resolve(process.argv[process.argv.indexOf('--baseline') + 1]!) : undefined;

// ---------------------------------------------------------------------------------------------
// The load generator (a child process, so that it does not share the server's event loop)
// ---------------------------------------------------------------------------------------------

/** A request body (base64, so binary ones travel in the spec file too) and its own headers. */
interface LoadBody {
  base64: string;
  headers: Record<string, string>;
}

interface LoadSpec {
  url: string;
  bodies: LoadBody[];
  rowsPerRequest: number;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
}

interface LoadReport {
  requests: number;
  errors: number;
  firstError?: string;
  seconds: number;
  latenciesMs: { p50: number; p90: number; p99: number; max: number };
  /** The load generator's own CPU over the whole run (warm-up included), in cores: what it took from the server. */
  loadCores: number;
}

/** CPU seconds (user + system) a process has used, from /proc (Linux). */
function cpuSecondsOf(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : NaN;
}

async function loadChild(spec: LoadSpec): Promise<LoadReport> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency });
  const url = new URL(spec.url);
  const bodies = spec.bodies.map((b) => ({ data: Buffer.from(b.base64, 'base64'), headers: b.headers }));
  const post = (body: { data: Buffer; headers: Record<string, string> }) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { ...body.headers, 'content-length': body.data.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body.data);
    });

  const started = performance.now();
  const measureFrom = started + spec.warmupMs;
  const end = measureFrom + spec.durationMs;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  const loop = async () => {
    while (performance.now() < end) {
      const body = bodies[next++ % bodies.length]!;
      const t0 = performance.now();
      let failure: string | undefined;
      try {
        const res = await post(body);
        if (res.status !== 200) failure = `HTTP ${res.status}: ${res.text.slice(0, 200)}`;
      } catch (err) {
        failure = (err as Error).message;
      }
      const t1 = performance.now();
      if (t0 < measureFrom) continue;
      if (failure) {
        errors++;
        firstError ??= failure;
      } else latencies.push(t1 - t0);
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, loop));
  agent.destroy();
  const cpu = process.cpuUsage();
  const sorted = Float64Array.from(latencies).sort();
  return {
    requests: latencies.length,
    errors,
    ...(firstError ? { firstError } : {}),
    seconds: spec.durationMs / 1000,
    loadCores: (cpu.user + cpu.system) / 1e6 / ((performance.now() - started) / 1000),
    latenciesMs: { p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? NaN },
  };
}

function runLoad(spec: LoadSpec): Promise<LoadReport> {
  const specFile = path.join(OUT, `load-${process.pid}-${Date.now()}.json`);
  fs.writeFileSync(specFile, JSON.stringify(spec));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', __filename, '--load-child', specFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      fs.rmSync(specFile, { force: true });
      if (code !== 0) return reject(new Error(`load generator exited with ${code}`));
      resolve(JSON.parse(out) as LoadReport);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Setup: data, a promoted model, the servers
// ---------------------------------------------------------------------------------------------

const CONTRACT: ContractInput = {
  columns: [{ name: 'id', type: 'integer' }, ...FEATURES.map((name) => ({ name, type: 'double' as const })), { name: 'y', type: 'boolean' }],
  key: ['id'],
  label: 'y',
};

/** Rows of the same distribution as the training data: f_j uniform in [-2, 2), y from a logistic of a few. */
async function writeData(trainCsv: string): Promise<Record<string, number>[]> {
  const db = await openDuckDb();
  const conn = await db.connect();
  const features = FEATURES.map((f, j) => `((hash(i, ${j}) % 100000) / 100000.0) * 4 - 2 AS ${f}`).join(', ');
  const select = (from: number, rows: number) => `SELECT i AS id, ${features} FROM range(${from}, ${from + rows}) t(i)`;
  try {
    await conn.run(
      `COPY (SELECT *, (hash(id, 99) % 1000) / 1000.0 < 1 / (1 + exp(-(1.5 * f0 - f1 + 0.5 * f2 * f3))) AS y FROM (${select(0, TRAIN_ROWS)}))
       TO ${quoteString(trainCsv)} (HEADER)`,
    );
    const reader = await conn.runAndReadAll(select(1_000_000, POOL_ROWS));
    return reader.getRowObjectsJson().map((r) => Object.fromEntries(FEATURES.map((f) => [f, Number(r[f])])));
  } finally {
    db.closeSync();
  }
}

/** Spawns a server process and resolves once `ready` answers 200 (or rejects when it exits). */
async function startProcess(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, ready: string): Promise<ChildProcess> {
  const logFile = path.join(OUT, `${name}.log`);
  const log = fs.openSync(logFile, 'w');
  const child = spawn(cmd, args, { env, stdio: ['ignore', log, log] });
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
    if (exited !== undefined) throw new Error(`${name} exited with ${exited}; see ${logFile}`);
    const ok = await fetch(ready).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return child;
    await new Promise((r) => setTimeout(r, 250));
  }
  child.kill('SIGKILL');
  throw new Error(`${name} did not become ready in 120 s; see ${logFile}`);
}

function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    // mlops serve writes what its prediction log holds before it exits.
    const timer = setTimeout(() => {
      console.log(`  pid ${child.pid} did not stop within 60 s of SIGTERM: killed`);
      child.kill('SIGKILL');
    }, 60_000);
    child.once('exit', (code, signal) => {
      if (code !== 0) console.log(`  pid ${child.pid} exited with ${code ?? signal}`);
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

// ---------------------------------------------------------------------------------------------
// The bare ONNX Runtime loop
// ---------------------------------------------------------------------------------------------

async function bareLoop(card: ModelCard, rows: Record<string, number>[], size: number, seconds: number): Promise<{ rowsPerSecond: number; p50: number; p99: number }> {
  // The server's own session options (one thread, no spinning), so both run the same ORT.
  const session = await ort.InferenceSession.create(card.onnx.uri, SERVING_SESSION_OPTIONS);
  const fetches = card.explanation ? ['probabilities', card.explanation.output] : ['probabilities'];
  const batches: Record<string, ort.Tensor>[] = [];
  for (let start = 0; start + size <= rows.length && batches.length < 256; start += size) {
    const slice = rows.slice(start, start + size);
    batches.push(
      Object.fromEntries(
        card.onnx.inputs.map((input) => [
          input.name,
          new ort.Tensor(
            'float32',
            Float32Array.from(slice, (r) => r[input.name]!),
            [size, 1],
          ),
        ]),
      ),
    );
  }
  for (let i = 0; i < 200; i++) await session.run(batches[i % batches.length]!, fetches); // warm-up
  const latencies: number[] = [];
  const t0 = performance.now();
  let calls = 0;
  while (performance.now() - t0 < seconds * 1000) {
    const s = performance.now();
    await session.run(batches[calls++ % batches.length]!, fetches);
    latencies.push(performance.now() - s);
  }
  const elapsed = (performance.now() - t0) / 1000;
  await session.release();
  const sorted = Float64Array.from(latencies).sort();
  return { rowsPerSecond: (calls * size) / elapsed, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

// ---------------------------------------------------------------------------------------------
// Open Inference Protocol (v2) request bodies: what a Triton/KServe client sends
// ---------------------------------------------------------------------------------------------

/** The rows as one FP32 tensor per feature, in JSON. */
function v2Json(rows: Record<string, number>[]) {
  return { inputs: FEATURES.map((name) => ({ name, datatype: 'FP32', shape: [rows.length, 1], data: rows.map((r) => r[name]!) })) };
}

/** The binary tensor extension, inputs and outputs: raw float32 after a short JSON header. */
function v2Binary(rows: Record<string, number>[]): LoadBody {
  const tensors = FEATURES.map((name) => Buffer.from(Float32Array.from(rows, (r) => r[name]!).buffer));
  const header = Buffer.from(
    JSON.stringify({
      inputs: FEATURES.map((name, j) => ({ name, datatype: 'FP32', shape: [rows.length, 1], parameters: { binary_data_size: tensors[j]!.length } })),
      outputs: ['output', 'probabilities', 'flag', 'contributions'].map((name) => ({ name, parameters: { binary_data: true } })),
    }),
  );
  return {
    base64: Buffer.concat([header, ...tensors]).toString('base64'),
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
  };
}

/** The `output` tensor of a v2 answer, JSON or binary. */
async function v2Outputs(url: string, body: LoadBody): Promise<number[]> {
  const res = await fetch(url, { method: 'POST', headers: body.headers, body: Buffer.from(body.base64, 'base64') });
  const raw = Buffer.from(await res.arrayBuffer());
  const headerLength = Number(res.headers.get('inference-header-content-length') ?? raw.length);
  const head = JSON.parse(raw.subarray(0, headerLength).toString('utf8')) as { outputs: Array<{ name: string; data?: number[]; parameters?: { binary_data_size: number } }> };
  let at = headerLength;
  for (const o of head.outputs) {
    const size = o.parameters?.binary_data_size ?? 0;
    if (o.name === 'output') return o.data ?? Array.from(new Float32Array(new Uint8Array(raw.subarray(at, at + size)).buffer));
    at += size;
  }
  throw new Error(`no output tensor in ${url}'s answer`);
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });
  const python = ensurePeersPython();
  const trainCsv = path.join(OUT, 'train.csv');
  const pool = await writeData(trainCsv);
  const store = path.join(OUT, 'store');

  let temporal: DevServer | undefined;
  let ours: ChildProcess | undefined;
  let peer: ChildProcess | undefined;
  let baseline: ChildProcess | undefined;
  try {
    temporal = await startDevServer({ headless: true, logFile: path.join(OUT, 'temporal.log') });
    const config = loadConfig({ TEMPORAL_ADDRESS: temporal.address, MLOPS_DATA_DIR: store, MLOPS_TASK_QUEUE: 'bench-serve' });
    const workerConnection = await NativeConnection.connect({ address: config.temporalAddress });
    const connection = await Connection.connect({ address: config.temporalAddress });
    const client = clientOf(connection, config);
    const worker = await createWorker({ config, connection: workerConnection, client });
    const workerRun = worker.run();
    const t0 = performance.now();
    const pipeline = await startPipeline(client, config, {
      ingest: { dataset: MODEL, source: trainCsv, contract: CONTRACT },
      train: { model: MODEL, dataset: MODEL, trainer: { kind: 'gbdt', params: { nEstimators: 100 } } },
      promote: { by: 'bench-serve' },
    });
    const result = await pipeline.result();
    if (result.promotion.phase !== 'promoted') throw new Error(`the model was not promoted: ${result.promotion.decision?.reason ?? result.promotion.phase}`);
    const version = result.promotion.candidate;
    const card = JSON.parse(fs.readFileSync(path.join(store, 'models', MODEL, 'versions', version, 'card.json'), 'utf8')) as ModelCard;
    console.log(
      `bench:serve — ${MODEL}@${version} (${card.trainer.kind}, ${card.features.length} features, contributions: ${card.explanation ? 'yes' : 'no'}) trained and promoted in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    // The worker stays: the server follows the registry through a workflow query, which a worker answers.

    const oursPort = await freePort();
    const profileArgs = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${path.join(OUT, 'profile')}`] : [];
    const oursArgs = [...profileArgs, path.join(__dirname, '..', 'bin', 'mlops.cjs'), 'serve', MODEL, '--port', String(oursPort), ...(LOG ? [] : ['--no-log'])];
    ours = await startProcess(
      'mlops-serve',
      process.execPath,
      oursArgs,
      { ...process.env, TEMPORAL_ADDRESS: config.temporalAddress, MLOPS_DATA_DIR: store, MLOPS_TASK_QUEUE: config.taskQueue },
      `http://127.0.0.1:${oursPort}/readyz`,
    );
    const serveEnv = { ...process.env, TEMPORAL_ADDRESS: config.temporalAddress, MLOPS_DATA_DIR: store, MLOPS_TASK_QUEUE: config.taskQueue };
    const baselinePort = await freePort();
    if (BASELINE) {
      const args = [path.join(BASELINE, 'bin', 'mlops.cjs'), 'serve', MODEL, '--port', String(baselinePort), ...(LOG ? [] : ['--no-log'])];
      baseline = await startProcess('mlops-serve-baseline', process.execPath, args, serveEnv, `http://127.0.0.1:${baselinePort}/readyz`);
    }
    const peerPort = await freePort();
    const peerScript = path.join(__dirname, 'peers', 'serve_peer.py');
    const cardFile = path.join(store, 'models', MODEL, 'versions', version, 'card.json');
    peer = await startProcess('fastapi', python, [peerScript, '--card', cardFile, '--port', String(peerPort)], process.env, `http://127.0.0.1:${peerPort}/healthz`);

    const json = (text: string): LoadBody => ({ base64: Buffer.from(text).toString('base64'), headers: { 'content-type': 'application/json' } });
    const slices = (size: number) => {
      const out: Array<Record<string, number>[]> = [];
      for (let start = 0; start + size <= pool.length && out.length < 512; start += size) out.push(pool.slice(start, start + size));
      return out;
    };
    const rowBodies = (size: number) => slices(size).map((slice) => json(JSON.stringify(size === 1 ? slice[0] : slice)));
    const v2Servers = [
      {
        name: 'mlops serve, v2 JSON',
        url: `http://127.0.0.1:${oursPort}/v2/models/${MODEL}/infer`,
        bodies: (size: number) => slices(size).map((s) => json(JSON.stringify(v2Json(s)))),
        pid: () => ours?.pid,
      },
      { name: 'mlops serve, v2 binary', url: `http://127.0.0.1:${oursPort}/v2/models/${MODEL}/infer`, bodies: (size: number) => slices(size).map(v2Binary), pid: () => ours?.pid },
    ];
    const servers = [
      { name: 'mlops serve', url: `http://127.0.0.1:${oursPort}/v1/models/${MODEL}/predict`, bodies: rowBodies, pid: () => ours?.pid },
      ...v2Servers,
      { name: 'FastAPI + uvicorn', url: `http://127.0.0.1:${peerPort}/predict`, bodies: rowBodies, pid: () => peer?.pid },
      ...(BASELINE ? [{ name: 'mlops serve (baseline)', url: `http://127.0.0.1:${baselinePort}/v1/models/${MODEL}/predict`, bodies: rowBodies, pid: () => baseline?.pid }] : []),
    ];
    // All answer the same rows the same way before anything is timed.
    const sample = pool.slice(0, 8);
    const rowApis = servers.filter((s) => s.bodies === rowBodies);
    const answers = await Promise.all(
      rowApis.map((s) =>
        fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(sample) }).then(
          (r) => r.json() as Promise<{ predictions: Array<{ output: number }> }>,
        ),
      ),
    );
    const outputsOf = answers.map((a) => a.predictions.map((p) => p.output));
    for (const v2 of v2Servers) outputsOf.push(await v2Outputs(v2.url, v2.bodies(sample.length)[0]!));
    const gap = Math.max(...outputsOf.slice(1).flatMap((other) => sample.map((_, i) => Math.abs(outputsOf[0]![i]! - other[i]!))));
    if (!(gap < 1e-5)) throw new Error(`the servers disagree on the same rows (largest output difference ${gap})`);

    const table: Record<string, string | number>[] = [];
    for (const size of SIZES) {
      const bare = await bareLoop(card, pool, size, SECONDS);
      table.push({
        'rows/request': size,
        what: 'bare ONNX Runtime loop',
        'rows/s': Math.round(bare.rowsPerSecond),
        'requests/s': Math.round(bare.rowsPerSecond / size),
        'p50 ms': bare.p50.toFixed(2),
        'p99 ms': bare.p99.toFixed(2),
        errors: '',
        'vs bare': 1,
      });
      for (const server of servers.filter((s) => !ONLY || s.name === ONLY)) {
        const cpuBefore = cpuSecondsOf(server.pid());
        const runStarted = performance.now();
        const report = await runLoad({
          url: server.url,
          bodies: server.bodies(size),
          rowsPerRequest: size,
          concurrency: CONCURRENCY,
          warmupMs: WARMUP_SECONDS * 1000,
          durationMs: SECONDS * 1000,
        });
        const serverCores = (cpuSecondsOf(server.pid()) - cpuBefore) / ((performance.now() - runStarted) / 1000);
        if (report.errors) console.log(`  ${server.name}, ${size} rows: ${report.errors} failed requests, first: ${report.firstError}`);
        if (server.name.startsWith('mlops serve') && LOG) {
          // Whether the log keeps up: rows still waiting (or dropped) when the load stops.
          const status = (await fetch(new URL('/readyz', server.url)).then((r) => r.json())) as PredictorStatus;
          const { written, dropped, buffered } = status.log ?? {};
          console.log(`  ${server.name} after ${size}-row requests, prediction log rows: ${JSON.stringify({ written, dropped, buffered })}`);
        }
        const rowsPerSecond = (report.requests * size) / report.seconds;
        table.push({
          'rows/request': size,
          what: server.name,
          'rows/s': Math.round(rowsPerSecond),
          'requests/s': Math.round(report.requests / report.seconds),
          'p50 ms': report.latenciesMs.p50.toFixed(2),
          'p99 ms': report.latenciesMs.p99.toFixed(2),
          errors: report.errors,
          'vs bare': Math.round((rowsPerSecond / bare.rowsPerSecond) * 100) / 100,
          'server cores': serverCores.toFixed(2),
          'load gen cores': report.loadCores.toFixed(2),
        });
      }
    }
    console.log(
      `\n${new Date().toISOString()}, load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' / ')} (1 / 5 / 15 min) on ${os.cpus().length} cores`,
    );
    console.log(
      `${CONCURRENCY} requests in flight, ${SECONDS} s per server and size after ${WARMUP_SECONDS} s of warm-up; mlops serve with its prediction log ${LOG ? 'on' : 'off'}:\n`,
    );
    console.log(formatTable(table));
    for (const size of SIZES) {
      const rows = table.filter((r) => r['rows/request'] === size);
      const rate = (name: string) => Number(rows.find((r) => r.what === name)?.['rows/s']);
      const theirs = rate('FastAPI + uvicorn');
      const before = rate('mlops serve (baseline)');
      const ours = ['mlops serve', ...v2Servers.map((v) => v.name)]
        .filter((name) => rows.some((r) => r.what === name))
        .map((name) => `${name}: / bare loop = ${rows.find((r) => r.what === name)!['vs bare']}, / FastAPI = ${(rate(name) / theirs).toFixed(2)}`);
      console.log(
        `${size} rows/request: ${ours.join('; ')}` +
          (before ? `; mlops serve / baseline = ${(rate('mlops serve') / before).toFixed(2)} (baseline / FastAPI = ${(before / theirs).toFixed(2)})` : ''),
      );
    }
    const rateOf = (size: number, name: string) => Number(table.find((r) => r['rows/request'] === size && r.what === name)?.['rows/s']);
    const perSecond = (v: number) => `${Math.round(v).toLocaleString('en')} rows/s`;
    const bare64 = rateOf(64, 'bare ONNX Runtime loop');
    recordHeadline(
      ONLY
        ? []
        : [
            ...['mlops serve, v2 binary', 'mlops serve'].map((name) => ({
              bench: 'online predictions, 64-row requests over HTTP',
              what: name === 'mlops serve' ? 'rows API (JSON objects)' : 'Open Inference Protocol, binary tensors',
              ours: perSecond(rateOf(64, name)),
              peer: `bare ONNX Runtime loop ${perSecond(bare64)}`,
              vs: `${(rateOf(64, name) / bare64).toFixed(2)} of bare`,
              target: '≥ 0.5 of bare',
              met: rateOf(64, name) / bare64 >= 0.5,
            })),
            ...SIZES.map((size) => {
              const ours = Math.max(rateOf(size, 'mlops serve'), rateOf(size, 'mlops serve, v2 binary'));
              const fastapi = rateOf(size, 'FastAPI + uvicorn');
              return {
                bench: `online predictions, ${size}-row requests over HTTP`,
                what: 'our best endpoint vs the server a Python user writes',
                ours: perSecond(ours),
                peer: `FastAPI + uvicorn + onnxruntime ${perSecond(fastapi)}`,
                vs: `ours ÷ peer ${(ours / fastapi).toFixed(2)}`,
                target: 'ahead (> 1)',
                met: ours / fastapi > 1,
              };
            }),
          ],
    );
    worker.shutdown();
    await workerRun;
    await workerConnection.close();
    await connection.close();
  } finally {
    await stopProcess(ours);
    await stopProcess(peer);
    await stopProcess(baseline);
    await temporal?.stop();
  }
}

const childSpec = process.argv.indexOf('--load-child');
if (childSpec >= 0) {
  loadChild(JSON.parse(fs.readFileSync(process.argv[childSpec + 1]!, 'utf8')) as LoadSpec)
    .then((report) => process.stdout.write(JSON.stringify(report)))
    .catch((err: Error) => {
      console.error(err.stack ?? err.message);
      process.exit(1);
    });
} else {
  main().catch((err: Error) => {
    console.error(`bench:serve failed: ${err.stack ?? err.message}`);
    process.exitCode = 1;
  });
}
