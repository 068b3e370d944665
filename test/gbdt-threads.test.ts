import { describe, expect, it } from 'vitest';
import { CONTROL_JOB, GbdtThreads } from '../src/training/gbdt-threads';

/** Blocks this thread for `ms` (the helpers keep running). */
function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe('GBDT helper threads', () => {
  it('a helper woken with no new job does not run the last one again', () => {
    const rows = 64;
    const threads = new GbdtThreads(rows, 2, 2);
    try {
      expect(threads.threads).toBe(2);
      const b = threads.buffers;
      for (let i = 0; i < rows; i++) {
        b.rowMajor[i * 2] = 1 + (i % 3);
        b.rowMajor[i * 2 + 1] = 1 + (i % 5);
        b.gh[2 * i] = i;
        b.gh[2 * i + 1] = 1;
      }
      threads.histograms(0, rows, true);
      // The helper's share is feature 1. Mark its slots: running the job again would overwrite them.
      const helperSlots = b.hist.subarray(256 * 3, 2 * 256 * 3);
      helperSlots.fill(-1);
      // A wake-up with no new job, as when the main thread is preempted between storing a job's
      // number and notifying, and the helper finishes that job and waits again before the notify.
      let woken = 0;
      for (let tries = 0; woken === 0 && tries < 5000; tries++) {
        woken = Atomics.notify(b.control, CONTROL_JOB);
        if (woken === 0) sleep(1);
      }
      expect(woken).toBe(1);
      sleep(200);
      expect(helperSlots.every((v) => v === -1)).toBe(true);
      // And the next real job still runs on both threads.
      expect(threads.histograms(0, rows, true)[(256 + 1) * 3 + 2]).toBe(Math.ceil(rows / 5));
    } finally {
      threads.close();
    }
  });
});
