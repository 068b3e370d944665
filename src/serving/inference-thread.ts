import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { InferenceThreadInit, InferenceThreadReply, InferenceThreadRequest } from './thread-session';

/**
 * The model server's inference thread: one ONNX Runtime session, runs one after another as they
 * arrive, so the event loop parses, checks, logs and answers other requests meanwhile.
 */
const { model, options } = workerData as InferenceThreadInit;
const port = parentPort!;
const post = (reply: InferenceThreadReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);

ort.InferenceSession.create(model, options).then(
  (session) => {
    port.on('message', ({ id, feeds, fetches }: InferenceThreadRequest) => {
      const tensors: Record<string, ort.Tensor> = {};
      for (const [name, feed] of Object.entries(feeds)) tensors[name] = new ort.Tensor(feed.type, feed.data, feed.dims);
      session.run(tensors, fetches).then(
        (out) => {
          // Whatever goes wrong with one run's outputs fails that run only, not the thread.
          try {
            const outputs: Record<string, Float32Array> = {};
            const transfer: ArrayBuffer[] = [];
            for (const name of fetches) {
              const data = out[name]?.data;
              if (!(data instanceof Float32Array)) throw new Error(`output ${name} is ${data === undefined ? 'missing' : 'not float32'}`);
              // A copy: the output's memory belongs to ONNX Runtime and cannot be handed over.
              const copy = data.slice();
              outputs[name] = copy;
              transfer.push(copy.buffer);
            }
            post({ id, outputs }, transfer);
          } catch (err) {
            post({ id, error: (err as Error).message });
          }
        },
        (err: Error) => post({ id, error: err.message }),
      );
    });
    post({ ready: true });
  },
  (err: Error) => post({ loadError: err.message }),
);
