import * as fs from 'node:fs';
import * as path from 'node:path';
import { goInstall, goModCache, isExecutable, publishFolder } from '../go-install';
import { temporalCacheDir } from '../cache-dir';
import type { ResolveOptions } from './cli-binary';

/**
 * The official Temporal server (not the dev server) and what it needs to run on PostgreSQL:
 * `temporal-server`, `temporal-sql-tool`, the PostgreSQL schema and the module's own
 * development-postgres12 configuration, all from one `go install` of the server module, kept
 * together in one cache folder (the Go module cache may be cleaned; the schema must match the
 * binaries). v1.29.1 is the server docker-compose.yml runs (temporalio/auto-setup:1.29.1).
 *
 * The Web UI server is a separate module (the one the Temporal CLI embeds, and the
 * temporalio/ui image docker-compose.yml runs), built only when a Web UI is asked for.
 */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
export const TEMPORAL_UI_SERVER_VERSION = 'v2.42.1';

const SERVER_MODULE = 'go.temporal.io/server';
const UI_SERVER_PACKAGE = `github.com/temporalio/ui-server/v2/cmd/server@${TEMPORAL_UI_SERVER_VERSION}`;

export interface TemporalServerKit {
  server: string;
  sqlTool: string;
  /** schema/postgresql/v12: `temporal/versioned` and `visibility/versioned`. */
  postgresSchemaDir: string;
  /** The module's config/development-postgres12.yaml, which ours are derived from. */
  postgresConfigFile: string;
  /** The module's config/dynamicconfig/development-sql.yaml. */
  dynamicConfigFile: string;
}

export function cachedServerKitDir(): string {
  return path.join(temporalCacheDir(), `temporal-server-${TEMPORAL_SERVER_VERSION}`);
}

function kitIn(dir: string): TemporalServerKit {
  return {
    server: path.join(dir, 'temporal-server'),
    sqlTool: path.join(dir, 'temporal-sql-tool'),
    postgresSchemaDir: path.join(dir, 'schema', 'postgresql', 'v12'),
    postgresConfigFile: path.join(dir, 'config', 'development-postgres12.yaml'),
    dynamicConfigFile: path.join(dir, 'config', 'dynamicconfig', 'development-sql.yaml'),
  };
}

function log(options: ResolveOptions): (line: string) => void {
  return options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
}

export async function resolveTemporalServerKit(options: ResolveOptions = {}): Promise<TemporalServerKit> {
  const dir = cachedServerKitDir();
  const kit = kitIn(dir);
  if (isExecutable(kit.server) && isExecutable(kit.sqlTool)) return kit;
  if (options.noBuild) throw new Error(`No Temporal server at ${dir}; run \`npm run temporal:postgres -- --install\` first.`);
  await goInstall({
    what: `the Temporal server ${TEMPORAL_SERVER_VERSION} (with temporal-sql-tool)`,
    packages: [`${SERVER_MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION}`, `${SERVER_MODULE}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`],
    cacheDir: temporalCacheDir(),
    publish: (gobin) => {
      const staged = kitIn(gobin);
      fs.renameSync(path.join(gobin, 'server'), staged.server);
      fs.renameSync(path.join(gobin, 'sql'), staged.sqlTool);
      const source = path.join(goModCache(), `${SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`);
      copyWritable(path.join(source, 'schema', 'postgresql', 'v12'), staged.postgresSchemaDir);
      copyWritable(path.join(source, 'config', 'development-postgres12.yaml'), staged.postgresConfigFile);
      copyWritable(path.join(source, 'config', 'dynamicconfig', 'development-sql.yaml'), staged.dynamicConfigFile);
      fs.chmodSync(gobin, 0o755);
      return publishFolder(gobin, dir);
    },
    alternatives: ['run Temporal yourself (docker compose up, see README) and point TEMPORAL_ADDRESS at it'],
    log: log(options),
  });
  return kit;
}

export function cachedUiServerPath(): string {
  return path.join(temporalCacheDir(), `temporal-ui-server-${TEMPORAL_UI_SERVER_VERSION}`);
}

export async function resolveTemporalUiServer(options: ResolveOptions = {}): Promise<string> {
  const target = cachedUiServerPath();
  if (isExecutable(target)) return target;
  if (options.noBuild) throw new Error(`No Temporal Web UI server at ${target}; run \`npm run temporal:postgres -- --install\` first.`);
  await goInstall({
    what: `the Temporal Web UI server ${TEMPORAL_UI_SERVER_VERSION}`,
    packages: [UI_SERVER_PACKAGE],
    cacheDir: path.dirname(target),
    publish: (gobin) => fs.renameSync(path.join(gobin, 'server'), target),
    alternatives: ['run the Web UI yourself (the temporalio/ui image) against the server, or start without a UI (--headless)'],
    log: log(options),
  });
  return target;
}

/** Module cache files are read-only; our copies must stay removable with the cache folder. */
function copyWritable(from: string, to: string): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.cpSync(from, to, { recursive: true });
  const chmod = (p: string) => {
    const stat = fs.statSync(p);
    fs.chmodSync(p, stat.isDirectory() ? 0o755 : 0o644);
    if (stat.isDirectory()) for (const entry of fs.readdirSync(p)) chmod(path.join(p, entry));
  };
  chmod(to);
}
