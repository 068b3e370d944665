import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Finds (or builds) the official Temporal CLI, whose `server start-dev` is the dev server we run.
 *
 * Order: TEMPORAL_CLI_PATH → cached build outside the repo → `go install` into that cache.
 * v1.5.1 is pinned: it is the newest release that `go install …@version` accepts (later ones
 * carry a `replace` directive in go.mod, which `go install` refuses).
 */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const GO_PACKAGE = `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`;

export function temporalCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'temporal-mlops');
}

export function cachedCliPath(): string {
  return path.join(temporalCacheDir(), `temporal-${TEMPORAL_CLI_VERSION}`);
}

export class TemporalCliUnavailable extends Error {
  override name = 'TemporalCliUnavailable';
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

export interface ResolveOptions {
  /** Print build progress here (default: stderr). */
  log?: (line: string) => void;
  /** Only look, never build (used by commands that must start fast). */
  noBuild?: boolean;
}

export async function resolveTemporalCli(options: ResolveOptions = {}): Promise<string> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) {
      throw new TemporalCliUnavailable(`TEMPORAL_CLI_PATH=${fromEnv} is not an executable file.`);
    }
    return fromEnv;
  }
  const cached = cachedCliPath();
  if (isExecutable(cached)) return cached;
  if (options.noBuild) {
    throw new TemporalCliUnavailable(`No Temporal CLI at ${cached}; run \`npm run temporal:install\` first.`);
  }
  await buildWithGo(cached, log);
  return cached;
}

function goAvailable(): boolean {
  return spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
}

async function buildWithGo(target: string, log: (line: string) => void): Promise<void> {
  if (!goAvailable()) {
    throw new TemporalCliUnavailable(
      'The Temporal CLI is needed to run a local Temporal dev server, and none was found.\n' +
        `  - Install Go (https://go.dev/dl/) and rerun: the CLI is then built once into ${path.dirname(target)}, or\n` +
        '  - install the Temporal CLI yourself (https://docs.temporal.io/cli) and set TEMPORAL_CLI_PATH to it, or\n' +
        '  - point TEMPORAL_ADDRESS at a Temporal server you already run.',
    );
  }
  fs.mkdirSync(path.dirname(target), { recursive: true });
  // Build into a private folder, then rename: a half-built binary is never found in the cache.
  const gobin = fs.mkdtempSync(path.join(path.dirname(target), '.build-'));
  log(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with Go (first run only; takes a few minutes)…`);
  const started = Date.now();
  const ticker = setInterval(() => log(`  …still building (${Math.round((Date.now() - started) / 1000)} s)`), 30_000);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('go', ['install', GO_PACKAGE], {
        env: { ...process.env, GOBIN: gobin },
        stdio: ['ignore', 'inherit', 'pipe'],
      });
      const tail: string[] = [];
      child.stderr.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          tail.push(line);
          if (tail.length > 30) tail.shift();
          if (!line.startsWith('go: downloading')) log(`  ${line}`);
        }
      });
      child.on('error', reject);
      child.on('exit', (code) =>
        code === 0
          ? resolve()
          : reject(new TemporalCliUnavailable(`go install ${GO_PACKAGE} failed (exit ${code}):\n${tail.join('\n')}`)),
      );
    });
    fs.renameSync(path.join(gobin, 'temporal'), target);
    log(`Temporal CLI ready at ${target} (${Math.round((Date.now() - started) / 1000)} s)`);
  } finally {
    clearInterval(ticker);
    fs.rmSync(gobin, { recursive: true, force: true });
  }
}
