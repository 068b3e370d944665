import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { encodeModel, floatTensor, node, valueInfo } from '../src/onnx/builder';
import { SERVING_SESSION_OPTIONS } from '../src/serving/model';
import { ThreadSession } from '../src/serving/thread-session';

/** y = 2x + 1 over [N, 1]: enough to tell a thread's answers from the process's own session. */
const MODEL = encodeModel({
  name: 'affine',
  nodes: [node('Mul', ['x', 'two'], ['doubled']), node('Add', ['doubled', 'one'], ['y'])],
  initializers: [floatTensor('two', [], [2]), floatTensor('one', [], [1])],
  inputs: [valueInfo('x', 1, ['N', 1])], // 1: FLOAT
  outputs: [valueInfo('y', 1, ['N', 1])],
  metadata: {},
});

const feeds = (values: number[]) => ({ x: new ort.Tensor('float32', Float32Array.from(values), [values.length, 1]) });

describe('ONNX Runtime on a thread of its own (mlops serve)', () => {
  it('answers as an in-process session does, keeps the callers’ arrays, and runs many at once in order', async () => {
    const session = await ThreadSession.start(MODEL, SERVING_SESSION_OPTIONS, 'affine@1');
    const local = await ort.InferenceSession.create(MODEL, SERVING_SESSION_OPTIONS);
    try {
      const input = feeds([0, 1.5, -3, 1e6]);
      const fromThread = await session.run(input, ['y']);
      const inProcess = await local.run(input, ['y']);
      expect(Array.from(fromThread.y!.data as Float32Array)).toEqual(Array.from(inProcess.y!.data as Float32Array));
      // The feed's buffer is copied, not handed over: the prediction log still reads it.
      expect(Array.from(input.x.data as Float32Array)).toEqual([0, 1.5, -3, 1e6]);
      const many = await Promise.all(Array.from({ length: 50 }, (_, i) => session.run(feeds([i]), ['y'])));
      expect(many.map((out) => (out.y!.data as Float32Array)[0])).toEqual(Array.from({ length: 50 }, (_, i) => 2 * i + 1));
    } finally {
      await session.release();
      await local.release();
    }
  });

  it('refuses bytes ONNX Runtime cannot load with a ModelLoadError, and a failed run fails only that run', async () => {
    await expect(ThreadSession.start(MODEL.subarray(0, MODEL.length - 7), SERVING_SESSION_OPTIONS, 'affine@truncated')).rejects.toMatchObject({
      type: 'ModelLoadError',
      message: expect.stringContaining('Model affine@truncated: ONNX Runtime cannot load it'),
    });
    const session = await ThreadSession.start(MODEL, SERVING_SESSION_OPTIONS, 'affine@1');
    try {
      await expect(session.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2]), [1, 2]) }, ['y'])).rejects.toThrow(/ONNX Runtime failed on affine@1/);
      expect(((await session.run(feeds([2]), ['y'])).y!.data as Float32Array)[0]).toBe(5);
    } finally {
      await session.release();
    }
    await expect(session.run(feeds([1]), ['y'])).rejects.toThrow(/was released/);
  });

  it('starts its thread again after it died: the runs it held fail, the next ones are answered', async () => {
    const session = await ThreadSession.start(MODEL, SERVING_SESSION_OPTIONS, 'affine@1');
    try {
      const thread = (session as unknown as { live: { thread: { terminate(): Promise<number> } } }).live.thread;
      const held = Array.from({ length: 500 }, (_, i) => session.run(feeds([i]), ['y']));
      await new Promise((resolve) => setImmediate(resolve)); // the runs are posted
      await thread.terminate();
      const settled = await Promise.allSettled(held);
      const failed = settled.filter((s) => s.status === 'rejected');
      expect(failed.length).toBeGreaterThan(0);
      for (const f of failed) expect(String((f as PromiseRejectedResult).reason)).toMatch(/The inference thread of affine@1 stopped/);
      settled.forEach((s, i) => s.status === 'fulfilled' && expect((s.value.y!.data as Float32Array)[0]).toBe(2 * i + 1));
      // Many runs at once after the death start one thread, not one each.
      const again = await Promise.all(Array.from({ length: 20 }, (_, i) => session.run(feeds([i]), ['y'])));
      expect(again.map((out) => (out.y!.data as Float32Array)[0])).toEqual(Array.from({ length: 20 }, (_, i) => 2 * i + 1));
      expect(session.starts).toBe(2);
    } finally {
      await session.release();
    }
  });

  it('does not keep a process alive that forgot to release it', async () => {
    // A child that loads a session, runs once and ends its script without release(): it exits.
    const script = `
      const ort = require('onnxruntime-node');
      const { ThreadSession } = require(${JSON.stringify(path.join(__dirname, '..', 'src', 'serving', 'thread-session.ts'))});
      const model = Buffer.from(${JSON.stringify(Buffer.from(MODEL).toString('base64'))}, 'base64');
      ThreadSession.start(model, {}, 'affine@1').then((s) => s.run({ x: new ort.Tensor('float32', Float32Array.of(1), [1, 1]) }, ['y'])).then((out) => console.log(out.y.data[0]));
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(child.error, child.stderr).toBeUndefined();
    expect(child.status, child.stderr).toBe(0);
    expect(child.stdout.trim()).toBe('3');
  });
});
