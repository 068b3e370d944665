import * as net from 'node:net';
import { Connection } from '@temporalio/client';

/**
 * Is a Temporal frontend there, and is it ready? Without trusting a gRPC client's reconnect state.
 *
 * grpc-js keeps one subchannel per address in a process-wide pool, with its reconnect backoff
 * (growing to 2 minutes). A probe that failed while nothing listened — the demo asks "is a
 * server already running?" before it builds the Temporal CLI, which takes minutes on a fresh
 * machine — leaves that subchannel backing off, and every later `Connection.connect` to the same
 * address waits behind it: the server was up, and readiness still timed out. So: a plain TCP
 * connect first, then gRPC only on a channel with its own subchannel pool, new for each try.
 */
const ISOLATED_CHANNEL = { 'grpc.use_local_subchannel_pool': 1 } as const;
const WORKFLOW_SERVICE = 'temporal.api.workflowservice.v1.WorkflowService';

export function splitAddress(address: string): { host: string; port: number } {
  // host, host:port or [v6]:port (as config.ts accepts them).
  const match = /^\[?(.*?)\]?(?::(\d+))?$/.exec(address);
  return { host: match?.[1] || '127.0.0.1', port: Number(match?.[2] ?? 7233) };
}

/** One TCP connect attempt: true when something accepts on host:port. */
export function tcpAccepts(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A connection that shares no reconnect state with any other in this process. */
export async function isolatedConnection(address: string, connectTimeoutMs = 2000): Promise<Connection> {
  return Connection.connect({ address, connectTimeout: connectTimeoutMs, channelArgs: ISOLATED_CHANNEL });
}

/** True when a Temporal frontend answers its health check at `address` (used to reuse a running server). */
export async function temporalReachable(address: string): Promise<boolean> {
  const { host, port } = splitAddress(address);
  if (!(await tcpAccepts(host, port))) return false;
  try {
    const connection = await isolatedConnection(address);
    try {
      return await serving(connection);
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

async function serving(connection: Connection): Promise<boolean> {
  const { status } = await connection.healthService.check({ service: WORKFLOW_SERVICE });
  return status === 1; // SERVING
}

export interface ReadinessOptions {
  namespace: string;
  timeoutMs?: number;
  /** A custom search attribute that must be registered before we call the server ready. */
  searchAttribute?: string;
  /** Returns why the server process ended, if it did: waiting stops at once. */
  exitedWith?: () => string | undefined;
  /** Named in the error, with its last lines. */
  describeLog?: () => string;
  /** What is started, in the error (default: the Temporal dev server). */
  server?: string;
}

export class ServerNotReady extends Error {
  override name = 'ServerNotReady';
}

/**
 * Waits until the frontend at `address` accepts TCP, reports SERVING and knows the namespace
 * (with `searchAttribute` registered). Each stage's last error is kept for the message.
 */
export async function waitUntilServing(address: string, options: ReadinessOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const { host, port } = splitAddress(address);
  const server = options.server ?? 'Temporal dev server';
  let stage = `nothing accepts TCP connections on ${host}:${port}`;
  while (Date.now() < deadline) {
    const exit = options.exitedWith?.();
    if (exit) throw new ServerNotReady(`${server} exited (${exit}) before serving.${options.describeLog?.() ?? ''}`);
    if (await tcpAccepts(host, port, 500)) {
      try {
        const connection = await isolatedConnection(address, Math.min(5000, Math.max(500, deadline - Date.now())));
        try {
          if (!(await serving(connection))) stage = 'the frontend does not report SERVING yet';
          else {
            const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: options.namespace });
            if (!options.searchAttribute || (customAttributes && options.searchAttribute in customAttributes)) return;
            stage = `search attribute ${options.searchAttribute} is not registered in namespace "${options.namespace}" yet`;
          }
        } finally {
          await connection.close();
        }
      } catch (err) {
        stage = `the frontend accepts TCP but gRPC fails: ${(err as Error).message}`;
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new ServerNotReady(`${server} at ${address} did not become ready in ${Math.round(timeoutMs / 1000)} s: ${stage}.${options.describeLog?.() ?? ''}`);
}

/**
 * Waits until something accepts TCP on host:port: all there is to wait for with a plain HTTP
 * server that binds when it is ready to serve (the Web UI server, versitygw).
 */
export async function waitUntilAccepting(host: string, port: number, options: Omit<ReadinessOptions, 'namespace' | 'searchAttribute'> & { server: string }): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  while (!(await tcpAccepts(host, port, 500))) {
    const exit = options.exitedWith?.();
    if (exit) throw new ServerNotReady(`${options.server} exited (${exit}) before serving.${options.describeLog?.() ?? ''}`);
    if (Date.now() > deadline)
      throw new ServerNotReady(`${options.server} did not accept connections on ${host}:${port} in ${Math.round(timeoutMs / 1000)} s.${options.describeLog?.() ?? ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
