/** A helper thread of GbdtThreads: runs its share of each job on request. */
import { workerData } from 'node:worker_threads';
import { CONTROL_JOB, type GbdtBuffers, runShare } from './gbdt-threads';

const { buffers, slot, share, shares } = workerData as { buffers: GbdtBuffers; slot: number; share: number; shares: number };
const c = buffers.control;
let seen = 0;
Atomics.store(c, slot, 0); // started
Atomics.notify(c, slot);
try {
  for (;;) {
    // Wait for a job number other than the last one run: a wake-up alone is no new job. (The
    // main thread stores the number, then notifies; preempted in between, its notify can reach
    // us after we finished that very job, and running it again would race with its reads.)
    let job: number;
    while ((job = Atomics.load(c, CONTROL_JOB)) === seen) Atomics.wait(c, CONTROL_JOB, seen);
    seen = job;
    if (seen < 0) break;
    runShare(buffers, shares, share);
    Atomics.store(c, slot, seen);
    Atomics.notify(c, slot);
  }
} catch (error) {
  Atomics.store(c, slot, -1);
  Atomics.notify(c, slot);
  throw error;
}
