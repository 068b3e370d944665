import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { temporalCacheDir } from '../cache-dir';
import { goInstall, isExecutable } from '../go-install';
import { type LoggedProcess, spawnLogged } from '../processes';
import { freePort, stopProcess } from '../temporal/dev-server';
import { waitUntilAccepting } from '../temporal/readiness';

/**
 * A real S3 server on this machine for tests and development: versitygw (Apache-2.0), an S3
 * gateway over a plain folder (buckets are its subfolders), built once with Go like the Temporal
 * CLI. Not an in-process fake: DuckDB's httpfs and the AWS SDK talk S3 over HTTP to it, signed
 * with the keys generated here.
 */
export const VERSITYGW_VERSION = 'v1.8.0';
const GO_PACKAGE = `github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}`;

export function cachedVersitygwPath(): string {
  return path.join(temporalCacheDir(), `versitygw-${VERSITYGW_VERSION}`);
}

/** VERSITYGW_PATH → the cached build → `go install` into the cache. */
export async function resolveVersitygw(options: { log?: (line: string) => void; noBuild?: boolean } = {}): Promise<string> {
  const fromEnv = process.env.VERSITYGW_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`VERSITYGW_PATH=${fromEnv} is not an executable file.`);
    return fromEnv;
  }
  const target = cachedVersitygwPath();
  if (isExecutable(target)) return target;
  if (options.noBuild) throw new Error(`No versitygw at ${target}; run \`npm run s3 -- --install\` first.`);
  await goInstall({
    what: `versitygw ${VERSITYGW_VERSION} (the local S3 server)`,
    packages: [GO_PACKAGE],
    cacheDir: path.dirname(target),
    publish: (gobin) => fs.renameSync(path.join(gobin, 'versitygw'), target),
    alternatives: ['set VERSITYGW_PATH to a versitygw binary you have', 'point the S3 settings at an S3 service you already run'],
    log: options.log ?? ((line: string) => process.stderr.write(`${line}\n`)),
  });
  return target;
}

export interface S3ServerOptions {
  /** The folder served (buckets are its subfolders); omitted: a temp folder, removed on stop. */
  dir?: string;
  /** 0 or omitted: a free one. */
  port?: number;
  /** Generated when omitted. */
  accessKeyId?: string;
  secretAccessKey?: string;
}

export interface S3Server {
  /** http://127.0.0.1:PORT — path-style, no TLS. */
  endpoint: string;
  host: string;
  port: number;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  dir: string;
  pid(): number;
  /** Stopped and started again on the same port, folder and keys (fault tests). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const IP = '127.0.0.1';
const REGION = 'us-east-1';

export async function startVersitygw(options: S3ServerOptions = {}): Promise<S3Server> {
  const binary = await resolveVersitygw();
  const ownDir = !options.dir;
  const dir = path.resolve(options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 's3-')));
  const root = path.join(dir, 'buckets');
  fs.mkdirSync(root, { recursive: true });
  const port = options.port || (await freePort(IP));
  const accessKeyId = options.accessKeyId ?? `mlops${randomBytes(6).toString('hex')}`;
  const secretAccessKey = options.secretAccessKey ?? randomBytes(24).toString('base64url');
  // Keys through its environment, not its arguments: `ps` shows arguments to every user.
  const env = { ...process.env, ROOT_ACCESS_KEY_ID: accessKeyId, ROOT_SECRET_ACCESS_KEY: secretAccessKey, VGW_REGION: REGION };
  let current: LoggedProcess | undefined;
  const start = async () => {
    const gateway = spawnLogged(binary, ['--port', `${IP}:${port}`, '--quiet', 'posix', root], path.join(dir, 'versitygw.log'), env);
    current = gateway;
    try {
      await waitUntilAccepting(IP, port, { server: `versitygw on ${IP}:${port}`, exitedWith: gateway.exited, describeLog: gateway.describeLog });
    } catch (err) {
      await stopProcess(gateway.pid);
      throw err;
    }
  };
  const stopGateway = async () => {
    if (current) await stopProcess(current.pid);
  };
  try {
    await start();
  } catch (err) {
    if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    endpoint: `http://${IP}:${port}`,
    host: IP,
    port,
    region: REGION,
    accessKeyId,
    secretAccessKey,
    dir: root,
    pid: () => current!.pid,
    async restart() {
      await stopGateway();
      await start();
    },
    async stop() {
      await stopGateway();
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
