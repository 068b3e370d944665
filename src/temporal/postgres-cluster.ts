import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCaptured } from '../processes';
import { describeLog, freePort, stopProcess } from './dev-server';

/**
 * A PostgreSQL cluster of our own: `initdb` + `pg_ctl` in a folder, on 127.0.0.1 and a free port,
 * with trust authentication for one superuser. The Temporal server on PostgreSQL stores its
 * history and its (SQL) visibility in it. Debian's server binaries are used as they are; they
 * refuse to run as root, so as root the cluster runs as the `postgres` user Debian's package made.
 */
export interface PostgresClusterOptions {
  /** Debian's initdb (`/usr/lib/postgresql/<major>/bin/initdb`); pg_ctl is taken beside it. */
  initdb: string;
  /** Holds data/, the Unix socket and postgres.log; a cluster already in it is started again. */
  dir: string;
  /** 0 or omitted: a free one. */
  port?: number;
  superuser: string;
  /**
   * false: no fsync (throwaway test clusters; a crash may lose them, a clean restart does not).
   * Takes effect when the cluster is created.
   */
  durable?: boolean;
}

export interface PostgresCluster {
  port: number;
  dataDir: string;
  logFile: string;
  /** true when this start created the cluster: it holds no databases of ours yet. */
  created: boolean;
  /** The postmaster's pid (changes on restart). */
  pid(): number;
  /** `pg_ctl restart -m fast`: every connection is cut, as when a database server restarts. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** The newest Debian PostgreSQL's initdb, where the `postgresql` package puts it (not on PATH). */
export function locateDebianInitdb(): string | undefined {
  const root = '/usr/lib/postgresql';
  const majors = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((d) => /^\d+$/.test(d))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  return majors.map((major) => path.join(root, major, 'bin', 'initdb')).find((p) => fs.existsSync(p));
}

interface Identity {
  uid: number;
  gid: number;
}

/** The C locale: messages we match on (and initdb's defaults) do not depend on the machine's. */
function runAs(command: string, args: string[], as: Identity | undefined) {
  return runCaptured(command, args, { ...as, env: { ...process.env, LC_ALL: 'C' } });
}

/** Who runs the cluster: ourselves, or (as root) the `postgres` user. */
function clusterIdentity(): Identity | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const uid = id('-u');
  const gid = id('-g');
  if (uid.status !== 0 || gid.status !== 0) {
    throw new Error(
      "PostgreSQL refuses to run as root, and there is no `postgres` user to run it as (Debian's postgresql package creates it): install postgresql, or run as another user.",
    );
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export class PostgresStartFailed extends Error {
  override name = 'PostgresStartFailed';
}

const PORT_ATTEMPTS = 4;

export async function startPostgresCluster(options: PostgresClusterOptions): Promise<PostgresCluster> {
  const bin = path.dirname(options.initdb);
  const pgCtl = path.join(bin, 'pg_ctl');
  const as = clusterIdentity();
  const dir = path.resolve(options.dir);
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  fs.mkdirSync(dir, { recursive: true });
  if (as) fs.chownSync(dir, as.uid, as.gid);

  const created = !fs.existsSync(path.join(dataDir, 'PG_VERSION'));
  if (created) {
    const init = await runAs(options.initdb, ['-D', dataDir, '-U', options.superuser, '--auth=trust', '-E', 'UTF8', '--locale=C', ...(options.durable ? [] : ['--no-sync'])], as);
    if (init.code !== 0) throw new PostgresStartFailed(`initdb failed (exit ${init.code}):\n${init.output.trim()}`);
    // Settings live in the cluster, so a restart (pg_ctl restart, or the next start) keeps them.
    const settings = ["listen_addresses = '127.0.0.1'", `unix_socket_directories = '${dir}'`, 'max_connections = 200'];
    if (!options.durable) settings.push('fsync = off', 'synchronous_commit = off', 'full_page_writes = off');
    fs.appendFileSync(path.join(dataDir, 'postgresql.conf'), `\n# temporal-mlops\n${settings.join('\n')}\n`);
  }

  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = options.port || (await freePort());
    const logStart = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
    const start = await runAs(pgCtl, ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', `-p ${port}`, 'start'], as);
    if (start.code === 0) break;
    const log = describeLog(logFile, logStart, false);
    if (!options.port && attempt < PORT_ATTEMPTS && /could not bind .*Address already in use/.test(log)) continue;
    throw new PostgresStartFailed(`PostgreSQL did not start in ${dataDir} on port ${port} (pg_ctl exit ${start.code}): ${start.output.trim()}${log}`);
  }

  const pid = () => Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return {
    port,
    dataDir,
    logFile,
    created,
    pid,
    async restart() {
      const logStart = fs.statSync(logFile).size;
      // -l again: without it the new postmaster would write its log to our pipe.
      const result = await runAs(pgCtl, ['-D', dataDir, '-l', logFile, '-m', 'fast', '-w', '-t', '60', 'restart'], as);
      if (result.code !== 0) throw new PostgresStartFailed(`pg_ctl restart failed (exit ${result.code}): ${result.output.trim()}${describeLog(logFile, logStart, false)}`);
    },
    async stop() {
      if (!fs.existsSync(path.join(dataDir, 'postmaster.pid'))) return;
      // Fast shutdown (SIGINT): ends open sessions, checkpoints; SIGTERM would wait for clients.
      await stopProcess(pid(), 30_000, 'SIGINT');
    },
  };
}
