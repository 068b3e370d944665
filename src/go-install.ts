import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Builds Go programs from the Go module proxy (`go install pkg@version`) into a cache folder,
 * for the servers the project runs itself: the Temporal CLI, the Temporal server on PostgreSQL,
 * its Web UI, the S3 server. A build goes to a private folder and is published by a rename, so a
 * half-built binary is never found, and two processes building at once end with one copy.
 */
export interface GoInstallRequest {
  /** Named in progress lines and errors, e.g. "the Temporal CLI v1.5.1". */
  what: string;
  /** `module/cmd/x@version`, built by one `go install`. */
  packages: string[];
  /** Where the build folder is made (the same filesystem as the target, so the rename is atomic). */
  cacheDir: string;
  /** Publishes the built binaries (found in `gobin`) with renames; true when it did. */
  publish: (gobin: string) => boolean | void;
  /** What else the user can do where there is no Go, one line each. */
  alternatives: string[];
  log: (line: string) => void;
}

export class GoBuildUnavailable extends Error {
  override name = 'GoBuildUnavailable';
}

export function goAvailable(): boolean {
  return spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
}

/** `go env GOMODCACHE`: where `go install` left the sources of the modules it built. */
export function goModCache(): string {
  const result = spawnSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' });
  if (result.status !== 0 || !result.stdout.trim()) throw new GoBuildUnavailable(`\`go env GOMODCACHE\` failed: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

export async function goInstall(request: GoInstallRequest): Promise<void> {
  const { what, packages, log } = request;
  if (!goAvailable()) {
    const ways = [`install Go (https://go.dev/dl/) and rerun: it is then built once into ${request.cacheDir}`, ...request.alternatives];
    throw new GoBuildUnavailable(`${what[0]!.toUpperCase()}${what.slice(1)} is needed, and none was found.\n${ways.map((way) => `  - ${way}`).join(', or\n')}.`);
  }
  fs.mkdirSync(request.cacheDir, { recursive: true });
  const gobin = fs.mkdtempSync(path.join(request.cacheDir, '.build-'));
  log(`Building ${what} with Go (first run only; takes a few minutes)…`);
  const started = Date.now();
  const ticker = setInterval(() => log(`  …still building ${what} (${Math.round((Date.now() - started) / 1000)} s)`), 30_000);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('go', ['install', ...packages], { env: { ...process.env, GOBIN: gobin }, stdio: ['ignore', 'inherit', 'pipe'] });
      const tail: string[] = [];
      child.stderr.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          tail.push(line);
          if (tail.length > 30) tail.shift();
          if (!line.startsWith('go: downloading')) log(`  ${line}`);
        }
      });
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new GoBuildUnavailable(`go install ${packages.join(' ')} failed (exit ${code}):\n${tail.join('\n')}`))));
    });
    const published = request.publish(gobin) !== false;
    const took = `${Math.round((Date.now() - started) / 1000)} s`;
    log(published ? `Built ${what} (${took})` : `Built ${what} (${took}); another process published it first, using that copy`);
  } finally {
    clearInterval(ticker);
    fs.rmSync(gobin, { recursive: true, force: true });
  }
}

/** Renames a finished folder into place; false when another process published it first. */
export function publishFolder(from: string, to: string): boolean {
  try {
    fs.renameSync(from, to);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && fs.existsSync(to)) return false;
    throw err;
  }
}

export function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}
