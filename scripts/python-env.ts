import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { temporalCacheDir } from '../src/temporal/cli-binary';

const REQUIREMENTS = path.resolve(__dirname, '..', 'examples', 'sklearn-trainer', 'requirements.txt');
const PEER_REQUIREMENTS = path.resolve(__dirname, '..', 'bench', 'peers', 'requirements.txt');
const SMTP_REQUIREMENTS = path.resolve(__dirname, '..', 'test', 'helpers', 'smtp', 'requirements.txt');

/**
 * A Python virtualenv with the example trainer's requirements, built once per requirements file
 * into the cache (outside the repo) and reused: CI and every later run skip the install.
 */
export function ensureSklearnPython(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): string {
  return ensurePythonEnv('sklearn', REQUIREMENTS, 'the sklearn example trainer', log);
}

/** The benchmarks' Python peers (bench/peers/requirements.txt), built and reused the same way. */
export function ensurePeersPython(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): string {
  return ensurePythonEnv('peers', PEER_REQUIREMENTS, "the benchmarks' Python peers", log);
}

/** aiosmtpd for the email-channel tests' local SMTP server (test/helpers/smtp), built and reused the same way. */
export function ensureSmtpPython(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): string {
  return ensurePythonEnv('smtp', SMTP_REQUIREMENTS, "the email tests' SMTP server", log);
}

function ensurePythonEnv(name: string, requirementsFile: string, purpose: string, log: (line: string) => void): string {
  const requirements = fs.readFileSync(requirementsFile);
  const key = createHash('sha256').update(requirements).digest('hex').slice(0, 8);
  const venv = path.join(temporalCacheDir(), `venv-${name}-${key}`);
  const python = path.join(venv, 'bin', 'python');
  if (fs.existsSync(path.join(venv, '.complete'))) return python;
  log(`Creating a Python environment for ${purpose} in ${venv} (first run only) …`);
  fs.rmSync(venv, { recursive: true, force: true });
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  };
  run('python3', ['-m', 'venv', venv]);
  run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirementsFile]);
  fs.writeFileSync(path.join(venv, '.complete'), '');
  return python;
}
