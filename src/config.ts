import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { type PayloadEncryptionSettings, PayloadKeyError, parsePayloadKey } from './temporal/codec';
import { DEFAULT_MAX_COLUMNS } from './datasets/limits';
import { formatIssues } from './validation';

/**
 * Everything the worker and the CLI read from the environment, parsed once with zod so a
 * typo in an env var fails at startup with a message naming the variable, not deep inside a call.
 */
const boolFromEnv = z.enum(['true', 'false', '1', '0', 'yes', 'no', '']).transform((v) => v === 'true' || v === '1' || v === 'yes');

const hostPort = z.string().regex(/^[^\s:/]+(:\d{1,5})?$|^\[[0-9a-fA-F:]+\](:\d{1,5})?$/, 'expected host:port, e.g. 127.0.0.1:7233');

/** Names Temporal accepts in a deployment version, kept to what reads well in a command line and a query. */
export const DEPLOYMENT_NAME = /^[A-Za-z0-9_-]{1,64}$/;
export const BUILD_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const MEMORY_SIZE = /^(\d+(?:\.\d+)?)\s*(%|B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i;
/**
 * Without a limit DuckDB takes 80 % of RAM per process, and one 10,001-column CSV drove a worker
 * to 18.8 GiB. A quarter leaves room for ONNX Runtime, the JS heap and external trainers; what
 * does not fit is spilled to the temp dir or fails as OutOfMemory.
 */
const DEFAULT_MEMORY_SHARE = 25;

export const envSchema = z.object({
  TEMPORAL_ADDRESS: hostPort.default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  MLOPS_TASK_QUEUE: z.string().min(1).default('mlops'),
  MLOPS_DATA_DIR: z.string().min(1).default(path.join(process.cwd(), '.mlops')),
  /** Colon-separated folders the worker may ingest from; empty means any readable path. */
  MLOPS_INGEST_ALLOWED_ROOTS: z.string().default(''),
  /** Colon-separated executables external trainer commands may run, or "*"; empty: none. */
  MLOPS_TRAINER_COMMANDS: z.string().default(''),
  /** TLS for a remote or Temporal Cloud server. Certificate paths imply TLS. */
  TEMPORAL_TLS: boolFromEnv.optional(),
  TEMPORAL_TLS_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().optional(),
  TEMPORAL_TLS_CA_PATH: z.string().optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  /** Temporal Cloud API key; implies TLS. */
  TEMPORAL_API_KEY: z.string().optional(),
  /** base64 AES-256 key: encrypt every payload Temporal stores (see src/temporal/codec.ts). */
  MLOPS_PAYLOAD_KEY: z.string().optional(),
  /** Comma-separated earlier keys, still accepted for decoding after a rotation. */
  MLOPS_PAYLOAD_PREVIOUS_KEYS: z.string().default(''),
  /** Activities one worker runs at once; default 4 per core (the SDK's 100 starved workflow tasks under load). */
  MLOPS_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).max(1000).optional(),
  /** A folder in DuckDB's extension layout holding httpfs, where DuckDB cannot download it (src/sql/httpfs.ts). */
  MLOPS_DUCKDB_EXTENSION_DIR: z.string().optional(),
  /** DuckDB's memory limit per worker (and CLI process): bytes with a unit (4GB, 512MiB) or a share of RAM (25%). */
  MLOPS_DUCKDB_MEMORY_LIMIT: z.string().regex(MEMORY_SIZE, 'expected a size such as 4GB, 512MiB or a share of RAM such as 25%').default(`${DEFAULT_MEMORY_SHARE}%`),
  /** Where DuckDB spills what does not fit in its memory limit; default inside the store's .tmp. */
  MLOPS_DUCKDB_TEMP_DIR: z.string().min(1).optional(),
  /**
   * s3://bucket/prefix: keep the artifacts in that bucket (src/store/s3-backend.ts); unset: the
   * folder MLOPS_DATA_DIR, which an S3 store still uses for scratch (temp files, DuckDB spill).
   */
  MLOPS_STORE: z
    .string()
    .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, 'expected s3://bucket or s3://bucket/prefix')
    .optional(),
  /** The usual settings of any S3-compatible service (AWS S3, MinIO, Ceph, R2, versitygw). */
  AWS_ACCESS_KEY_ID: z.string().optional(),
  AWS_SECRET_ACCESS_KEY: z.string().optional(),
  AWS_SESSION_TOKEN: z.string().optional(),
  AWS_REGION: z.string().optional(),
  AWS_DEFAULT_REGION: z.string().optional(),
  AWS_ENDPOINT_URL: z.string().url().optional(),
  AWS_ENDPOINT_URL_S3: z.string().url().optional(),
  /** Path-style requests (http://host/bucket/key), as MinIO, Ceph and versitygw want; default: on with an endpoint. */
  MLOPS_S3_PATH_STYLE: boolFromEnv.optional(),
  /** Widest table a worker validates and profiles; wider input is refused up front. */
  /** The Temporal Web UI that flag messages link to. */
  MLOPS_WEB_UI_URL: z.string().url().default('http://localhost:8233'),
  MLOPS_MAX_COLUMNS: z.coerce.number().int().min(1).max(100_000).default(DEFAULT_MAX_COLUMNS),
  /**
   * Worker versioning (docs/RELIABILITY.md, "Shipping new worker code"): set, the worker polls as
   * one version of this Worker Deployment; unset, it is unversioned as before.
   */
  MLOPS_DEPLOYMENT_NAME: z.string().regex(DEPLOYMENT_NAME, 'expected letters, digits, "-" or "_" (Temporal writes a version as <deployment>.<build>, so no dots)').optional(),
  /** This worker's build within the deployment; default: the package version and a hash of its code. */
  MLOPS_BUILD_ID: z.string().regex(BUILD_ID, 'expected 1-64 letters, digits, ".", "-" or "_"').optional(),
});

export interface TlsSettings {
  clientCertPath?: string;
  clientKeyPath?: string;
  serverRootCaPath?: string;
  serverNameOverride?: string;
}

export interface MlopsConfig {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  dataDir: string;
  ingestAllowedRoots: string[];
  trainerCommands: string[];
  /** undefined: plain TCP. */
  tls?: TlsSettings;
  apiKey?: string;
  /** undefined: payloads stored as plain JSON. */
  payloadEncryption?: PayloadEncryptionSettings;
  maxConcurrentActivities: number;
  /** undefined: DuckDB's own extensions, the project cache, or DuckDB's repository. */
  duckdbExtensionDir?: string;
  /** How this process opens DuckDB. */
  duckdb: { memoryLimit: string; spillDir: string };
  maxColumns: number;
  /** MLOPS_WEB_UI_URL: the Web UI that flag messages link to. */
  webUiUrl: string;
  /** MLOPS_DEPLOYMENT_NAME / MLOPS_BUILD_ID; undefined: versioning off. buildId undefined: derived from the code (src/temporal/build-id.ts). */
  deployment?: { name: string; buildId?: string };
  /** Where the artifacts live: the folder dataDir, or an S3 bucket and prefix. */
  store: StoreSettings;
}

export interface S3StoreSettings {
  kind: 's3';
  /** As given: s3://bucket/prefix */
  url: string;
  bucket: string;
  /** '' or ending in '/'. */
  prefix: string;
  region: string;
  /** undefined: AWS S3 itself. */
  endpoint?: string;
  /** Which setting named the endpoint, for errors. */
  endpointSetting?: 'AWS_ENDPOINT_URL_S3' | 'AWS_ENDPOINT_URL';
  pathStyle: boolean;
  /** undefined: the SDK's own chain (profile, instance role); DuckDB then uses its credential_chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export type StoreSettings = { kind: 'local'; root: string } | S3StoreSettings;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): MlopsConfig {
  const emptyToUndefined = Object.fromEntries(Object.keys(envSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const parsed = envSchema.safeParse(emptyToUndefined);
  if (!parsed.success) {
    throw new ConfigError(`Invalid environment configuration:\n${formatIssues(parsed.error)}`);
  }
  const e = parsed.data;
  if (Boolean(e.TEMPORAL_TLS_CERT_PATH) !== Boolean(e.TEMPORAL_TLS_KEY_PATH)) {
    throw new ConfigError('TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH must be set together (mTLS needs both the client certificate and its key)');
  }
  if (e.MLOPS_BUILD_ID && !e.MLOPS_DEPLOYMENT_NAME) {
    throw new ConfigError('MLOPS_BUILD_ID is set but MLOPS_DEPLOYMENT_NAME is not: a build belongs to a Worker Deployment, so name it too (or unset MLOPS_BUILD_ID)');
  }
  const dataDir = path.resolve(expandHome(e.MLOPS_DATA_DIR));
  const wantsTls = e.TEMPORAL_TLS ?? Boolean(e.TEMPORAL_TLS_CERT_PATH || e.TEMPORAL_TLS_CA_PATH || e.TEMPORAL_API_KEY || e.TEMPORAL_TLS_SERVER_NAME);
  return {
    temporalAddress: e.TEMPORAL_ADDRESS,
    namespace: e.TEMPORAL_NAMESPACE,
    taskQueue: e.MLOPS_TASK_QUEUE,
    dataDir,
    // Folders, and s3://bucket/prefix/ entries (whose own colon does not split the list).
    ingestAllowedRoots: e.MLOPS_INGEST_ALLOWED_ROOTS.split(/:(?!\/\/)/)
      .filter(Boolean)
      .map((p) => (/^s3:\/\//i.test(p) ? p : path.resolve(expandHome(p)))),
    trainerCommands: e.MLOPS_TRAINER_COMMANDS.split(':').filter(Boolean),
    tls: wantsTls
      ? {
          clientCertPath: e.TEMPORAL_TLS_CERT_PATH,
          clientKeyPath: e.TEMPORAL_TLS_KEY_PATH,
          serverRootCaPath: e.TEMPORAL_TLS_CA_PATH,
          serverNameOverride: e.TEMPORAL_TLS_SERVER_NAME,
        }
      : undefined,
    apiKey: e.TEMPORAL_API_KEY,
    payloadEncryption: payloadEncryptionOf(e.MLOPS_PAYLOAD_KEY, e.MLOPS_PAYLOAD_PREVIOUS_KEYS),
    maxConcurrentActivities: e.MLOPS_MAX_CONCURRENT_ACTIVITIES ?? 4 * os.availableParallelism(),
    duckdbExtensionDir: e.MLOPS_DUCKDB_EXTENSION_DIR ? path.resolve(expandHome(e.MLOPS_DUCKDB_EXTENSION_DIR)) : undefined,
    duckdb: {
      memoryLimit: duckDbMemoryLimit(e.MLOPS_DUCKDB_MEMORY_LIMIT),
      spillDir: e.MLOPS_DUCKDB_TEMP_DIR ? path.resolve(expandHome(e.MLOPS_DUCKDB_TEMP_DIR)) : path.join(dataDir, '.tmp', 'duckdb-spill'),
    },
    maxColumns: e.MLOPS_MAX_COLUMNS,
    webUiUrl: e.MLOPS_WEB_UI_URL,
    deployment: e.MLOPS_DEPLOYMENT_NAME ? { name: e.MLOPS_DEPLOYMENT_NAME, ...(e.MLOPS_BUILD_ID ? { buildId: e.MLOPS_BUILD_ID } : {}) } : undefined,
    store: storeSettingsOf(e, dataDir),
  };
}

const UNIT_BYTES: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };

/** The setting as DuckDB takes it (MiB); a share is of the RAM this process may use (a cgroup limit counts). */
function duckDbMemoryLimit(setting: string): string {
  const [, amount, unit] = MEMORY_SIZE.exec(setting)!;
  const bytes = unit === '%' ? (Number(amount) / 100) * availableMemory() : Number(amount) * UNIT_BYTES[unit!.toLowerCase()]!;
  const mib = Math.floor(bytes / 2 ** 20);
  if (mib < 16) throw new ConfigError(`MLOPS_DUCKDB_MEMORY_LIMIT=${setting} is ${mib} MiB; DuckDB needs at least 16 MiB`);
  return `${mib}MiB`;
}

function availableMemory(): number {
  try {
    const limit = fs.readFileSync('/sys/fs/cgroup/memory.max', 'utf8').trim();
    if (/^\d+$/.test(limit)) return Math.min(Number(limit), os.totalmem());
  } catch {
    // not in a cgroup v2 container
  }
  return os.totalmem();
}

function payloadEncryptionOf(key: string | undefined, previous: string): PayloadEncryptionSettings | undefined {
  const previousKeys = previous.split(',').filter((k) => k.trim());
  if (!key) {
    if (previousKeys.length) throw new ConfigError('MLOPS_PAYLOAD_PREVIOUS_KEYS is set without MLOPS_PAYLOAD_KEY');
    return undefined;
  }
  try {
    return {
      key: parsePayloadKey(key),
      previousKeys: previousKeys.map((k, i) => parsePayloadKey(k, `MLOPS_PAYLOAD_PREVIOUS_KEYS[${i}]`)),
    };
  } catch (err) {
    if (err instanceof PayloadKeyError) throw new ConfigError(err.message);
    throw err;
  }
}

function storeSettingsOf(e: z.infer<typeof envSchema>, dataDir: string): StoreSettings {
  if (!e.MLOPS_STORE) return { kind: 'local', root: dataDir };
  const [, bucket, rest] = /^s3:\/\/([^/]+)\/?(.*)$/.exec(e.MLOPS_STORE)!;
  const prefix = rest!.replace(/\/+$/, '');
  if (prefix.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new ConfigError(`MLOPS_STORE=${e.MLOPS_STORE}: the prefix has an empty, "." or ".." segment; use s3://bucket/some/prefix`);
  }
  if (Boolean(e.AWS_ACCESS_KEY_ID) !== Boolean(e.AWS_SECRET_ACCESS_KEY)) {
    throw new ConfigError("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together (or neither, for the SDK's own credential chain)");
  }
  const endpointSetting = e.AWS_ENDPOINT_URL_S3 ? 'AWS_ENDPOINT_URL_S3' : e.AWS_ENDPOINT_URL ? 'AWS_ENDPOINT_URL' : undefined;
  const endpoint = e.AWS_ENDPOINT_URL_S3 ?? e.AWS_ENDPOINT_URL;
  return {
    kind: 's3',
    url: e.MLOPS_STORE,
    bucket: bucket!,
    prefix: prefix ? `${prefix}/` : '',
    region: e.AWS_REGION ?? e.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(endpoint ? { endpoint, endpointSetting } : {}),
    // S3-compatible servers mostly want path style; AWS itself virtual-hosted.
    pathStyle: e.MLOPS_S3_PATH_STYLE ?? Boolean(endpoint),
    ...(e.AWS_ACCESS_KEY_ID
      ? { credentials: { accessKeyId: e.AWS_ACCESS_KEY_ID, secretAccessKey: e.AWS_SECRET_ACCESS_KEY!, ...(e.AWS_SESSION_TOKEN ? { sessionToken: e.AWS_SESSION_TOKEN } : {}) } }
      : {}),
  };
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}
