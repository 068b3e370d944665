import * as os from 'node:os';
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { startModuleThread } from '../threads';
import { binFeature, EDGE_SLOTS, MISSING_BIN } from './gbdt-bins';
import { histogramKernel, type KernelMemory, MemoryLayout, sharedKernelMemory } from './histogram-kernel';

/**
 * The row loops that dominate GBDT training, shared between threads on large problems
 * (as scikit-learn's OpenMP loops are):
 * - node histograms: for every feature and bin, [gradient sum, hessian sum, count], flat and
 *   interleaved at ((feature << 8) + bin) * 3, built in one pass over the node's rows in
 *   row-major bin order (each row's bins sit in one cache line). Threads split the features.
 *   The loop runs in WebAssembly (histogram.wat, 2.3× this TypeScript loop) over buffers in one
 *   shared WebAssembly memory; the TypeScript loop beside it is the fallback and gives the same sums.
 * - gradients and hessians of the loss at the current scores. Threads split the rows.
 * - partitioning a node's rows at a split (stable). Threads split the rows, then the main
 *   thread joins the pieces in order.
 * - binning the features before the first tree: each thread bins a feature of its own.
 *
 * Each feature's histogram is summed by one thread in row order, each gradient depends on its
 * row only, and the partition is stable, so results are bit for bit the same whatever the
 * thread count: the model does not depend on the machine.
 */
const SLOTS_PER_FEATURE = 256 * 3;

/** Below this many row × feature cells the work is too quick to be worth thread hand-offs. */
const THREADED_MIN_CELLS = 2_000_000;

/** Control words shared with helper threads. */
const JOB = 0; // job sequence number; -1 tells the threads to stop
const KIND = 1;
const START = 2;
const END = 3;
const IDENTITY = 4; // 1 when the rows are 0..n-1 and `order` can be skipped
const TASK = 5;
const FEATURE = 6;
const BIN = 7;
const MISSING_LEFT = 8;
const DONE_BASE = 9; // DONE_BASE + t: last job finished by helper t (0 once started), or -1 if it failed
const NOT_STARTED = -2;
const MAX_HELPERS = 7;

const HISTOGRAMS = 0;
const GRADIENTS = 1;
const PARTITION = 2;
const BINNING = 3;
const BINARY = 0;
const SQUARED_ERROR = 1;

/** A helper that has not started by then is dropped: results are the same without it, only slower. */
const HELPER_START_TIMEOUT_MS = 30_000;
/** No job takes this long; a helper silent for longer has died. */
const HELPER_JOB_TIMEOUT_MS = 600_000;

export interface GbdtBuffers {
  /** N × F bins, row by row (histograms read a row's bins together). */
  rowMajor: Uint8Array;
  /** The same bins feature by feature, F × N (a partition reads one feature). */
  columnMajor: Uint8Array;
  features: number;
  rows: number;
  /** Node rows live in order[start, end). */
  order: Uint32Array;
  /** Right-hand rows during a partition, at the same positions as in `order`. */
  scratch: Uint32Array;
  /** Left-hand row count of each thread's piece of a partition. */
  leftCounts: Int32Array;
  label: Float64Array;
  score: Float64Array;
  /** Gradient and hessian of each row, side by side (the kernel adds the pair as one value). */
  gh: Float64Array;
  /** Binning: thread t's feature values (float32, NaN = missing) at [t·rows, (t+1)·rows), its edges at [t·EDGE_SLOTS, …), their count. */
  binningValues: Float64Array;
  binningEdges: Float64Array;
  edgeCounts: Int32Array;
  /** Output of the current histogram build, all features. */
  hist: Float64Array;
  control: Int32Array;
  /** The shared WebAssembly memory rowMajor, order, gh and hist live in, when the WebAssembly kernel runs. */
  memory?: KernelMemory;
}

/** Which histogram loop runs: the model is the same with either. */
export type HistogramKernel = 'wasm' | 'js';

/** Histograms of rows order[start, end) (or start..end-1 when `identity`) for features [fFrom, fTo). */
function accumulate(b: GbdtBuffers, start: number, end: number, identity: boolean, fFrom: number, fTo: number): void {
  const { rowMajor, features, order, gh, hist } = b;
  hist.fill(0, fFrom * SLOTS_PER_FEATURE, fTo * SLOTS_PER_FEATURE);
  if (b.memory) {
    const kernel = histogramKernel(b.memory);
    kernel(rowMajor.byteOffset, features, order.byteOffset, gh.byteOffset, hist.byteOffset, start, end, identity ? 1 : 0, fFrom, fTo);
    return;
  }
  // Unrolled by four features: V8 does not unroll, and the loop is bound by the dependent updates.
  const unrolledTo = fFrom + ((fTo - fFrom) & ~3);
  for (let k = start; k < end; k++) {
    const i = identity ? k : order[k]!;
    const g = gh[2 * i]!;
    const h = gh[2 * i + 1]!;
    const base = i * features;
    let f = fFrom;
    for (; f < unrolledTo; f += 4) {
      const a = ((f << 8) + rowMajor[base + f]!) * 3;
      const b1 = (((f + 1) << 8) + rowMajor[base + f + 1]!) * 3;
      const c = (((f + 2) << 8) + rowMajor[base + f + 2]!) * 3;
      const d = (((f + 3) << 8) + rowMajor[base + f + 3]!) * 3;
      hist[a]! += g;
      hist[a + 1]! += h;
      hist[a + 2]! += 1;
      hist[b1]! += g;
      hist[b1 + 1]! += h;
      hist[b1 + 2]! += 1;
      hist[c]! += g;
      hist[c + 1]! += h;
      hist[c + 2]! += 1;
      hist[d]! += g;
      hist[d + 1]! += h;
      hist[d + 2]! += 1;
    }
    for (; f < fTo; f++) {
      const idx = ((f << 8) + rowMajor[base + f]!) * 3;
      hist[idx]! += g;
      hist[idx + 1]! += h;
      hist[idx + 2]! += 1;
    }
  }
}

/** Gradient and hessian of the loss for rows [from, to): binary log loss or squared error. */
function gradients(b: GbdtBuffers, task: number, from: number, to: number): void {
  const { score, label, gh } = b;
  if (task === BINARY) {
    for (let i = from; i < to; i++) {
      const p = 1 / (1 + Math.exp(-score[i]!));
      gh[2 * i] = p - label[i]!;
      gh[2 * i + 1] = Math.max(p * (1 - p), 1e-16);
    }
  } else {
    for (let i = from; i < to; i++) {
      gh[2 * i] = score[i]! - label[i]!;
      gh[2 * i + 1] = 1;
    }
  }
}

/** Stable partition of order[from, to): left rows to the front, right rows to scratch[from, …); returns the left count. */
function partitionPiece(b: GbdtBuffers, from: number, to: number, feature: number, bin: number, missingLeft: boolean): number {
  const { order, scratch } = b;
  const column = b.columnMajor.subarray(feature * b.rows, (feature + 1) * b.rows);
  // Which side each bin goes to, as a table: the loop then has no branch to mispredict (which
  // side a row goes is a coin flip to the CPU), only stores to both sides and two counters.
  const goesLeft = new Uint8Array(256);
  for (let v = 1; v <= bin; v++) goesLeft[v] = 1;
  goesLeft[MISSING_BIN] = missingLeft ? 1 : 0;
  let l = from;
  let r = from;
  for (let k = from; k < to; k++) {
    const i = order[k]!;
    const left = goesLeft[column[i]!]!;
    order[l] = i;
    scratch[r] = i;
    l += left;
    r += 1 - left;
  }
  return l - from;
}

/** Share t of `shares` of the range [0, length). */
function share(length: number, shares: number, t: number): [number, number] {
  return [Math.floor((t * length) / shares), Math.floor(((t + 1) * length) / shares)];
}

/** Runs the current job's share t (0 = main thread). */
export function runShare(b: GbdtBuffers, shares: number, t: number): void {
  const c = b.control;
  if (c[KIND] === HISTOGRAMS) {
    const [from, to] = share(b.features, shares, t);
    accumulate(b, c[START]!, c[END]!, c[IDENTITY] === 1, from, to);
  } else if (c[KIND] === BINNING) {
    const f = c[FEATURE]! + t; // the job's first feature, plus one per thread
    if (f < b.features) {
      const values = b.binningValues.subarray(t * b.rows, (t + 1) * b.rows);
      const column = b.columnMajor.subarray(f * b.rows, (f + 1) * b.rows);
      b.edgeCounts[t] = binFeature(values, c[BIN]!, b.binningEdges.subarray(t * EDGE_SLOTS, (t + 1) * EDGE_SLOTS), column, b.rowMajor, b.features, f);
    }
  } else if (c[KIND] === PARTITION) {
    const [from, to] = share(c[END]! - c[START]!, shares, t);
    b.leftCounts[t] = partitionPiece(b, c[START]! + from, c[START]! + to, c[FEATURE]!, c[BIN]!, c[MISSING_LEFT] === 1);
  } else {
    const [from, to] = share(b.rows, shares, t);
    gradients(b, c[TASK]!, from, to);
  }
}

function sharedArray<T>(Type: { new (buffer: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number }, length: number): T {
  return new Type(new SharedArrayBuffer(length * Type.BYTES_PER_ELEMENT));
}

export class GbdtThreads {
  readonly buffers: GbdtBuffers;
  private readonly helpers: Worker[] = [];
  private job = 0;

  /** `threads`: total threads including this one; default: the machine's cores, at most 4, if the problem is large. */
  constructor(rows: number, features: number, threads?: number, kernel: HistogramKernel = 'wasm') {
    const wanted = threads ?? (rows * features >= THREADED_MIN_CELLS ? Math.min(os.availableParallelism(), 4) : 1);
    const total = Math.max(1, Math.min(wanted, MAX_HELPERS + 1));
    // What the histogram loop reads and writes, in the kernel's memory when it can have one (+ alignment).
    const kernelBytes = rows * features + rows * Uint32Array.BYTES_PER_ELEMENT + 2 * rows * 8 + features * SLOTS_PER_FEATURE * 8 + 64;
    const memory = kernel === 'wasm' ? sharedKernelMemory(kernelBytes) : undefined;
    const layout = new MemoryLayout(memory?.buffer ?? new SharedArrayBuffer(kernelBytes));
    this.buffers = {
      rowMajor: layout.take(Uint8Array, rows * features),
      columnMajor: sharedArray(Uint8Array, rows * features),
      features,
      rows,
      order: layout.take(Uint32Array, rows),
      scratch: sharedArray(Uint32Array, rows),
      leftCounts: sharedArray(Int32Array, MAX_HELPERS + 1),
      label: sharedArray(Float64Array, rows),
      score: sharedArray(Float64Array, rows),
      gh: layout.take(Float64Array, 2 * rows),
      binningValues: sharedArray(Float64Array, total * rows),
      binningEdges: sharedArray(Float64Array, total * EDGE_SLOTS),
      edgeCounts: sharedArray(Int32Array, total),
      hist: layout.take(Float64Array, features * SLOTS_PER_FEATURE),
      control: sharedArray(Int32Array, DONE_BASE + MAX_HELPERS),
      ...(memory ? { memory } : {}),
    };
    try {
      for (let t = 1; t < total; t++) {
        const slot = DONE_BASE + t - 1;
        this.buffers.control[slot] = NOT_STARTED;
        const thread = path.join(__dirname, `gbdt-thread${path.extname(__filename)}`);
        const helper = startModuleThread(thread, { buffers: this.buffers, slot, share: t, shares: total });
        // Without a listener a thread's error would be thrown in this process. Its slot says it failed.
        helper.on('error', () => Atomics.store(this.buffers.control, slot, -1));
        helper.unref();
        this.helpers.push(helper);
      }
    } catch (err) {
      this.close();
      throw err;
    }
    if (!this.helpers.every((_, t) => this.waitUntil(DONE_BASE + t, (v) => v !== NOT_STARTED, HELPER_START_TIMEOUT_MS) === 0)) {
      // Blocked here, we cannot hear why a thread failed to start; work alone rather than wait.
      this.close();
    }
  }

  get threads(): number {
    return this.helpers.length + 1;
  }

  /** Histograms of the rows order[start, end) (or start..end-1 themselves when `identity`), as a new array. */
  histograms(start: number, end: number, identity = false): Float64Array {
    const c = this.buffers.control;
    c[KIND] = HISTOGRAMS;
    c[START] = start;
    c[END] = end;
    c[IDENTITY] = identity ? 1 : 0;
    this.run();
    return this.buffers.hist.slice();
  }

  /** Where thread t's feature values go before bin(): the feature first + t. */
  binningValues(t: number): Float64Array {
    return this.buffers.binningValues.subarray(t * this.buffers.rows, (t + 1) * this.buffers.rows);
  }

  /** Bins the features first … first + threads - 1 (those that exist) from their binningValues. */
  bin(first: number, maxBins: number): void {
    const c = this.buffers.control;
    c[KIND] = BINNING;
    c[FEATURE] = first;
    c[BIN] = maxBins;
    this.run();
  }

  /** The edges thread t found for its feature in the last bin(): [NaN, upper edge of bin 1, …]. */
  binEdges(t: number): Float64Array {
    return this.buffers.binningEdges.slice(t * EDGE_SLOTS, t * EDGE_SLOTS + this.buffers.edgeCounts[t]!);
  }

  /** Fills gh from score and label. */
  gradients(task: 'binary' | 'regression'): void {
    const c = this.buffers.control;
    c[KIND] = GRADIENTS;
    c[TASK] = task === 'binary' ? BINARY : SQUARED_ERROR;
    this.run();
  }

  /**
   * Reorders order[start, end) so rows going left (bin ≤ `bin`, or missing when `missingLeft`)
   * come first, each side in its previous order; returns where the right rows start.
   */
  partition(start: number, end: number, feature: number, bin: number, missingLeft: boolean): number {
    const b = this.buffers;
    const c = b.control;
    c[KIND] = PARTITION;
    c[START] = start;
    c[END] = end;
    c[FEATURE] = feature;
    c[BIN] = bin;
    c[MISSING_LEFT] = missingLeft ? 1 : 0;
    this.run();
    // Join the pieces: left rows move down (never over rows still to move), then the right rows follow.
    const total = this.threads;
    let left = start;
    for (let t = 0; t < total; t++) {
      const [from] = share(end - start, total, t);
      const count = b.leftCounts[t]!;
      if (left !== start + from) b.order.copyWithin(left, start + from, start + from + count);
      left += count;
    }
    let right = left;
    for (let t = 0; t < total; t++) {
      const [from, to] = share(end - start, total, t);
      const count = to - from - b.leftCounts[t]!;
      b.order.set(b.scratch.subarray(start + from, start + from + count), right);
      right += count;
    }
    return left;
  }

  private run(): void {
    const b = this.buffers;
    const total = this.threads;
    if (total > 1) {
      this.job++;
      Atomics.store(b.control, JOB, this.job);
      Atomics.notify(b.control, JOB);
    }
    runShare(b, total, 0);
    for (let t = 0; t < this.helpers.length; t++) {
      const done = this.waitUntil(DONE_BASE + t, (v) => v === this.job || v < 0, HELPER_JOB_TIMEOUT_MS);
      if (done !== this.job) {
        this.close();
        throw new Error(`a GBDT helper thread ${done < 0 ? 'failed (see the worker log)' : 'stopped answering'}`);
      }
    }
  }

  /** Blocks until the control word satisfies `ok` or the timeout passes; returns the word. */
  private waitUntil(slot: number, ok: (value: number) => boolean, timeoutMs: number): number {
    const c = this.buffers.control;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = Atomics.load(c, slot);
      if (ok(value) || Date.now() >= deadline) return value;
      Atomics.wait(c, slot, value, Math.min(1000, deadline - Date.now()));
    }
  }

  /** Stops the helpers (they leave their loop; terminate() makes sure of it). */
  close(): void {
    if (this.helpers.length === 0) return;
    Atomics.store(this.buffers.control, JOB, -1);
    Atomics.notify(this.buffers.control, JOB);
    for (const helper of this.helpers) void helper.terminate();
    this.helpers.length = 0;
  }
}

export const CONTROL_JOB = JOB;
