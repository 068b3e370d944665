import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveTemporalCli } from './cli-binary';
import { ServerNotReady, waitUntilServing } from './readiness';
import { SEARCH_ATTRIBUTE_FLAGS } from './search-attributes';

/**
 * Runs the official Temporal dev server (`temporal server start-dev`) as a child process.
 * Used by `npm run temporal`, the demo and the test suite's global setup.
 */
export interface DevServerOptions {
  ip?: string;
  /** gRPC port; 0 picks a free one. */
  port?: number;
  /** Web UI port; 0 picks a free one. */
  uiPort?: number;
  /** No Web UI (tests). */
  headless?: boolean;
  /** SQLite file for persistence; omitted: in memory. */
  dbFile?: string;
  namespace?: string;
  /** Server output goes here; default: a temporary file, removed when the server stops. */
  logFile?: string;
  /** Codec server the Web UI uses to show encrypted payloads (`mlops codec-server`). */
  uiCodecEndpoint?: string;
  /** Keep running after this process exits (npm run temporal --detach). */
  detached?: boolean;
  /** How long the server may take to serve (default 60 s). */
  readyTimeoutMs?: number;
  /** Picks the ports not given above (default: freePort); tests use it to force a clash. */
  pickPort?: (ip: string) => Promise<number>;
}

export interface DevServer {
  pid: number;
  address: string;
  uiUrl?: string;
  logFile: string;
  stop(): Promise<void>;
}

/** A port that was free when asked; another process may still take it before we bind it. */
export async function freePort(ip = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, ip, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A port the caller asked for is taken; ports we picked ourselves are picked again instead. */
export class PortInUse extends Error {
  override name = 'PortInUse';
  constructor(
    readonly listener: string,
    readonly port: number,
  ) {
    super(`The Temporal dev server's ${listener} port ${port} is already in use by another process; stop that process or choose another port`);
  }
}

/** Free ports are picked, not reserved: a clash on one we picked is retried with new ones this often. */
const PORT_ATTEMPTS = 4;

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const cli = await resolveTemporalCli();
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(cli, options);
    } catch (err) {
      if (!(err instanceof PortClash)) throw err;
      if (err.requested || attempt >= PORT_ATTEMPTS) throw new PortInUse(err.listener, err.port);
      process.stderr.write(`Temporal dev server: ${err.listener} port ${err.port} was taken after we picked it; retrying with new ports\n`);
    }
  }
}

/** The server refused to start because one of its ports was taken (`requested`: the caller chose it). */
class PortClash extends Error {
  constructor(
    readonly listener: string,
    readonly port: number,
    readonly requested: boolean,
  ) {
    super(`${listener} port ${port} in use`);
  }
}

async function startOnce(cli: string, options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const pick = options.pickPort ?? freePort;
  const port = options.port || (await pick(ip));
  const uiPort = options.headless ? undefined : options.uiPort || (await pick(ip));
  const namespace = options.namespace ?? 'default';
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port), '--namespace', namespace];
  // Pin every listener: the defaults (port+1000 for HTTP, metrics) collide between parallel servers.
  args.push('--http-port', String(await pick(ip)), '--metrics-port', String(await pick(ip)));
  args.push('--log-level', 'warn', '--log-format', 'json');
  if (uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  if (uiPort !== undefined && options.uiCodecEndpoint) args.push('--ui-codec-endpoint', options.uiCodecEndpoint);
  if (options.dbFile) {
    fs.mkdirSync(path.dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
  }
  for (const flag of SEARCH_ATTRIBUTE_FLAGS) args.push('--search-attribute', flag);

  // Always to a file: a server that fails to start is explained by its own last lines.
  const ownLog = !options.logFile;
  const logFile = options.logFile ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-dev-')), 'server.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const logStart = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
  const logFd = fs.openSync(logFile, 'a');
  const child = spawn(cli, args, { stdio: ['ignore', logFd, logFd], detached: options.detached ?? false });
  fs.closeSync(logFd);
  if (child.pid === undefined) throw new Error(`Could not start ${cli}`);
  const pid = child.pid;
  let exited: string | undefined;
  child.on('exit', (code, signal) => {
    exited = `exit code ${code ?? signal}`;
  });
  if (options.detached) child.unref();

  const address = `${ip}:${port}`;
  const removeOwnLog = () => ownLog && fs.rmSync(path.dirname(logFile), { recursive: true, force: true });
  const stop = async () => {
    await stopProcess(pid);
    removeOwnLog();
  };
  try {
    await waitUntilServing(address, {
      namespace,
      searchAttribute: 'MlopsNeedsAttention',
      timeoutMs: options.readyTimeoutMs,
      exitedWith: () => exited,
      describeLog: () => describeLog(logFile, logStart, ownLog),
    });
  } catch (err) {
    const output = readFrom(logFile, logStart);
    await stopProcess(pid);
    removeOwnLog();
    const clash = /can't set (.+?) port (\d+):.*address already in use/.exec(output);
    if (clash && err instanceof ServerNotReady) {
      const clashed = Number(clash[2]);
      throw new PortClash(clash[1]!, clashed, clashed === options.port || clashed === options.uiPort);
    }
    throw err;
  }
  return { pid, address, uiUrl: uiPort ? `http://${ip}:${uiPort}` : undefined, logFile, stop };
}

function readFrom(file: string, offset: number): string {
  try {
    return fs.readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

/** The log's path (unless it is a temporary one about to go) and the lines this start wrote last. */
export function describeLog(logFile: string, offset: number, temporary: boolean): string {
  const lines = readFrom(logFile, offset).split('\n').filter(Boolean).slice(-8);
  const where = temporary ? '' : ` Server log: ${logFile}.`;
  return lines.length ? `${where} Its last lines:\n  ${lines.map((l) => l.slice(0, 400)).join('\n  ')}` : `${where} The server printed nothing.`;
}

/** `signal` first (PostgreSQL's fast shutdown is SIGINT), SIGKILL after `graceMs`. */
export async function stopProcess(pid: number, graceMs = 5000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, signal);
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive()) process.kill(pid, 'SIGKILL');
}
