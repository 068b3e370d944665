import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { msToTs } from '@temporalio/common/lib/time';
import { parse, stringify } from 'yaml';
import { type LoggedProcess, runCaptured, spawnLogged } from '../processes';
import { freePort, stopProcess } from './dev-server';
import { type PostgresCluster, startPostgresCluster } from './postgres-cluster';
import { isolatedConnection, waitUntilAccepting, waitUntilServing } from './readiness';
import { addMissingSearchAttributes } from './search-attribute-registration';
import { resolveTemporalServerKit, resolveTemporalUiServer, type TemporalServerKit } from './server-binaries';

/**
 * Temporal as docker-compose.yml runs it, without Docker: the official server (not the dev
 * server) on PostgreSQL, with SQL visibility — so search-attribute queries, schedules and the
 * rest are tested on the engines production uses. Its configuration is the server module's own
 * development-postgres12.yaml with our ports; the schema is the module's, applied with
 * temporal-sql-tool as the auto-setup image does. Optionally the Web UI server beside it.
 *
 * Dev tooling (npm run temporal:postgres, the test setup), like dev-server.ts: the worker and
 * the CLI never load it (its `yaml` import is a devDependency).
 */
export interface PostgresTemporalOptions {
  /** Debian's initdb (scripts/system-packages.ts POSTGRESQL finds or installs it). */
  initdb: string;
  /** Keep the cluster (and Temporal's data) here across starts; omitted: a temp folder, removed on stop. */
  dir?: string;
  /** Frontend gRPC port; 0 or omitted picks a free one. */
  port?: number;
  namespace?: string;
  /** Also run the Temporal Web UI server (built once with Go on first use). */
  ui?: boolean;
  /** 0 or omitted picks a free one. */
  uiPort?: number;
  uiCodecEndpoint?: string;
  /** How long the server may take to serve (default 90 s). */
  readyTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface PostgresTemporal {
  address: string;
  namespace: string;
  uiUrl?: string;
  postgres: PostgresCluster;
  /** temporal.log, ui.log and postgres.log are here. */
  dir: string;
  /** PostgreSQL restarted under the running server (pg_ctl restart -m fast). */
  restartPostgres(): Promise<void>;
  stop(): Promise<void>;
}

const IP = '127.0.0.1';
const SUPERUSER = 'temporal';
const ENV = 'mlops';

export async function startPostgresTemporal(options: PostgresTemporalOptions): Promise<PostgresTemporal> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const kit = await resolveTemporalServerKit({ log });
  const uiServer = options.ui ? await resolveTemporalUiServer({ log }) : undefined;
  const ownDir = !options.dir;
  const dir = path.resolve(options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-pg-')));
  // As root the cluster runs as `postgres`, which must be able to reach its folder inside ours.
  if (ownDir) fs.chmodSync(dir, 0o711);
  const namespace = options.namespace ?? 'default';
  const children: LoggedProcess[] = [];
  let postgres: PostgresCluster | undefined;
  const stop = async () => {
    for (const child of children.reverse()) await stopProcess(child.pid, 10_000);
    await postgres?.stop();
    if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    postgres = await startPostgresCluster({ initdb: options.initdb, dir: path.join(dir, 'postgres'), superuser: SUPERUSER, durable: !ownDir });
    await applySchema(kit, postgres);
    const address = await startServer(kit, postgres, dir, options, children);
    await registerNamespace(address, namespace);
    await waitUntilServing(address, { namespace, searchAttribute: 'MlopsNeedsAttention', timeoutMs: 30_000, server: 'Temporal server' });
    const uiUrl = uiServer ? await startUi(uiServer, address, dir, namespace, options, children) : undefined;
    const cluster = postgres;
    return { address, namespace, uiUrl, postgres: cluster, dir, restartPostgres: () => cluster.restart(), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** What the auto-setup image does: both databases, the base schema, then every versioned update. */
async function applySchema(kit: TemporalServerKit, postgres: PostgresCluster): Promise<void> {
  const databases = [
    ['temporal', path.join(kit.postgresSchemaDir, 'temporal', 'versioned')],
    ['temporal_visibility', path.join(kit.postgresSchemaDir, 'visibility', 'versioned')],
  ] as const;
  for (const [database, versioned] of databases) {
    const base = ['--plugin', 'postgres12', '--ep', IP, '-p', String(postgres.port), '-u', SUPERUSER, '--db', database];
    // A kept cluster already has its databases: only updates (none, at the same version) apply.
    const steps = postgres.created ? [['create'], ['setup-schema', '-v', '0.0'], ['update-schema', '-d', versioned]] : [['update-schema', '-d', versioned]];
    for (const step of steps) {
      const result = await runCaptured(kit.sqlTool, [...base, ...step]);
      if (result.code !== 0)
        throw new Error(`temporal-sql-tool ${step[0]} on ${database} failed (exit ${result.code}):\n${result.output.trim().split('\n').slice(-10).join('\n')}`);
    }
  }
}

/**
 * Membership (ringpop) ports are stored in PostgreSQL as smallint, so they must stay below
 * 32768 — where Linux hands out no ephemeral ports either: picked at random and test-bound.
 */
async function membershipPort(): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, IP, () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('No free port between 20000 and 32000 for Temporal membership');
}

const PORT_ATTEMPTS = 4;

async function startServer(kit: TemporalServerKit, postgres: PostgresCluster, dir: string, options: PostgresTemporalOptions, children: LoggedProcess[]): Promise<string> {
  const root = path.join(dir, 'temporal');
  const logFile = path.join(dir, 'temporal.log');
  for (let attempt = 1; ; attempt++) {
    const port = options.port || (await freePort(IP));
    const httpPort = await freePort(IP);
    writeServerConfig(
      kit,
      root,
      postgres.port,
      {
        frontend: { grpcPort: port, membershipPort: await membershipPort(), bindOnIP: IP, httpPort },
        history: { grpcPort: await freePort(IP), membershipPort: await membershipPort(), bindOnIP: IP },
        matching: { grpcPort: await freePort(IP), membershipPort: await membershipPort(), bindOnIP: IP },
        worker: { grpcPort: await freePort(IP), membershipPort: await membershipPort(), bindOnIP: IP },
      },
      httpPort,
    );
    const server = spawnLogged(kit.server, ['--root', root, '--config', 'config', '--env', ENV, '--allow-no-auth', 'start'], logFile);
    const address = `${IP}:${port}`;
    try {
      // The system namespace exists from the first start: this waits for the frontend alone.
      await waitUntilServing(address, {
        namespace: 'temporal-system',
        timeoutMs: options.readyTimeoutMs ?? 90_000,
        server: 'Temporal server',
        exitedWith: server.exited,
        describeLog: server.describeLog,
      });
      children.push(server);
      return address;
    } catch (err) {
      await stopProcess(server.pid);
      // Ports we picked can be taken before the server binds them: pick again (not one the caller chose).
      const output = server.output();
      const requestedTaken = Boolean(options.port) && output.includes(`:${options.port}`);
      if (!/address already in use/i.test(output) || requestedTaken || attempt >= PORT_ATTEMPTS) throw err;
    }
  }
}

interface ServiceRpc {
  grpcPort: number;
  membershipPort: number;
  bindOnIP: string;
  httpPort?: number;
}

/** The module's development-postgres12.yaml and development-sql.yaml, with our ports and limits. */
function writeServerConfig(
  kit: TemporalServerKit,
  root: string,
  postgresPort: number,
  rpc: Record<'frontend' | 'history' | 'matching' | 'worker', ServiceRpc>,
  httpPort: number,
): void {
  const config = parse(fs.readFileSync(kit.postgresConfigFile, 'utf8'));
  for (const store of Object.values<{ sql: { connectAddr: string } }>(config.persistence.datastores)) store.sql.connectAddr = `${IP}:${postgresPort}`;
  config.log = { stdout: true, level: 'warn' };
  for (const [service, ports] of Object.entries(rpc)) config.services[service].rpc = ports;
  config.global.membership.broadcastAddress = IP;
  // No pprof or metrics listeners: two more ports that parallel servers would fight over.
  delete config.global.pprof;
  delete config.global.metrics;
  config.clusterMetadata.clusterInformation.active.rpcAddress = `${IP}:${rpc.frontend.grpcPort}`;
  const dynamicConfigFile = path.join(root, 'dynamicconfig.yaml');
  config.dynamicConfigClient.filepath = dynamicConfigFile;

  const dynamic = parse(fs.readFileSync(kit.dynamicConfigFile, 'utf8'));
  const set = (key: string, value: unknown) => (dynamic[key] = [{ value, constraints: {} }]);
  // What the CLI's dev server sets, so the two servers differ in storage, not in limits:
  // search attributes visible at once, and the persistence and visibility rates that go with it.
  set('system.forceSearchAttributesCacheRefreshOnRead', true);
  set('frontend.persistenceMaxQPS', 10_000);
  set('history.persistenceMaxQPS', 45_000);
  set('frontend.namespaceRPS.visibility', 100);
  set('component.nexusoperations.callback.endpoint.template', `http://${IP}:${httpPort}/namespaces/{{.NamespaceName}}/nexus/callback`);

  fs.mkdirSync(path.join(root, 'config'), { recursive: true });
  fs.writeFileSync(path.join(root, 'config', `${ENV}.yaml`), stringify(config));
  fs.writeFileSync(dynamicConfigFile, stringify(dynamic));
}

/** The namespace (24 h retention, as the dev server's) and our search attributes in its SQL visibility. */
async function registerNamespace(address: string, namespace: string): Promise<void> {
  const connection = await isolatedConnection(address, 5000);
  try {
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('24h') }).catch((err: { code?: number }) => {
      if (err.code !== 6 /* ALREADY_EXISTS: a kept cluster */) throw err;
    });
    await addMissingSearchAttributes(connection, namespace);
  } finally {
    await connection.close();
  }
}

async function startUi(uiServer: string, address: string, dir: string, namespace: string, options: PostgresTemporalOptions, children: LoggedProcess[]): Promise<string> {
  const port = options.uiPort || (await freePort(IP));
  const root = path.join(dir, 'ui');
  fs.mkdirSync(path.join(root, 'config'), { recursive: true });
  fs.writeFileSync(
    path.join(root, 'config', `${ENV}.yaml`),
    stringify({
      temporalGrpcAddress: address,
      host: IP,
      port,
      enableUi: true,
      defaultNamespace: namespace,
      cors: { cookieInsecure: true },
      hideLogs: true,
      ...(options.uiCodecEndpoint ? { codec: { endpoint: options.uiCodecEndpoint } } : {}),
    }),
  );
  const ui = spawnLogged(uiServer, ['--root', root, '--config', 'config', '--env', ENV, 'start'], path.join(dir, 'ui.log'));
  children.push(ui);
  await waitUntilAccepting(IP, port, { server: 'The Temporal Web UI server', exitedWith: ui.exited, describeLog: ui.describeLog });
  return `http://${IP}:${port}`;
}
