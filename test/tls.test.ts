import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ingest } from '../src/client/ingest';
import { loadConfig } from '../src/config';
import { openDuckDb } from '../src/sql/duckdb';
import { connectClient, connectWorker } from '../src/temporal/connection';
import { createWorker } from '../src/worker';

/**
 * The TLS settings against a server that demands mutual TLS. The dev server speaks plain gRPC
 * only, so a TLS terminator sits in front of it (ALPN h2, client certificates required, signed by
 * a throwaway CA made with openssl): the client (grpc-js) and the worker (Rust core) connect with
 * exactly what TEMPORAL_TLS_* configure, and run a workflow through it.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-tls-'));
const file = (name: string) => path.join(dir, name);
let terminator: tls.Server;
let address: string;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, a server certificate for temporal.test and a client certificate, as a deployment would have. */
function makeCertificates(): void {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=mlops test CA');
  const leaf = (name: string, ext: string) => {
    fs.writeFileSync(file(`${name}.ext`), ext);
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  };
  leaf('server', 'subjectAltName=DNS:temporal.test\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  leaf('client', 'subjectAltName=DNS:mlops-worker\nextendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
}

beforeAll(async () => {
  makeCertificates();
  const [host, port] = inject('temporalAddress').split(':');
  terminator = tls.createServer(
    {
      key: fs.readFileSync(file('server.key')),
      cert: fs.readFileSync(file('server.pem')),
      ca: fs.readFileSync(file('ca.pem')),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    },
    (socket) => {
      const upstream = net.connect(Number(port), host!);
      socket.pipe(upstream).pipe(socket);
      const close = () => {
        socket.destroy();
        upstream.destroy();
      };
      socket.on('error', close);
      upstream.on('error', close);
    },
  );
  await new Promise<void>((resolve) => terminator.listen(0, '127.0.0.1', resolve));
  address = `127.0.0.1:${(terminator.address() as net.AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => terminator?.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('mutual TLS settings', () => {
  it('connect the client and the worker, and a workflow runs through the TLS connection', async () => {
    const config = loadConfig({
      TEMPORAL_ADDRESS: address,
      TEMPORAL_TLS_CA_PATH: file('ca.pem'),
      TEMPORAL_TLS_CERT_PATH: file('client.pem'),
      TEMPORAL_TLS_KEY_PATH: file('client.key'),
      TEMPORAL_TLS_SERVER_NAME: 'temporal.test',
      MLOPS_DATA_DIR: file('store'),
      MLOPS_TASK_QUEUE: `tls-${process.pid}`,
    });
    const client = await connectClient(config);
    const connection = await connectWorker(config);
    const duckdb = await openDuckDb({ threads: 1 });
    const worker = await createWorker({ config, connection, client, duckdb });
    const running = worker.run();
    try {
      fs.writeFileSync(file('data.csv'), 'id,x\n1,0.5\n2,1.5\n3,2.5\n');
      const ref = await ingest(client, config, { dataset: 'over-tls', source: file('data.csv') });
      expect(ref.rows.accepted).toBe(3);
    } finally {
      worker.shutdown();
      await running;
      await connection.close();
      await client.connection.close();
      duckdb.closeSync();
    }
  }, 120_000);

  it('fail with a message naming the server without a client certificate, or with the wrong CA', async () => {
    const base = { TEMPORAL_ADDRESS: address, TEMPORAL_TLS_SERVER_NAME: 'temporal.test', MLOPS_DATA_DIR: file('store') };
    await expect(connectClient(loadConfig({ ...base, TEMPORAL_TLS_CA_PATH: file('ca.pem') }))).rejects.toThrow(new RegExp(`Cannot reach Temporal at ${address}`));
    // A CA that did not sign the server's certificate: the server is not trusted.
    await expect(
      connectClient(loadConfig({ ...base, TEMPORAL_TLS_CA_PATH: file('client.pem'), TEMPORAL_TLS_CERT_PATH: file('client.pem'), TEMPORAL_TLS_KEY_PATH: file('client.key') })),
    ).rejects.toThrow(/Cannot reach Temporal/);
    await expect(connectClient(loadConfig({ ...base, TEMPORAL_TLS_CA_PATH: file('missing.pem') }))).rejects.toThrow(/Cannot read TEMPORAL_TLS_CA_PATH at .*missing\.pem/);
  }, 60_000);
});
