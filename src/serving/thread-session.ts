import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { userError } from '../errors';
import { startModuleThread } from '../threads';

export interface InferenceThreadInit {
  model: Uint8Array;
  options: InferenceSession.SessionOptions;
}

export interface InferenceThreadRequest {
  id: number;
  feeds: Record<string, { type: 'float32' | 'string'; data: Float32Array | string[]; dims: readonly number[] }>;
  fetches: string[];
}

export type InferenceThreadReply = { ready: true } | { loadError: string } | { id: number; outputs: Record<string, Float32Array> } | { id: number; error: string };

/** What LoadedModel needs of a session: the in-process InferenceSession and ThreadSession both are one. */
export interface ModelSession {
  run(feeds: Record<string, Tensor>, fetches: string[]): Promise<Record<string, { data: unknown }>>;
  release(): Promise<void>;
}

const THREAD_MODULE = path.join(__dirname, `inference-thread${path.extname(__filename)}`);

/**
 * An ONNX Runtime session on its own thread (inference-thread.ts). On the event loop, ONNX Runtime
 * held the thread for every run — at 64-row requests about half of the server's busy time
 * (bench/README.md) — while HTTP, input checks and the log waited. Here runs go to the thread by
 * message (feeds copied: the log keeps the request's arrays; outputs handed back without a copy)
 * and the event loop goes on with the next requests. A thread that dies (it should not) is
 * started again from the same verified bytes at the next run; the runs it held fail.
 */
interface Waiting {
  resolve: (out: Record<string, { data: unknown }>) => void;
  reject: (err: Error) => void;
}

/** One started thread and the runs it holds: runs of a thread that died fail with it, never another's. */
interface Running {
  thread: Worker;
  pending: Map<number, Waiting>;
  exited: boolean;
}

export class ThreadSession implements ModelSession {
  /** The thread that answers, or the one being started (shared by every caller meanwhile). */
  private current: Promise<Running> | undefined;
  /** The started thread `current` resolved to, known synchronously (its exit clears both). */
  private live: Running | undefined;
  private nextId = 0;
  private released = false;
  /** Threads started so far: 1, plus one per restart after a thread died. */
  starts = 0;

  private constructor(
    private readonly init: InferenceThreadInit,
    private readonly where: string,
  ) {}

  /** Loads the model in a new thread; ModelLoadError when ONNX Runtime cannot load it. */
  static async start(model: Uint8Array, options: InferenceSession.SessionOptions, where: string): Promise<ThreadSession> {
    const session = new ThreadSession({ model, options }, where);
    await session.running();
    return session;
  }

  private running(): Promise<Running> {
    if (this.current) return this.current;
    const starting = this.startThread();
    this.current = starting;
    // A failed start is not cached: the next run tries again.
    starting.catch(() => {
      if (this.current === starting) this.current = undefined;
    });
    return starting;
  }

  private startThread(): Promise<Running> {
    return new Promise((resolve, reject) => {
      const thread = startModuleThread(THREAD_MODULE, this.init);
      this.starts++;
      const running: Running = { thread, pending: new Map(), exited: false };
      let ready = false;
      thread.on('message', (reply: InferenceThreadReply) => {
        if ('ready' in reply) {
          ready = true;
          if (this.released) {
            void thread.terminate();
            return reject(new Error(`The session of ${this.where} was released`));
          }
          this.live = running;
          // From now on it holds the process open only while a run waits on it (see run()): a
          // session nobody released never does. (Not before: a start must be waited for.)
          thread.unref();
          return resolve(running);
        }
        if ('loadError' in reply) {
          void thread.terminate();
          return reject(userError('ModelLoadError', `Model ${this.where}: ONNX Runtime cannot load it: ${reply.loadError}`));
        }
        const waiting = running.pending.get(reply.id);
        running.pending.delete(reply.id);
        if (running.pending.size === 0) thread.unref();
        if ('outputs' in reply) waiting?.resolve(Object.fromEntries(Object.entries(reply.outputs).map(([name, data]) => [name, { data }])));
        else waiting?.reject(new Error(`ONNX Runtime failed on ${this.where}: ${reply.error}`));
      });
      thread.on('error', (err) => {
        if (!ready) reject(userError('ModelLoadError', `Model ${this.where}: the inference thread failed: ${err.message}`));
      });
      thread.on('exit', (code) => {
        if (!ready) reject(userError('ModelLoadError', `Model ${this.where}: the inference thread stopped while loading it (exit code ${code})`));
        running.exited = true;
        // The next run starts a new thread (unless one is already starting).
        if (this.live === running) {
          this.live = undefined;
          this.current = undefined;
        }
        for (const waiting of running.pending.values()) waiting.reject(new Error(`The inference thread of ${this.where} stopped (exit code ${code})`));
        running.pending.clear();
      });
    });
  }

  async run(feeds: Record<string, Tensor>, fetches: string[]): Promise<Record<string, { data: unknown }>> {
    if (this.released) throw new Error(`The session of ${this.where} was released`);
    let running = await this.running();
    if (running.exited) running = await this.running(); // died between its start and this run
    const { thread, pending } = running;
    if (running.exited) throw new Error(`The inference thread of ${this.where} stopped`);
    const id = this.nextId++;
    const message: InferenceThreadRequest = { id, fetches, feeds: {} };
    for (const [name, tensor] of Object.entries(feeds)) {
      message.feeds[name] = { type: tensor.type as 'float32' | 'string', data: tensor.data as Float32Array | string[], dims: tensor.dims };
    }
    return new Promise((resolve, reject) => {
      if (pending.size === 0) thread.ref();
      pending.set(id, { resolve, reject });
      thread.postMessage(message);
    });
  }

  async release(): Promise<void> {
    this.released = true;
    const running = await this.current?.catch(() => undefined);
    this.current = undefined;
    this.live = undefined;
    await running?.thread.terminate();
  }
}
