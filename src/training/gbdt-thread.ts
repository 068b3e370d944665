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
    Atomics.wait(c, CONTROL_JOB, seen);
    seen = Atomics.load(c, CONTROL_JOB);
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
