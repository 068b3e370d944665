/**
 * Parquet's RLE / bit-packing hybrid, the encoding of definition levels and dictionary indices:
 * a run of at least 8 equal values becomes one RLE run (a count and the value); anything else is
 * bit-packed in groups of 8. A group is never split, so a bit-packed run holds whole groups of
 * real values, except the very last one, whose padding the reader drops by the value count.
 */
export const MAX_HYBRID_BIT_WIDTH = 24; // the accumulator below holds 32 bits

/** Bits for values 0..maxValue (at least 1: some readers do not take a width of 0). */
export function bitWidth(maxValue: number): number {
  return 32 - Math.clz32(Math.max(1, maxValue));
}

class Bytes {
  private buf = new Uint8Array(64);
  length = 0;
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    bigger.set(this.buf.subarray(0, this.length));
    this.buf = bigger;
  }
  push(b: number): void {
    this.room(1);
    this.buf[this.length++] = b;
  }
  varint(n: number): void {
    while (n >= 0x80) {
      this.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    this.push(n);
  }
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** `values[0..count)` (each in 0 .. 2^width - 1) in the hybrid encoding, without a length prefix. */
export function encodeHybrid(values: ArrayLike<number>, count: number, width: number): Uint8Array {
  if (!Number.isInteger(width) || width < 1 || width > MAX_HYBRID_BIT_WIDTH) throw new RangeError(`bit width ${width} is not in 1..${MAX_HYBRID_BIT_WIDTH}`);
  const out = new Bytes();
  const valueBytes = Math.ceil(width / 8);
  let packedStart = -1; // first value of the bit-packed run being collected
  const flushPacked = (end: number) => {
    if (packedStart < 0) return;
    const groups = Math.ceil((end - packedStart) / 8);
    out.varint((groups << 1) | 1);
    let acc = 0;
    let bits = 0;
    for (let i = packedStart; i < packedStart + groups * 8; i++) {
      acc |= (i < count ? values[i]! : 0) << bits;
      bits += width;
      while (bits >= 8) {
        out.push(acc & 0xff);
        acc >>>= 8;
        bits -= 8;
      }
    }
    packedStart = -1;
  };
  let i = 0;
  while (i < count) {
    const v = values[i]!;
    let j = i + 1;
    while (j < count && values[j] === v) j++;
    if (j - i >= 8) {
      flushPacked(i);
      out.varint((j - i) * 2);
      for (let b = 0; b < valueBytes; b++) out.push((v >>> (8 * b)) & 0xff);
      i = j;
    } else {
      if (packedStart < 0) packedStart = i;
      i = Math.min(i + 8, count);
    }
  }
  flushPacked(count);
  return out.view();
}

const DELTA_BLOCK = 128;
const DELTA_MINIBLOCKS = 4;
const DELTA_MINIBLOCK = DELTA_BLOCK / DELTA_MINIBLOCKS;
/**
 * Values stay below this (microsecond timestamps of this century do): a delta is then below
 * 2^52 and its zigzag below 2^53, still a safe integer.
 */
const DELTA_LIMIT = 2 ** 51;

/**
 * DELTA_BINARY_PACKED (blocks of 128 deltas, 4 miniblocks of 32, each bit-packed at its own
 * width above the block's smallest delta): a run of consecutive row numbers is a few bytes per
 * block. Undefined when the values or the spread of a block's deltas need more than the safe
 * integers or 32 bits: the caller writes those PLAIN.
 */
export function encodeDeltaBinaryPacked(values: ArrayLike<number>, count: number): Uint8Array | undefined {
  const out = new Bytes();
  out.varint(DELTA_BLOCK);
  out.varint(DELTA_MINIBLOCKS);
  out.varint(count);
  if (count === 0) {
    out.varint(0);
    return out.view();
  }
  const zigzag = (n: number) => out.varint(n >= 0 ? n * 2 : -n * 2 - 1);
  if (Math.abs(values[0]!) >= DELTA_LIMIT) return undefined;
  zigzag(values[0]!);
  const deltas = new Float64Array(DELTA_BLOCK);
  for (let start = 1; start < count; start += DELTA_BLOCK) {
    const n = Math.min(DELTA_BLOCK, count - start);
    let min = Infinity;
    for (let k = 0; k < n; k++) {
      const d = values[start + k]! - values[start + k - 1]!;
      if (Math.abs(values[start + k]!) >= DELTA_LIMIT) return undefined;
      deltas[k] = d;
      if (d < min) min = d;
    }
    zigzag(min);
    const widths = new Array<number>(DELTA_MINIBLOCKS).fill(0);
    for (let m = 0; m * DELTA_MINIBLOCK < n; m++) {
      let spread = 0;
      for (let k = m * DELTA_MINIBLOCK; k < Math.min(n, (m + 1) * DELTA_MINIBLOCK); k++) spread = Math.max(spread, deltas[k]! - min);
      if (spread >= 2 ** 32) return undefined;
      let w = 0;
      while (2 ** w <= spread) w++;
      widths[m] = w;
    }
    for (const w of widths) out.push(w);
    for (let m = 0; m * DELTA_MINIBLOCK < n; m++) {
      const w = widths[m]!;
      if (w === 0) continue;
      let acc = 0;
      let bits = 0;
      for (let k = m * DELTA_MINIBLOCK; k < (m + 1) * DELTA_MINIBLOCK; k++) {
        acc += (k < n ? deltas[k]! - min : 0) * 2 ** bits;
        bits += w;
        while (bits >= 8) {
          out.push(acc % 256);
          acc = Math.floor(acc / 256);
          bits -= 8;
        }
      }
    }
  }
  return out.view();
}
