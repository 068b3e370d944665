import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTraining } from '../src/client/train';
import { MAX_LOG_BYTES } from '../src/training/external';
import type { TrainRequestInput } from '../src/training/request';
import { type TestEnv, startTestEnv } from './helpers/env';
import { rootFailure } from './helpers/failures';
import { ingestChurn } from './helpers/training';
import { until } from './helpers/wait';
import { killWorker, spawnWorker, stopWorker, waitForWork } from './helpers/worker-process';

/**
 * External trainers under control: their whole process group ends with them (on exit, timeout,
 * and when the worker that started them dies), the allowlist compares real paths, and their
 * output is read in linear time into a log of bounded size.
 */
const python = inject('sklearnPython');
const TRAIN_PY = path.resolve(__dirname, '..', 'examples', 'sklearn-trainer', 'train.py');
let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv('trainer-control', { MLOPS_TRAINER_COMMANDS: `${python}:sh` });
  await ingestChurn(env);
});
/** Process groups this file started, ended whatever happens to the tests. */
const started = new Set<number>();
afterAll(async () => {
  for (const pgid of started) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
  await env?.shutdown();
});

const command = (argv: string[], timeoutSeconds = 120): TrainRequestInput => ({ model: 'ctl', dataset: 'churn', trainer: { kind: 'command', command: argv, timeoutSeconds } });
const train = async (request: TrainRequestInput, run: string) => (await startTraining(env.client, env.config, request, run)).result();

/** Alive and not a zombie (a killed orphan stays a zombie until someone reaps it). */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
const pidIn = (file: string) => Number(fs.readFileSync(file, 'utf8').trim().split('\n')[0]);
/** The process group of a pid (the trainer's, for the test's cleanup). */
const groupOf = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[2]);
const track = (pid: number) => {
  try {
    started.add(groupOf(pid));
  } catch {
    // already gone
  }
  return pid;
};

describe("an external trainer's process group", () => {
  it('ends when the command exits, even with a background child holding stdout', async () => {
    const bg = path.join(env.inputDir, 'bg.pid');
    const started = Date.now();
    const result = await train(command(['sh', '-c', `sleep 300 & echo $! > '${bg}'; exec '${python}' '${TRAIN_PY}'`]), 'background');
    console.log(`finished ${((Date.now() - started) / 1000).toFixed(1)} s after start with a background child holding stdout`);
    expect(result.summary.trainer.kind).toBe('command');
    await until('the background child to end', async () => (running(track(pidIn(bg))) ? undefined : true), { timeoutMs: 5_000 });
    expect(fs.readdirSync(env.store.trainerGroupsDir())).toEqual([]);
  });

  it('ends on timeout, children included', async () => {
    const bg = path.join(env.inputDir, 'bg-timeout.pid');
    const failure = await rootFailure(train(command(['sh', '-c', `sleep 300 & echo $! > '${bg}'; sleep 300`], 2), 'timeout'));
    expect(failure.type).toBe('TrainerTimeout');
    await until('the background child to end', async () => (running(track(pidIn(bg))) ? undefined : true), { timeoutMs: 5_000 });
  });

  it('ends when its worker is killed: the next worker reaps it at startup, and the retry runs alone', async () => {
    const taskQueue = `trainer-kill-${randomBytes(4).toString('hex')}`;
    const config = { ...env.config, taskQueue };
    const extra = { MLOPS_TRAINER_COMMANDS: `${python}:sh` };
    const starts = path.join(env.inputDir, 'starts.log');
    // The first run waits forever; the retry notes the state of the first (/proc: Z or gone = ended), then trains.
    const script =
      `if [ -s '${starts}' ]; then first=$(head -n1 '${starts}'); echo "retry, first: $(awk '{print $3}' /proc/$first/stat 2>/dev/null || true)" >> '${starts}'; exec '${python}' '${TRAIN_PY}'; ` +
      `else echo $$ >> '${starts}'; sleep 600; fi`;
    const first = spawnWorker(config, taskQueue, extra);
    const handle = await startTraining(env.client, config, command(['sh', '-c', script], 600), 'killed');
    await waitForWork(() => fs.existsSync(starts), first, 'the trainer to start');
    const orphan = track(pidIn(starts));
    // Recorded just after the spawn returned: the trainer may well have written its line first.
    await waitForWork(
      () => fs.existsSync(env.store.trainerGroupsDir()) && fs.readdirSync(env.store.trainerGroupsDir()).some((f) => f.includes(`-${orphan}-`)),
      first,
      'its process group to be recorded',
    );
    await killWorker(first.child);
    expect(running(orphan)).toBe(true);

    const second = spawnWorker(config, taskQueue, extra);
    try {
      await waitForWork(() => !running(orphan), second, 'the orphaned trainer to be ended', 60_000);
      // At startup, before it polls for the retry.
      expect(second.output()).toMatch(/ended 1 external trainer process group\(s\) left by a worker that died/);
      const result = await handle.result();
      expect(result.summary.version).toMatch(/^[0-9a-f]{16}$/);
      const lines = fs.readFileSync(starts, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[1]).toMatch(/^retry, first: ?Z?$/);
      expect(fs.readdirSync(env.store.trainerGroupsDir())).toEqual([]);
    } finally {
      await stopWorker(second.child);
    }
  });
});

describe('the allowlist', () => {
  it('compares the real path of what would run, not its name', async () => {
    const fake = path.join(env.inputDir, 'fake');
    fs.mkdirSync(fake, { recursive: true });
    fs.writeFileSync(path.join(fake, 'sh'), '#!/bin/sh\necho pwned\n', { mode: 0o755 });
    const refused = await rootFailure(train(command([path.join(fake, 'sh'), '-c', 'exit 0']), 'fake-sh'));
    expect(refused.type).toBe('InvalidInput');
    expect(refused.message).toMatch(
      new RegExp(
        `Trainer executable ".*/fake/sh" is not allowed on this worker: it runs .*/fake/sh, and MLOPS_TRAINER_COMMANDS=.* admits .*Executables are compared by their real path, not their name`,
      ),
    );
    // Another name for the same file is the same executable.
    fs.symlinkSync(fs.realpathSync('/bin/sh'), path.join(fake, 'shell'));
    const ran = await rootFailure(train(command([path.join(fake, 'shell'), '-c', 'exit 7']), 'alias'));
    expect(ran.message).toMatch(/exited with code 7/);
  });
});

describe('trainer output', () => {
  it('is read in linear time and kept within bounds, however long its lines', async () => {
    const cpu = process.cpuUsage();
    const started = Date.now();
    const failure = await rootFailure(train(command([python, '-c', "import sys; sys.stdout.write('x' * 64_000_000); sys.stdout.flush(); sys.exit(3)"]), 'long-line'));
    const used = process.cpuUsage(cpu);
    console.log(
      `64 MB without a newline: ${((Date.now() - started) / 1000).toFixed(1)} s wall, ${((used.user + used.system) / 1e6).toFixed(1)} CPU-s in the test process (worker included)`,
    );
    expect(failure.type).toBe('TrainerFailed');
    expect(failure.message).toMatch(/exited with code 3[\s\S]*x{500} …$/);
    expect(failure.message.length).toBeLessThan(2_000);

    const chatty = await train(command(['sh', '-c', `yes 'epoch done' | head -c 24000000; exec '${python}' '${TRAIN_PY}'`]), 'chatty');
    const log = path.join(path.dirname(chatty.summary.cardUri), 'trainer.log');
    expect(fs.statSync(log).size).toBeLessThanOrEqual(MAX_LOG_BYTES + 200);
    expect(fs.readFileSync(log, 'utf8')).toMatch(/\[mlops: the log was cut at 16777216 bytes; \d+ more bytes of output were not kept\]\n$/);
  });
});
