/**
 * `npm run s3`: a local S3 server (versitygw) over $MLOPS_DATA_DIR/s3/, for trying an s3:// store
 * without a cloud account; prints its endpoint and generated keys. Ctrl-C stops it.
 *   --install   only provision what S3 needs here: versitygw (built with Go) and DuckDB's
 *               httpfs extension (from PyPI), both into ~/.cache/temporal-mlops/
 */
import * as path from 'node:path';
import { loadConfig } from '../src/config';
import { resolveVersitygw, startVersitygw } from '../src/s3/versitygw';
import { ensureHttpfsExtension } from './duckdb-extensions';
import { runScript, serveUntilStopped } from './serve';

async function main(): Promise<void> {
  if (process.argv.includes('--install')) {
    console.log(`versitygw:        ${await resolveVersitygw()}`);
    console.log(`DuckDB httpfs:    ${await ensureHttpfsExtension()}`);
    return;
  }
  const config = loadConfig();
  const server = await startVersitygw({ dir: path.join(config.dataDir, 's3'), port: Number(process.env.MLOPS_S3_PORT ?? 7070) });
  console.log(`versitygw (pid ${server.pid()}) serving ${server.dir} on ${server.endpoint}`);
  console.log(`  AWS_ENDPOINT_URL=${server.endpoint}`);
  console.log(`  AWS_ACCESS_KEY_ID=${server.accessKeyId}`);
  console.log(`  AWS_SECRET_ACCESS_KEY=${server.secretAccessKey}`);
  console.log(`  AWS_REGION=${server.region}   (path-style addressing, no TLS)`);
  await serveUntilStopped(server);
}

runScript(main);
