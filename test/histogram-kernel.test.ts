import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { histogramWasmModuleText, WASM_MODULE_FILE } from '../scripts/build-wasm';
import type { FeatureSpec, SplitData } from '../src/training/data';
import { DEFAULT_GBDT_PARAMS, trainGbdt } from '../src/training/gbdt';
import { GbdtThreads } from '../src/training/gbdt-threads';

/**
 * The WebAssembly histogram kernel against the TypeScript loop it replaces: the same sums bit for
 * bit, so the same trees, on one thread and on several. Nine features, so both the kernel's
 * four-at-a-time loop and its one-at-a-time tail run (with three threads each gets three
 * features, the tail alone).
 */
const ROWS = 6000;
const FEATURES = 9;

/** A small deterministic problem: uniform features, some missing, a label from an interaction. */
function problem(): { split: SplitData; features: FeatureSpec[] } {
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const columns = Array.from({ length: FEATURES }, () => new Float64Array(ROWS));
  const label = new Float64Array(ROWS);
  for (let i = 0; i < ROWS; i++) {
    for (const column of columns) column[i] = random() < 0.03 ? Number.NaN : random() * 2 - 1;
    const [a, b, c] = [columns[0]![i]!, columns[4]![i]!, columns[8]![i]!];
    label[i] = random() < 1 / (1 + Math.exp(-(2 * (a || 0) - (b || 0) + 3 * (b || 0) * (c || 0)))) ? 1 : 0;
  }
  const features = columns.map((_, j): FeatureSpec => ({ name: `x${j}`, kind: 'numeric', mean: 0, std: 1 }));
  return { split: { rows: ROWS, columns, label }, features };
}

describe('the WebAssembly histogram kernel', () => {
  it('runs by default, in a shared WebAssembly memory, and sums what the TypeScript loop sums', () => {
    const sums = (kernel: 'wasm' | 'js', threads: number) => {
      const pool = new GbdtThreads(ROWS, FEATURES, threads, kernel);
      try {
        const { rowMajor, gh, order } = pool.buffers;
        for (let i = 0; i < rowMajor.length; i++) rowMajor[i] = (i * 7919) % 256;
        for (let i = 0; i < ROWS; i++) {
          gh[2 * i] = Math.sin(i) / 3;
          gh[2 * i + 1] = 0.1 + (i % 17) / 100;
          order[i] = (i * 37) % ROWS; // a permutation: rows reached through `order`, not in sequence
        }
        return { memory: pool.buffers.memory, root: pool.histograms(0, ROWS, true), node: pool.histograms(100, 4100) };
      } finally {
        pool.close();
      }
    };
    const typescript = sums('js', 1);
    expect(typescript.memory).toBeUndefined();
    for (const threads of [1, 3]) {
      const wasm = sums('wasm', threads);
      expect(wasm.memory).toBeInstanceOf(WebAssembly.Memory);
      expect(wasm.memory!.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(wasm.root).toEqual(typescript.root);
      expect(wasm.node).toEqual(typescript.node);
    }
    // Not vacuous: the node's histogram counts its 4000 rows in every feature.
    let count = 0;
    for (let slot = 2; slot < 256 * 3; slot += 3) count += typescript.node[slot]!;
    expect(count).toBe(4000);
  });

  it('grows the same trees as the TypeScript loop, on one thread and on three', () => {
    const { split, features } = problem();
    const params = { ...DEFAULT_GBDT_PARAMS, nEstimators: 8 };
    const grow = (kernel: 'wasm' | 'js', threads: number) => JSON.stringify(trainGbdt(split, features, ['0', '1'], 'binary', params, { kernel, threads }).trees);
    const reference = grow('js', 1);
    expect(reference.length).toBeGreaterThan(1000); // trees with splits, not eight leaves
    expect(grow('wasm', 1)).toBe(reference);
    expect(grow('wasm', 3)).toBe(reference);
  });

  it('is compiled from histogram.wat as it is now (npm run build:wasm)', async () => {
    expect(fs.readFileSync(WASM_MODULE_FILE, 'utf8')).toBe(await histogramWasmModuleText());
  });
});
