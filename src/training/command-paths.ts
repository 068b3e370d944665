import * as fs from 'node:fs';
import * as path from 'node:path';
import { userError } from '../errors';
import type { TrainerConfig } from './request';

/**
 * A trainer command runs on the worker in a private folder, so a relative path in it
 * (`examples/sklearn-trainer/train.py`) would be looked up there and not be found. The client
 * makes such paths absolute against the directory the command was given from, before the
 * workflow starts; what looks like a relative path but names nothing there is refused.
 */
export function withAbsoluteCommandPaths<T extends TrainerConfig | undefined>(trainer: T, cwd = process.cwd()): T {
  if (trainer?.kind !== 'command') return trainer;
  return { ...trainer, command: trainer.command.map((arg, i) => absoluteIfPath(arg, i === 0, cwd)) };
}

/** The same for the trainers of retraining strategies. */
export function withAbsoluteStrategyPaths<S extends { trainer?: TrainerConfig }>(strategies: S[] | undefined, cwd = process.cwd()): S[] | undefined {
  return strategies?.map((s) => (s.trainer ? { ...s, trainer: withAbsoluteCommandPaths(s.trainer, cwd) } : s));
}

/** Options, absolute paths, and shell code handed to `sh -c` (spaces, operators) are left as they are. */
const NOT_A_PATH = /^-|\s|[;|&<>$`*?'"()]/;

function absoluteIfPath(arg: string, executable: boolean, cwd: string): string {
  if (NOT_A_PATH.test(arg) || path.isAbsolute(arg)) return arg;
  const resolved = path.resolve(cwd, arg);
  const pathLike = arg.includes('/') || arg.startsWith('.');
  // A bare executable name is looked up on PATH; a bare argument is a path only when it names a file here.
  if (!pathLike) return !executable && isFile(resolved) ? resolved : arg;
  if (fs.existsSync(resolved)) return resolved;
  throw userError(
    'InvalidInput',
    `Trainer command ${executable ? 'executable' : 'argument'} "${arg}" looks like a relative path, and nothing is at ${resolved}. ` +
      'The worker runs the command in its own folder, so relative paths are resolved against the directory you run mlops from: run it from there, or give an absolute path.',
  );
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}
