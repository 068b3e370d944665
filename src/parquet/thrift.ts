/**
 * The part of Thrift's compact protocol that Parquet's metadata needs, encode only: structs,
 * lists, 32/64-bit integers, booleans and binary. A value is described as a small tree
 * (`T.i32(4)`, `T.struct([[1, …], [3, …]])`) and encoded in one pass; fields left undefined are
 * simply absent, as Thrift's optional fields are.
 */
const enum Wire {
  True = 1,
  False = 2,
  I32 = 5,
  I64 = 6,
  Binary = 8,
  List = 9,
  Struct = 12,
}

export type ThriftValue =
  | { kind: 'i32' | 'i64'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'binary'; value: Uint8Array }
  | { kind: 'list'; elements: ThriftValue[] }
  | { kind: 'struct'; fields: ThriftField[] };

/** A field id and its value; undefined leaves the field out. */
export type ThriftField = readonly [number, ThriftValue | undefined];

const utf8 = new TextEncoder();

export const T = {
  i32: (value: number): ThriftValue => ({ kind: 'i32', value }),
  /** Offsets and counts: safe integers are enough for files this process writes. */
  i64: (value: number): ThriftValue => ({ kind: 'i64', value }),
  bool: (value: boolean): ThriftValue => ({ kind: 'bool', value }),
  string: (value: string): ThriftValue => ({ kind: 'binary', value: utf8.encode(value) }),
  list: (elements: ThriftValue[]): ThriftValue => ({ kind: 'list', elements }),
  struct: (fields: ThriftField[]): ThriftValue => ({ kind: 'struct', fields }),
};

function wireType(v: ThriftValue): Wire {
  switch (v.kind) {
    case 'i32':
      return Wire.I32;
    case 'i64':
      return Wire.I64;
    case 'bool':
      return v.value ? Wire.True : Wire.False;
    case 'binary':
      return Wire.Binary;
    case 'list':
      return Wire.List;
    case 'struct':
      return Wire.Struct;
  }
}

class ByteSink {
  bytes: number[] = [];
  varint(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varint out of range: ${n}`);
    while (n >= 0x80) {
      this.bytes.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    this.bytes.push(n);
  }
  zigzag(n: number): void {
    this.varint(n >= 0 ? n * 2 : -n * 2 - 1);
  }
}

function encodeValue(sink: ByteSink, v: ThriftValue): void {
  switch (v.kind) {
    case 'i32':
    case 'i64':
      sink.zigzag(v.value);
      return;
    case 'bool': // a bool field carries its value in the field header; Parquet has no lists of bools
      throw new Error('a Thrift bool is encoded only as a struct field');
    case 'binary':
      sink.varint(v.value.length);
      for (const b of v.value) sink.bytes.push(b);
      return;
    case 'list': {
      const type = v.elements.length ? wireType(v.elements[0]!) : Wire.Struct;
      if (v.elements.length < 15) sink.bytes.push((v.elements.length << 4) | type);
      else {
        sink.bytes.push(0xf0 | type);
        sink.varint(v.elements.length);
      }
      for (const e of v.elements) encodeValue(sink, e);
      return;
    }
    case 'struct': {
      let last = 0;
      for (const [id, value] of v.fields) {
        if (value === undefined) continue;
        const delta = id - last;
        if (delta > 0 && delta <= 15) sink.bytes.push((delta << 4) | wireType(value));
        else {
          sink.bytes.push(wireType(value));
          sink.zigzag(id);
        }
        last = id;
        if (value.kind !== 'bool') encodeValue(sink, value);
      }
      sink.bytes.push(0); // stop
      return;
    }
  }
}

export function encodeThrift(value: ThriftValue): Uint8Array {
  const sink = new ByteSink();
  encodeValue(sink, value);
  return Uint8Array.from(sink.bytes);
}
