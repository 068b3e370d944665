import { HISTOGRAM_WASM } from './histogram-wasm';

/**
 * The histogram loop of GBDT training in WebAssembly (histogram.wat), over buffers that live in
 * one shared WebAssembly memory, so the helper threads run the same kernel over the same bytes.
 * Arguments are byte offsets into that memory; see histogram.wat for the layout.
 */
export type WasmAccumulate = (
  rowMajor: number,
  features: number,
  order: number,
  gh: number,
  hist: number,
  start: number,
  end: number,
  identity: number,
  from: number,
  to: number,
) => void;

/**
 * The part of the WebAssembly JS API used here. Node has it all; the TypeScript libs the build
 * uses (ES2022 + node) do not describe it (it is declared in the DOM lib), so it is typed here.
 */
export interface KernelMemory {
  readonly buffer: ArrayBufferLike;
}
interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => KernelMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: { env: { memory: KernelMemory } }) => { exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const PAGE_BYTES = 65_536;
/** wasm32 addresses reach 4 GiB. */
const MAX_PAGES = 65_536;

let compiled: object | undefined;
/** One instance per memory and thread (a thread's copy of the memory object is the same one each call). */
const instances = new WeakMap<KernelMemory, WasmAccumulate>();

export function histogramKernel(memory: KernelMemory): WasmAccumulate {
  let kernel = instances.get(memory);
  if (!kernel) {
    compiled ??= new wasm.Module(HISTOGRAM_WASM);
    kernel = new wasm.Instance(compiled, { env: { memory } }).exports.accumulate as WasmAccumulate;
    instances.set(memory, kernel);
  }
  return kernel;
}

/**
 * A shared memory of at least `bytes`, or undefined when there can be none: too large for wasm32
 * (over 4 GiB of bins), or a runtime without WebAssembly threads. The caller then uses the
 * TypeScript loop, which gives the same trees.
 */
export function sharedKernelMemory(bytes: number): KernelMemory | undefined {
  const pages = Math.ceil(bytes / PAGE_BYTES);
  if (pages > MAX_PAGES) return undefined;
  try {
    return new wasm.Memory({ initial: pages, maximum: pages, shared: true });
  } catch {
    return undefined;
  }
}

/** Hands out typed arrays from one buffer, front to back, each 16-byte aligned. */
export class MemoryLayout {
  private offset = 0;
  constructor(private readonly buffer: ArrayBufferLike) {}

  take<T>(Type: { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number }, length: number): T {
    this.offset = align(this.offset);
    const array = new Type(this.buffer, this.offset, length);
    this.offset += Type.BYTES_PER_ELEMENT * length;
    return array;
  }
}

/** 16 bytes: the kernel loads a row's [gradient, hessian] as one 128-bit value. */
function align(offset: number): number {
  return Math.ceil(offset / 16) * 16;
}
