import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { locateDebianInitdb } from '../src/temporal/postgres-cluster';

/**
 * Programs the test suite needs from the operating system (Debian's chromium for the browser
 * tests, openssl for the TLS test), installed by the test setup itself where this user may
 * install packages, so `npm test` passes on a fresh machine with nothing installed by hand.
 * Elsewhere: one message with the exact command.
 */
export interface SystemProgram {
  /** What it is for, in the message. */
  purpose: string;
  /** The executable to find (absolute path, or a name looked up on PATH). */
  executable: string;
  debianPackage: string;
  /** An environment variable that points at another copy (e.g. CHROMIUM_PATH). */
  overrideVariable?: string;
  /** Finds the executable where the package puts it off PATH (instead of looking up `executable`). */
  locate?: () => string | undefined;
}

export const CHROMIUM: SystemProgram = {
  purpose: 'the browser tests (the Temporal Web UI in headless chromium)',
  executable: '/usr/bin/chromium',
  debianPackage: 'chromium',
  overrideVariable: 'CHROMIUM_PATH',
};

export const OPENSSL: SystemProgram = { purpose: 'the TLS test (throwaway certificates)', executable: 'openssl', debianPackage: 'openssl' };

/** The Java test server (time-skipping workflow tests) runs on the JVM; Maven fetches it and its jars. */
export const JAVA: SystemProgram = { purpose: "the time-skipping workflow tests (Temporal's Java test server)", executable: 'java', debianPackage: 'default-jre-headless' };
export const MAVEN: SystemProgram = { purpose: "fetching Temporal's Java test server for the time-skipping workflow tests", executable: 'mvn', debianPackage: 'maven' };

/** Debian's server binaries live in /usr/lib/postgresql/<major>/bin, off PATH; initdb names them all. */
export const POSTGRESQL: SystemProgram = {
  purpose: 'Temporal on PostgreSQL (npm run temporal:postgres, npm run test:postgres)',
  executable: 'initdb',
  debianPackage: 'postgresql',
  overrideVariable: 'MLOPS_POSTGRES_INITDB',
  locate: locateDebianInitdb,
};

function found(program: SystemProgram): string | undefined {
  return program.locate ? program.locate() : onPath(program.executable);
}

function onPath(executable: string): string | undefined {
  if (executable.includes('/')) return isExecutable(executable) ? executable : undefined;
  const r = spawnSync('sh', ['-c', `command -v ${executable}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `sudo` when needed and allowed without a password; null when this user cannot install packages. */
function installPrefix(): string[] | null {
  if (!onPath('apt-get')) return null;
  if (process.getuid?.() === 0) return [];
  return spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0 ? ['sudo', '-n'] : null;
}

/** The program's path: found, or installed now (first run only), or an error that says how to get it. */
export function ensureSystemProgram(program: SystemProgram, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): string {
  const override = program.overrideVariable ? process.env[program.overrideVariable] : undefined;
  if (override) {
    if (!isExecutable(override)) throw new Error(`${program.overrideVariable}=${override} is not an executable file.`);
    return override;
  }
  const existing = found(program);
  if (existing) return existing;
  const command = `apt-get install -y --no-install-recommends ${program.debianPackage}`;
  const prefix = installPrefix();
  if (!prefix) {
    throw new Error(
      `${program.executable} is needed for ${program.purpose} and is not installed. Install it with:\n` +
        `  sudo ${command}` +
        (program.overrideVariable ? `\nor set ${program.overrideVariable} to a copy you have.` : ''),
    );
  }
  log(`Installing Debian's ${program.debianPackage} for ${program.purpose} (first run only; about a minute) …`);
  const started = Date.now();
  // Another test run may hold the package lock at the same moment: wait for it instead of failing.
  const apt = (...args: string[]) => {
    const argv = [...prefix, 'apt-get', '-o', 'DPkg::Lock::Timeout=600', ...args];
    return spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  };
  let result = apt('install', '-y', '--no-install-recommends', program.debianPackage);
  if (result.status !== 0) {
    // A fresh machine's package lists may be missing or stale.
    apt('update');
    result = apt('install', '-y', '--no-install-recommends', program.debianPackage);
  }
  const installed = found(program);
  if (result.status !== 0 || !installed) {
    throw new Error(
      `Could not install ${program.debianPackage} for ${program.purpose} (${[...prefix, command].join(' ')}):\n${result.stderr.trim().split('\n').slice(-10).join('\n')}`,
    );
  }
  log(`  ${program.debianPackage} installed (${Math.round((Date.now() - started) / 1000)} s)`);
  return installed;
}
