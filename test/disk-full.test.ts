import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, startIngest } from '../src/client/ingest';
import { startTraining } from '../src/client/train';
import { resourceFailure } from '../src/resources';
import { type TestEnv, startTestEnv } from './helpers/env';
import { rootFailure } from './helpers/failures';
import { finishingAttempt } from './helpers/worker-process';

/**
 * A full disk used to be a retryable internal error: five attempts, then `Error: ENOSPC …` naming
 * no file. It must stop at once and say which path is full. The end-to-end cases put a worker's
 * artifact store on a 3 MB tmpfs (mounting needs root; elsewhere they are skipped, saying so);
 * the first case writes to /dev/full and runs anywhere on Linux.
 */
const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-full-'));
const mounted = (() => {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mountPoint], { stdio: 'ignore' });
    return true;
  } catch {
    console.warn('disk-full: cannot mount a tmpfs here (not root?); the end-to-end disk-full cases are skipped');
    return false;
  }
})();

let env: TestEnv | undefined;
beforeAll(async () => {
  if (mounted) env = await startTestEnv('disk-full', { MLOPS_DATA_DIR: path.join(mountPoint, 'store') });
});
afterAll(async () => {
  await env?.shutdown();
  if (mounted) execFileSync('umount', [mountPoint]);
  fs.rmSync(mountPoint, { recursive: true, force: true });
});

describe('ENOSPC from the operating system', () => {
  it('becomes a non-retryable DiskFull naming where it was writing', async () => {
    const err = await fs.promises.writeFile('/dev/full', Buffer.alloc(64 * 1024)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    const failure = await resourceFailure(err, { storeRoot: '/srv/mlops', memoryLimit: '1GiB' });
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'DiskFull', nonRetryable: true });
    // A failed write() carries no path: the store root is where it was writing.
    expect(failure!.message).toMatch(/^The disk is full \(ENOSPC\) writing under the artifact store \/srv\/mlops/);
    expect(await resourceFailure(new Error('ordinary'), { storeRoot: '/srv/mlops', memoryLimit: '1GiB' })).toBeUndefined();
  });
});

describe.skipIf(!mounted)('a worker whose artifact store fills up', () => {
  it('fails an ingest bigger than the free space at once, naming the file it could not write', async () => {
    const file = path.join(env!.inputDir, 'big.csv');
    fs.writeFileSync(file, `id,x\n${Array.from({ length: 400_000 }, (_, i) => `${i},${i % 97}`).join('\n')}\n`);
    expect(fs.statSync(file).size).toBeGreaterThan(3_000_000);
    const handle = await startIngest(env!.client, env!.config, { dataset: 'big', source: file });
    const failure = await rootFailure(handle.result());
    console.log(`ingest on a full disk: ${failure.type}: ${failure.message}`);
    expect(failure.type).toBe('DiskFull');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(
      new RegExp(
        `^The disk is full \\(ENOSPC\\) writing ${path.join(mountPoint, 'store', '.tmp')}/raw-big-[^ ]+/part-0000\\.csv \\(now [\\d.]+ \\w*B free of 3\\.1 MB on that filesystem\\)\\.`,
      ),
    );
    expect(await finishingAttempt(handle, 'stageRawSource')).toBe(1);
    expect(fs.existsSync(env!.store.path('raw', 'big'))).toBe(false);
    expect(fs.readdirSync(env!.store.tmpDir()).filter((n) => n.startsWith('raw-'))).toEqual([]);
  });

  it('fails training on a full disk at once, naming a path in the store', async () => {
    const file = path.join(env!.inputDir, 'small.csv');
    fs.writeFileSync(file, `id,x,y\n${Array.from({ length: 2000 }, (_, i) => `${i},${(i % 13) / 13},${i % 3 === 0}`).join('\n')}\n`);
    await ingest(env!.client, env!.config, {
      dataset: 'small',
      source: file,
      contract: {
        columns: [
          { name: 'id', type: 'integer' },
          { name: 'x', type: 'double' },
          { name: 'y', type: 'boolean' },
        ],
        key: ['id'],
        label: 'y',
      },
    });
    // Fill what is left.
    const filler = path.join(mountPoint, 'filler');
    try {
      fs.writeFileSync(filler, Buffer.alloc(4 * 1024 * 1024));
    } catch {
      // ENOSPC is the point: the part that fit stays.
    }
    try {
      const handle = await startTraining(env!.client, env!.config, { model: 'full', dataset: 'small', trainer: { kind: 'logistic', params: {} } });
      const failure = await rootFailure(handle.result());
      console.log(`training on a full disk: ${failure.type}: ${failure.message}`);
      expect(failure.type).toBe('DiskFull');
      expect(failure.message).toMatch(new RegExp(`^The disk is full \\(ENOSPC\\) writing ${path.join(mountPoint, 'store', '.tmp')}/model-full-[^ ]+/model\\.onnx \\(now 0 B free`));
      expect(await finishingAttempt(handle, 'trainModelVersion')).toBe(1);
      expect(fs.existsSync(env!.store.path('models', 'full'))).toBe(false);
    } finally {
      fs.rmSync(filler, { force: true });
    }
  });
});
