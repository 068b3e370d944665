import type { TestProject } from 'vitest/node';
import { startDevServer } from '../src/temporal/dev-server';
import { startPostgresTemporal } from '../src/temporal/postgres-server';
import { startVersitygw } from '../src/s3/versitygw';
import { ensureHttpfsExtension } from '../scripts/duckdb-extensions';
import { ensureJavaTestServer } from '../scripts/java-test-server';
import { ensureSklearnPython } from '../scripts/python-env';
import { CHROMIUM, ensureSystemProgram, OPENSSL, POSTGRESQL } from '../scripts/system-packages';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    /** The Web UI of that server (the browser test opens it). */
    temporalUiUrl: string;
    /** Python with scikit-learn and skl2onnx, for the external-trainer tests. */
    sklearnPython: string;
    /** A chromium the browser tests drive (installed from Debian on the first run if missing). */
    chromiumPath: string;
    /** One real S3 server (versitygw over a temp folder) for the run; path-style, no TLS. */
    s3: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
    /** The script that starts Temporal's Java time-skipping test server on a port (test/helpers/time-skipping.ts). */
    javaTestServer: string;
  }
}

/**
 * Everything the suite needs, provisioned on the first run of a fresh machine: the Temporal CLI
 * and versitygw (built with Go), DuckDB's httpfs extension (from PyPI), the Python environment,
 * chromium and openssl, Temporal's Java test server (from Maven Central; the time-skipping tests
 * start their own); then one real S3 server and one real Temporal dev server for the whole run,
 * on free ports, stopped by pid at the end.
 * MLOPS_TEST_SERVER=postgres (npm run test:postgres) → the official Temporal server on a
 * throwaway PostgreSQL cluster, with its Web UI, instead (built with Go on the first run).
 * TEMPORAL_ADDRESS set → the tests use that server instead (it must have our search attributes).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  project.provide('sklearnPython', ensureSklearnPython());
  project.provide('chromiumPath', ensureSystemProgram(CHROMIUM));
  ensureSystemProgram(OPENSSL);
  project.provide('javaTestServer', ensureJavaTestServer());
  await ensureHttpfsExtension();
  const s3 = await startVersitygw();
  project.provide('s3', { endpoint: s3.endpoint, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
  if (process.env.TEMPORAL_ADDRESS) {
    project.provide('temporalAddress', process.env.TEMPORAL_ADDRESS);
    project.provide('temporalUiUrl', process.env.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233');
    return () => s3.stop();
  }
  const kind = process.env.MLOPS_TEST_SERVER || 'dev';
  if (kind !== 'dev' && kind !== 'postgres') throw new Error(`MLOPS_TEST_SERVER=${kind}: expected dev (the default) or postgres`);
  const server = await (kind === 'postgres' ? startPostgresTemporal({ initdb: ensureSystemProgram(POSTGRESQL), ui: true }) : startDevServer({})).catch(async (err) => {
    await s3.stop();
    throw err;
  });
  project.provide('temporalAddress', server.address);
  project.provide('temporalUiUrl', server.uiUrl!);
  return async () => {
    await server.stop();
    await s3.stop();
  };
}
