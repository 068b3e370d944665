import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { cachedExtensionDir, duckdbTarget, extensionFile, loadHttpfs } from '../src/sql/httpfs';

/**
 * DuckDB's httpfs extension for machines where DuckDB cannot download it (this project's
 * machines reach PyPI, not DuckDB's repository): DuckDB publishes each signed extension as a
 * PyPI wheel too (duckdb-extension-httpfs==<DuckDB version>). Downloaded once with pip, for the
 * DuckDB version the binding in node_modules carries, into the project cache, where
 * src/sql/httpfs.ts finds it; then loaded once to prove DuckDB accepts it.
 */
export async function ensureHttpfsExtension(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<string> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    const target = await duckdbTarget(conn);
    const file = extensionFile(cachedExtensionDir(), target);
    if (!fs.existsSync(file)) await download(target.version.replace(/^v/, ''), file, log);
    await loadHttpfs(conn, cachedExtensionDir());
    return file;
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

async function download(version: string, file: string, log: (line: string) => void): Promise<void> {
  const requirement = `duckdb-extension-httpfs==${version}`;
  log(`Downloading DuckDB's httpfs extension (${requirement} from PyPI; first run only) …`);
  const started = Date.now();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const work = fs.mkdtempSync(path.join(path.dirname(file), '.download-'));
  try {
    const pip = pipCommand(work);
    const fetched = spawnSync(pip[0]!, [...pip.slice(1), 'download', '--quiet', '--disable-pip-version-check', '--no-deps', '--only-binary=:all:', '-d', work, requirement], {
      encoding: 'utf8',
    });
    if (fetched.status !== 0) throw new Error(`pip download ${requirement} failed:\n${fetched.stderr.trim()}`);
    const wheel = fs.readdirSync(work).find((f) => f.endsWith('.whl'));
    if (!wheel) throw new Error(`pip download ${requirement} left no wheel in ${work}`);
    // The wheel is a zip; Python (needed for pip anyway) extracts the one member.
    const staged = path.join(work, 'httpfs.duckdb_extension');
    const extract = spawnSync(
      'python3',
      [
        '-c',
        'import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nm = [n for n in z.namelist() if n.endswith("/httpfs.duckdb_extension")]\nopen(sys.argv[2], "wb").write(z.read(m[0]))',
        path.join(work, wheel),
        staged,
      ],
      { encoding: 'utf8' },
    );
    if (extract.status !== 0) throw new Error(`No httpfs.duckdb_extension in ${wheel}:\n${extract.stderr.trim()}`);
    fs.renameSync(staged, file);
    log(`  httpfs extension in ${file} (${Math.round((Date.now() - started) / 1000)} s)`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** `python3 -m pip`, or — where Debian's python3 comes without pip — the pip of a throwaway venv. */
function pipCommand(work: string): string[] {
  if (spawnSync('python3', ['-m', 'pip', '--version'], { stdio: 'ignore' }).status === 0) return ['python3', '-m', 'pip'];
  const venv = path.join(work, 'venv');
  const made = spawnSync('python3', ['-m', 'venv', venv], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`Neither \`python3 -m pip\` nor \`python3 -m venv\` works here (install python3-venv):\n${made.stderr.trim()}`);
  return [path.join(venv, 'bin', 'python'), '-m', 'pip'];
}
