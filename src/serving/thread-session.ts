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
export class ThreadSession implements ModelSession {
  private thread: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (out: Record<string, { data: unknown }>) => void; reject: (err: Error) => void }>();
  private released = false;

  private constructor(
    private readonly init: InferenceThreadInit,
    private readonly where: string,
  ) {}

  /** Loads the model in a new thread; ModelLoadError when ONNX Runtime cannot load it. */
  static async start(model: Uint8Array, options: InferenceSession.SessionOptions, where: string): Promise<ThreadSession> {
    const session = new ThreadSession({ model, options }, where);
    await session.ensureThread();
    return session;
  }

  private ensureThread(): Promise<Worker> {
    if (this.thread) return Promise.resolve(this.thread);
    return new Promise((resolve, reject) => {
      const thread = startModuleThread(THREAD_MODULE, this.init);
      // Holds the process open only while a run waits on it: a session nobody released never does.
      thread.unref();
      let ready = false;
      thread.on('message', (reply: InferenceThreadReply) => {
        if ('ready' in reply) {
          ready = true;
          this.thread = thread;
          return resolve(thread);
        }
        if ('loadError' in reply) {
          void thread.terminate();
          return reject(userError('ModelLoadError', `Model ${this.where}: ONNX Runtime cannot load it: ${reply.loadError}`));
        }
        const waiting = this.pending.get(reply.id);
        this.pending.delete(reply.id);
        if (this.pending.size === 0) thread.unref();
        if ('outputs' in reply) waiting?.resolve(Object.fromEntries(Object.entries(reply.outputs).map(([name, data]) => [name, { data }])));
        else waiting?.reject(new Error(`ONNX Runtime failed on ${this.where}: ${reply.error}`));
      });
      thread.on('error', (err) => {
        if (!ready) reject(userError('ModelLoadError', `Model ${this.where}: the inference thread failed to start: ${err.message}`));
      });
      thread.on('exit', (code) => {
        if (this.thread === thread) this.thread = undefined;
        for (const waiting of this.pending.values()) waiting.reject(new Error(`The inference thread of ${this.where} stopped (exit code ${code})`));
        this.pending.clear();
      });
    });
  }

  async run(feeds: Record<string, Tensor>, fetches: string[]): Promise<Record<string, { data: unknown }>> {
    if (this.released) throw new Error(`The session of ${this.where} was released`);
    const thread = await this.ensureThread();
    const id = this.nextId++;
    const message: InferenceThreadRequest = { id, fetches, feeds: {} };
    for (const [name, tensor] of Object.entries(feeds)) {
      message.feeds[name] = { type: tensor.type as 'float32' | 'string', data: tensor.data as Float32Array | string[], dims: tensor.dims };
    }
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) thread.ref();
      this.pending.set(id, { resolve, reject });
      thread.postMessage(message);
    });
  }

  async release(): Promise<void> {
    this.released = true;
    await this.thread?.terminate();
    this.thread = undefined;
  }
}
