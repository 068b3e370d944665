import * as fs from 'node:fs';
import * as path from 'node:path';
import { temporalCacheDir } from '../cache-dir';
import { goInstall, isExecutable } from '../go-install';

export { temporalCacheDir };

/**
 * Finds (or builds) the official Temporal CLI, whose `server start-dev` is the dev server we run.
 *
 * Order: TEMPORAL_CLI_PATH → cached build outside the repo → `go install` into that cache.
 * v1.5.1 is pinned: it is the newest release that `go install …@version` accepts (later ones
 * carry a `replace` directive in go.mod, which `go install` refuses).
 */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const GO_PACKAGE = `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`;

export function cachedCliPath(): string {
  return path.join(temporalCacheDir(), `temporal-${TEMPORAL_CLI_VERSION}`);
}

export class TemporalCliUnavailable extends Error {
  override name = 'TemporalCliUnavailable';
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

async function buildWithGo(target: string, log: (line: string) => void): Promise<void> {
  await goInstall({
    what: `the Temporal CLI ${TEMPORAL_CLI_VERSION}`,
    packages: [GO_PACKAGE],
    cacheDir: path.dirname(target),
    // A file rename replaces: two builds at once both publish, and either copy is whole.
    publish: (gobin) => fs.renameSync(path.join(gobin, 'temporal'), target),
    alternatives: [
      'install the Temporal CLI yourself (https://docs.temporal.io/cli) and set TEMPORAL_CLI_PATH to it',
      'point TEMPORAL_ADDRESS at a Temporal server you already run',
    ],
    log,
  });
}
