import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { resolveTemporalCli } from './cli-binary';
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
  /** Pipe server output here; default: a log file next to the db, or discarded. */
  logFile?: string;
  /** Codec server the Web UI uses to show encrypted payloads (`mlops codec-server`). */
  uiCodecEndpoint?: string;
  /** Keep running after this process exits (npm run temporal --detach). */
  detached?: boolean;
}

export interface DevServer {
  pid: number;
  address: string;
  uiUrl?: string;
  stop(): Promise<void>;
}

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

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const cli = await resolveTemporalCli();
  const ip = options.ip ?? '127.0.0.1';
  const port = options.port || (await freePort(ip));
  const uiPort = options.headless ? undefined : options.uiPort || (await freePort(ip));
  const namespace = options.namespace ?? 'default';
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port), '--namespace', namespace];
  // Pin every listener: the defaults (port+1000 for HTTP, metrics) collide between parallel servers.
  args.push('--http-port', String(await freePort(ip)), '--metrics-port', String(await freePort(ip)));
  args.push('--log-level', 'warn', '--log-format', 'json');
  if (uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  if (uiPort !== undefined && options.uiCodecEndpoint) args.push('--ui-codec-endpoint', options.uiCodecEndpoint);
  if (options.dbFile) {
    fs.mkdirSync(path.dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
  }
  for (const flag of SEARCH_ATTRIBUTE_FLAGS) args.push('--search-attribute', flag);

  let logFd: number | 'ignore' = 'ignore';
  if (options.logFile) {
    fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
    logFd = fs.openSync(options.logFile, 'a');
  }
  const child = spawn(cli, args, { stdio: ['ignore', logFd, logFd], detached: options.detached ?? false });
  if (typeof logFd === 'number') fs.closeSync(logFd);
  if (child.pid === undefined) throw new Error(`Could not start ${cli}`);
  const pid = child.pid;
  let exited: string | undefined;
  child.on('exit', (code, signal) => {
    exited = `exit code ${code ?? signal}`;
  });
  if (options.detached) child.unref();

  const address = `${ip}:${port}`;
  const stop = async () => stopProcess(pid);
  try {
    await waitUntilServing(address, namespace, () => exited, options.logFile);
  } catch (err) {
    await stop();
    throw err;
  }
  return { pid, address, uiUrl: uiPort ? `http://${ip}:${uiPort}` : undefined, stop };
}

/** Ready means: the frontend answers and our namespace exists with the search attributes. */
async function waitUntilServing(
  address: string,
  namespace: string,
  exitedWith: () => string | undefined,
  logFile?: string,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  let lastError = '';
  while (Date.now() < deadline) {
    const exit = exitedWith();
    if (exit) {
      throw new Error(`Temporal dev server exited (${exit}) before serving${logFile ? `; see ${logFile}` : ''}`);
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
        if (customAttributes && 'MlopsNeedsAttention' in customAttributes) return;
        lastError = 'search attributes not registered yet';
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`Temporal dev server at ${address} did not become ready in 60 s: ${lastError}`);
}

export async function stopProcess(pid: number, graceMs = 5000): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive()) process.kill(pid, 'SIGKILL');
}
