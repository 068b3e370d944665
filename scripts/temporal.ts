/**
 * `npm run temporal`: a local Temporal dev server for development and the demo, persisted in a
 * SQLite file under the data dir, with our search attributes registered. Ctrl-C stops it.
 * `npm run temporal -- --install` only provisions the CLI binary (used by CI).
 */
import * as path from 'node:path';
import { loadConfig } from '../src/config';
import { resolveTemporalCli } from '../src/temporal/cli-binary';
import { startDevServer } from '../src/temporal/dev-server';
import { splitAddress } from '../src/temporal/readiness';
import { runScript, serveUntilStopped } from './serve';

async function main(): Promise<void> {
  if (process.argv.includes('--install')) {
    console.log(await resolveTemporalCli());
    return;
  }
  const config = loadConfig();
  const { host, port } = splitAddress(config.temporalAddress);
  const dbFile = path.join(config.dataDir, 'temporal', 'dev-server.sqlite');
  const logFile = path.join(config.dataDir, 'temporal', 'dev-server.log');
  const server = await startDevServer({
    ip: host,
    port,
    uiPort: Number(process.env.TEMPORAL_UI_PORT ?? 8233),
    dbFile,
    logFile,
    namespace: config.namespace,
    uiCodecEndpoint: process.env.MLOPS_CODEC_ENDPOINT || undefined,
  });
  console.log(`Temporal dev server (pid ${server.pid}) on ${server.address}`);
  console.log(`  Web UI:      ${server.uiUrl}`);
  console.log(`  persistence: ${dbFile}`);
  console.log(`  log:         ${logFile}`);
  await serveUntilStopped(server);
}

runScript(main);
