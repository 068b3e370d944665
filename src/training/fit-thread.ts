/** Worker-thread entry of fitInThread: fits one built-in model and posts the ONNX bytes back. */
import { parentPort, workerData } from 'node:worker_threads';
import { ApplicationFailure } from '@temporalio/common';
import type { PreparedData } from './data';
import { type FitReply, type FitRequest, fit } from './fit';

const request = workerData as FitRequest;
let reply: FitReply;
try {
  // A copy with a buffer of its own: protobufjs may return a slice of Node's shared pool, which cannot be transferred.
  reply = { onnx: new Uint8Array(fit(request.trainer, request.data as PreparedData, request.ids)) };
} catch (err) {
  const error = err instanceof Error ? err : new Error(String(err));
  reply =
    error instanceof ApplicationFailure
      ? { error: { message: error.message, type: error.type ?? undefined, nonRetryable: error.nonRetryable ?? undefined } }
      : { error: { message: error.message, stack: error.stack } };
}
parentPort!.postMessage(reply, 'onnx' in reply ? [reply.onnx.buffer as ArrayBuffer] : []);
