import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveTemporalCli } from '../src/temporal/cli-binary';
import { type DevServer, freePort, PortInUse, startDevServer, stopProcess } from '../src/temporal/dev-server';
import { temporalReachable, waitUntilServing } from '../src/temporal/readiness';
import { SEARCH_ATTRIBUTE_FLAGS } from '../src/temporal/search-attributes';

/**
 * Starting the dev server the way a fresh machine does: slowly, after failed probes, on ports
 * another process may take. Each test runs its own server, stopped by pid.
 */
const started: Array<ChildProcess | DevServer> = [];
const blockers: net.Server[] = [];
afterAll(async () => {
  for (const s of started) await ('stop' in s ? s.stop() : s.pid !== undefined && stopProcess(s.pid));
  for (const b of blockers) b.close();
});

async function occupy(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  blockers.push(server);
  return (server.address() as net.AddressInfo).port;
}

async function spawnCli(port: number): Promise<ChildProcess> {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless'];
  args.push('--http-port', String(await freePort()), '--metrics-port', String(await freePort()));
  for (const flag of SEARCH_ATTRIBUTE_FLAGS) args.push('--search-attribute', flag);
  const child = spawn(await resolveTemporalCli(), args, { stdio: 'ignore' });
  started.push(child);
  return child;
}

describe('dev server readiness', () => {
  it('is seen ready soon after a late bind, even after a gRPC probe failed on that address', async () => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    // What the demo does before building the CLI: ask whether a server is there. A plain
    // grpc-js connect leaves the shared subchannel for this address backing off.
    await expect(Connection.connect({ address, connectTimeout: 500 })).rejects.toThrow();
    expect(await temporalReachable(address)).toBe(false);

    let spawnedAt = 0;
    const ready = waitUntilServing(address, { namespace: 'default', searchAttribute: 'MlopsNeedsAttention', timeoutMs: 90_000 }).then(() => Date.now());
    // The client waits 30 s before anything listens. Measured here with the earlier readiness
    // loop (a plain Connection.connect per try): ready 5.5 s after the spawn in this scenario,
    // 21 s after a 300 s wait, and never within 60 s after the demo's 5-minute CLI build; the
    // server itself serves in under a second.
    await new Promise((r) => setTimeout(r, 30_000));
    spawnedAt = Date.now();
    await spawnCli(port);
    const readyAt = await ready;
    expect(readyAt - spawnedAt).toBeLessThan(10_000);
    expect(await temporalReachable(address)).toBe(true);
    // And an ordinary client connects at once afterwards.
    const connection = await Connection.connect({ address, connectTimeout: 5000, channelArgs: { 'grpc.use_local_subchannel_pool': 1 } });
    await connection.close();
  }, 120_000);

  it('retries with new ports when a port it picked is taken before the server binds it', async () => {
    const taken = await occupy();
    let first = true;
    // The first pick is a port another process holds by now, as freePort() cannot reserve.
    const server = await startDevServer({
      headless: true,
      pickPort: async (ip) => {
        if (!first) return freePort(ip);
        first = false;
        return taken;
      },
    });
    started.push(server);
    expect(server.address).not.toBe(`127.0.0.1:${taken}`);
    expect(await temporalReachable(server.address)).toBe(true);
  }, 120_000);

  it('names the port when a port the caller chose is taken', async () => {
    const taken = await occupy();
    const failure = await startDevServer({ headless: true, port: taken }).catch((err: Error) => err);
    expect(failure).toBeInstanceOf(PortInUse);
    expect((failure as PortInUse).port).toBe(taken);
    expect((failure as Error).message).toMatch(new RegExp(`port ${taken} is already in use`));
  }, 60_000);

  it('points at the server log when the server does not become ready in time', async () => {
    const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-slow-')), 'server.log');
    const failure = await startDevServer({ headless: true, readyTimeoutMs: 1, logFile }).catch((err: Error) => err);
    fs.rmSync(path.dirname(logFile), { recursive: true, force: true });
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toContain(`did not become ready in 0 s: nothing accepts TCP connections on 127.0.0.1:`);
    expect((failure as Error).message).toContain(`Server log: ${logFile}`);
  }, 60_000);
});
