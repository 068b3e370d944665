import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { userError } from '../errors';

/**
 * Which executables external trainers may start (MLOPS_TRAINER_COMMANDS). Entries and commands
 * are compared by the real path of the file that would run, not by name: any file called
 * `python3` used to pass. A bare name is looked up on PATH, as a shell would; a relative path is
 * taken from the worker's folder. What runs is the file located here.
 */
async function locate(executable: string, searchPath: string, cwd: string): Promise<string | undefined> {
  const candidates = executable.includes('/')
    ? [path.resolve(cwd, executable)]
    : searchPath
        .split(':')
        .filter(Boolean)
        .map((dir) => path.join(dir, executable));
  for (const candidate of candidates) {
    try {
      await fs.access(candidate, fs.constants.X_OK);
      if ((await fs.stat(candidate)).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

const realOf = (p: string) => fs.realpath(p).catch(() => undefined);

/** The path to run for `executable` if the allowlist admits it; a user error saying why not otherwise. */
export async function allowedExecutable(executable: string, allowed: readonly string[], env: NodeJS.ProcessEnv, cwd: string): Promise<string> {
  if (allowed.length === 0) {
    throw userError(
      'InvalidInput',
      'External trainer commands are disabled on this worker; set MLOPS_TRAINER_COMMANDS to the executables it may run (e.g. "python3" or "/opt/venv/bin/python"), or "*"',
    );
  }
  const located = await locate(executable, env.PATH ?? '', cwd);
  if (!located) throw userError('TrainerFailed', `Trainer executable "${executable}" was not found${executable.includes('/') ? '' : ' on PATH'} or is not executable`);
  if (allowed.includes('*')) return located;
  const real = await realOf(located);
  // Entries are resolved the same way, from the worker's own folder and PATH.
  const admitted = await Promise.all(
    allowed.map(async (entry) => {
      const at = await locate(entry, process.env.PATH ?? '', process.cwd());
      return at ? realOf(at) : undefined;
    }),
  );
  if (real && admitted.includes(real)) return located;
  throw userError(
    'InvalidInput',
    `Trainer executable "${executable}" is not allowed on this worker: it runs ${real ?? located}, and MLOPS_TRAINER_COMMANDS=${allowed.join(':')} admits ` +
      `${admitted.filter(Boolean).join(', ') || 'nothing that exists here'}. Executables are compared by their real path, not their name.`,
  );
}
