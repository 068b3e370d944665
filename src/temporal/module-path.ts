import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * A module the SDK loads by path (workflow bundle, failure converter): the .ts source under
 * tsx/vitest, the compiled .js in a build.
 */
export function modulePath(dir: string, name: string): string {
  const ts = path.join(dir, `${name}.ts`);
  return fs.existsSync(ts) ? ts : path.join(dir, `${name}.js`);
}
