/**
 * `--store s3://bucket/prefix` for the benches: the same bench against an artifact store in a
 * bucket, beside the local-disk run, so the object store's cost is a ratio of the same run.
 *
 * With AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3) and the AWS_* keys set, that service and its
 * existing bucket are used (for AWS itself: AWS_ENDPOINT_URL=https://s3.<region>.amazonaws.com).
 * Without an endpoint, a throwaway versitygw (the project's starter, src/s3/versitygw.ts) serves a
 * folder under bench/out/ — the same disk as the local store, so the ratio is S3's protocol and
 * httpfs, not another disk — and the bucket is made; both go when the bench ends.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { loadConfig } from '../src/config';
import { type S3Server, startVersitygw } from '../src/s3/versitygw';
import type { ArtifactStore } from '../src/store/artifact-store';
import { openStore } from '../src/store/open';

export interface BenchS3Store {
  store: ArtifactStore;
  /** What the tables call it: the URL, and the server when it is the throwaway one. */
  label: string;
  /** The throwaway server, when no endpoint was set. */
  server?: S3Server;
  /** The settings that reach the store, for a bench's child processes (openStoreFromEnv). */
  env: Record<string, string>;
  /** Removes every object the bench wrote under the prefix. */
  clear(): Promise<void>;
  close(): Promise<void>;
}

/** The `--store` argument, when given; only s3:// stores (the local one is always measured). */
export function storeOption(argv = process.argv): string | undefined {
  const i = argv.indexOf('--store');
  if (i < 0) return undefined;
  const url = argv[i + 1];
  if (!url || !/^s3:\/\/[^/]+/.test(url)) throw new Error(`--store ${url ?? ''}: expected s3://bucket/prefix (the local disk is always measured beside it)`);
  return url;
}

/** Opens the store `url` names, starting a throwaway S3 server under `scratch` when no endpoint is set. */
export async function openBenchS3Store(url: string, scratch: string): Promise<BenchS3Store> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const dataDir = path.join(scratch, 'worker');
  if (process.env.AWS_ENDPOINT_URL || process.env.AWS_ENDPOINT_URL_S3) {
    const store = openStore(loadConfig({ ...process.env, MLOPS_DATA_DIR: dataDir, MLOPS_STORE: url }));
    await store.backend.check();
    return { store, label: url, env: { MLOPS_STORE: url }, clear: () => clearPrefix(store), close: async () => store.backend.close() };
  }
  const dir = path.join(scratch, 'versitygw');
  fs.rmSync(dir, { recursive: true, force: true });
  const server = await startVersitygw({ dir });
  try {
    const bucket = /^s3:\/\/([^/]+)/.exec(url)![1]!;
    const sdk = new S3Client({ endpoint: server.endpoint, region: server.region, forcePathStyle: true, credentials: server });
    await sdk.send(new CreateBucketCommand({ Bucket: bucket })).finally(() => sdk.destroy());
    const env = {
      MLOPS_STORE: url,
      AWS_ENDPOINT_URL: server.endpoint,
      AWS_ACCESS_KEY_ID: server.accessKeyId,
      AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
      AWS_REGION: server.region,
    };
    const store = openStore(loadConfig({ ...process.env, MLOPS_DATA_DIR: dataDir, ...env }));
    process.stderr.write(`throwaway versitygw (pid ${server.pid()}) on ${server.endpoint} over ${dir}\n`);
    return {
      store,
      label: `${url} (versitygw, same disk)`,
      server,
      env,
      clear: () => clearPrefix(store),
      async close() {
        store.backend.close();
        await server.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/**
 * Object by object: deleting the prefix itself as a folder (`delete('')`) makes versitygw's posix
 * backend refuse the directory object while empty subfolders remain.
 */
export async function clearPrefix(store: ArtifactStore, key = ''): Promise<void> {
  for (const o of await store.backend.list(key)) await store.backend.delete(o.key);
}

/** In a bench's child process: the store its parent opened, from the settings the parent passed (BenchS3Store.env). */
export function openStoreFromEnv(scratch: string): ArtifactStore {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return openStore(loadConfig({ ...process.env, MLOPS_DATA_DIR: scratch }));
}
