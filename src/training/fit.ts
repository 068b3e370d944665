import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { userError } from '../errors';
import type { TrainerConfig } from '../models/card';
import { exportLinear } from '../onnx/linear';
import { exportGbdt } from '../onnx/trees';
import { startModuleThread } from '../threads';
import type { PreparedData } from './data';
import { type GbdtParams, trainGbdt } from './gbdt';
import { type LogisticParams, type RidgeParams, trainLogistic, trainRidge } from './linear';

export type BuiltInTrainer = Exclude<TrainerConfig, { kind: 'command' }>;
export interface FitIds {
  model: string;
  version: string;
}

/** Trains a built-in model and exports it to ONNX. Synchronous: call fitInThread from activities. */
export function fit(trainer: BuiltInTrainer, data: PreparedData, ids: FitIds): Uint8Array {
  const metadata = { model: ids.model, version: ids.version, trainer: trainer.kind };
  // resolveTrainer validated the parameters against the trainer's schema and filled in defaults.
  const p = trainer.params;
  switch (trainer.kind) {
    case 'logistic': {
      if (data.task === 'regression') {
        throw userError('InvalidInput', 'The logistic trainer needs a categorical label; use --trainer linear or gbdt for a numeric target');
      }
      return exportLinear(trainLogistic(data.train, data.features, data.classes, data.task, p as unknown as LogisticParams), metadata);
    }
    case 'linear':
      return exportLinear(trainRidge(data.train, data.features, p as unknown as RidgeParams), metadata);
    case 'gbdt': {
      if (data.task === 'multiclass') {
        throw userError('InvalidInput', 'The gbdt trainer supports binary classification and regression; use logistic for multiclass labels');
      }
      return exportGbdt(trainGbdt(data.train, data.features, data.classes, data.task, p as unknown as GbdtParams), metadata);
    }
  }
}

export interface FitRequest {
  trainer: BuiltInTrainer;
  data: Pick<PreparedData, 'task' | 'features' | 'classes' | 'train'>;
  ids: FitIds;
}

/** What a fit thread posts back: the ONNX bytes, or the error (user errors keep their type). */
export type FitReply = { onnx: Uint8Array } | { error: { message: string; type?: string; nonRetryable?: boolean; stack?: string } };

/**
 * Runs `fit` on a worker thread. Fitting is CPU-bound for seconds to minutes; on the activity's
 * own thread it would stop heartbeats (the activity would time out and train again) and every
 * other activity on the worker. Cancelling through `signal` ends the thread.
 */
export function fitInThread(request: FitRequest, signal?: AbortSignal): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const thread = startModuleThread(path.join(__dirname, `fit-thread${path.extname(__filename)}`), request);
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = () => {
      void thread.terminate();
      settle(() => reject(signal!.reason ?? new Error('training cancelled')));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    thread.once('message', (reply: FitReply) =>
      settle(() => {
        if ('onnx' in reply) return resolve(reply.onnx);
        const { message, type, nonRetryable, stack } = reply.error;
        const error = type ? ApplicationFailure.create({ message, type, nonRetryable }) : new Error(message);
        if (stack && !type) error.stack = stack;
        reject(error);
      }),
    );
    thread.once('error', (error) => settle(() => reject(error)));
    thread.once('exit', (code) => settle(() => reject(new Error(`the training thread exited with code ${code} before it finished`))));
  });
}
