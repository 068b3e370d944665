/**
 * `npm run temporal:postgres`: Temporal as docker-compose.yml runs it — the official server on
 * PostgreSQL with SQL visibility, and the Web UI — without Docker. The cluster and Temporal's
 * data are kept in $MLOPS_DATA_DIR/temporal/postgres/ across runs. Ctrl-C stops it.
 *   --install   only provision (the server binaries, the Web UI server, Debian's postgresql)
 *   --headless  no Web UI
 */
import * as path from 'node:path';
import { loadConfig } from '../src/config';
import { startPostgresTemporal } from '../src/temporal/postgres-server';
import { splitAddress } from '../src/temporal/readiness';
import { resolveTemporalServerKit, resolveTemporalUiServer } from '../src/temporal/server-binaries';
import { ensureSystemProgram, POSTGRESQL } from './system-packages';
import { runScript, serveUntilStopped } from './serve';

async function main(): Promise<void> {
  const initdb = ensureSystemProgram(POSTGRESQL);
  if (process.argv.includes('--install')) {
    console.log(`PostgreSQL:        ${initdb}`);
    console.log(`Temporal server:   ${(await resolveTemporalServerKit()).server}`);
    console.log(`Web UI server:     ${await resolveTemporalUiServer()}`);
    return;
  }
  const config = loadConfig();
  const { host, port } = splitAddress(config.temporalAddress);
  if (host !== '127.0.0.1' && host !== 'localhost') throw new Error(`TEMPORAL_ADDRESS=${config.temporalAddress}: this server listens on 127.0.0.1 only; use 127.0.0.1:<port>.`);
  const dir = path.join(config.dataDir, 'temporal', 'postgres');
  const started = Date.now();
  const server = await startPostgresTemporal({
    initdb,
    dir,
    port,
    namespace: config.namespace,
    ui: !process.argv.includes('--headless'),
    uiPort: Number(process.env.TEMPORAL_UI_PORT ?? 8233),
    uiCodecEndpoint: process.env.MLOPS_CODEC_ENDPOINT || undefined,
  });
  console.log(`Temporal server on PostgreSQL ${server.postgres.port} serving on ${server.address} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  if (server.uiUrl) console.log(`  Web UI:    ${server.uiUrl}`);
  console.log(`  data:      ${server.postgres.dataDir}`);
  console.log(`  logs:      ${path.join(dir, 'temporal.log')}, ui.log, postgres/postgres.log`);
  await serveUntilStopped(server);
}

runScript(main);
