import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * External trainers run in process groups of their own, and each running group is recorded in a
 * file under the store (`.trainers/`), so that a worker killed with SIGKILL does not leave its
 * trainer running (seen: an orphan went on, and the retry started a second one). Whoever starts
 * next on this host — a worker at startup, or a trainer about to spawn — ends the groups whose
 * worker is gone.
 *
 * Identities are checked through /proc (Linux): a recorded pid that was reused by another process
 * has another start time, and a process group id cannot be handed out again while any member of
 * the group lives. Elsewhere nothing is reaped.
 */
export interface TrainerGroupRecord {
  host: string;
  pgid: number;
  /** Start time of the group leader (clock ticks since boot, /proc/<pid>/stat field 22). */
  leaderStart: string;
  worker: { pid: number; start: string };
  command: string[];
  at: string;
}

const PROC = fs.existsSync('/proc/self/stat');

interface ProcStat {
  state: string;
  pgid: number;
  start: string;
}

function procStat(pid: number | 'self'): ProcStat | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0]!, pgid: Number(rest[2]), start: rest[19]! };
  } catch {
    return undefined;
  }
}

/** A live process with this pid and start time (a zombie has ended; a pid with another start time is someone else). */
function isRunning(pid: number, start: string): boolean {
  const s = procStat(pid);
  return s !== undefined && s.state !== 'Z' && s.start === start;
}

/** Pids of live processes in a group. */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(Number(name));
    if (s && s.pgid === pgid && s.state !== 'Z') members.push(Number(name));
  }
  return members;
}

export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export class TrainerGroups {
  constructor(private readonly dir: string) {}

  /** Records a group that was just spawned (synchronously: the worker may die any moment). */
  record(pgid: number, command: readonly string[]): string | undefined {
    if (!PROC) return undefined;
    const leader = procStat(pgid);
    const self = procStat('self');
    if (!leader || !self) return undefined;
    const record: TrainerGroupRecord = {
      host: os.hostname(),
      pgid,
      leaderStart: leader.start,
      worker: { pid: process.pid, start: self.start },
      command: [...command],
      at: new Date().toISOString(),
    };
    fs.mkdirSync(this.dir, { recursive: true });
    const file = path.join(this.dir, `${os.hostname()}-${pgid}-${leader.start}.json`);
    fs.writeFileSync(file, JSON.stringify(record));
    return file;
  }

  release(file: string | undefined): void {
    if (file) fs.rmSync(file, { force: true });
  }

  /** Ends the recorded groups on this host whose worker process is gone; returns their pgids. */
  reapOrphans(): number[] {
    if (!PROC) return [];
    let names: string[];
    try {
      names = fs.readdirSync(this.dir).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    const reaped: number[] = [];
    for (const name of names) {
      const file = path.join(this.dir, name);
      let record: TrainerGroupRecord;
      try {
        record = JSON.parse(fs.readFileSync(file, 'utf8')) as TrainerGroupRecord;
      } catch {
        continue; // being written, or not ours to judge
      }
      if (record.host !== os.hostname() || isRunning(record.worker.pid, record.worker.start)) continue;
      // The leader still the one recorded, or members left behind by it: the group is ours.
      const leader = procStat(record.pgid);
      const ours = leader ? leader.start === record.leaderStart : groupMembers(record.pgid).length > 0;
      if (ours) {
        killGroup(record.pgid);
        reaped.push(record.pgid);
      }
      fs.rmSync(file, { force: true });
    }
    return reaped;
  }
}
