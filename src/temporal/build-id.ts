import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The build id a worker runs as when MLOPS_BUILD_ID is not set: `<package version>-<hash8>`, the
 * hash over every source file of the code tree the worker runs from (src/ under tsx, lib/ in a
 * build). Two machines with the same code agree on it without a CI variable; any change to the
 * workflow or activity code makes a new build, so a pinned workflow never meets other code.
 */
export function defaultBuildId(codeDir = path.resolve(__dirname, '..')): string {
  const hash = createHash('sha256');
  for (const file of sourceFiles(codeDir)) {
    hash.update(path.relative(codeDir, file).split(path.sep).join('/'));
    hash.update('\0');
    hash.update(fs.readFileSync(file));
    hash.update('\0');
  }
  return `${packageVersion(codeDir)}-${hash.digest('hex').slice(0, 8)}`;
}

function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((entry) => {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) return sourceFiles(p);
      return /\.(ts|js|cjs|mjs|json)$/.test(entry.name) && !entry.name.endsWith('.map') ? [p] : [];
    });
}

/** The nearest package.json above the code tree: ours, in the repository and in an installed package. */
function packageVersion(codeDir: string): string {
  for (let dir = codeDir; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: string }).version ?? '0.0.0';
    if (path.dirname(dir) === dir) return '0.0.0';
  }
}
