import * as fs from 'node:fs';
import { bitWidth, encodeDeltaBinaryPacked, encodeHybrid, MAX_HYBRID_BIT_WIDTH } from './hybrid';
import { encodeThrift, T, type ThriftValue } from './thrift';

/**
 * A Parquet writer for columns that are already typed arrays: the prediction log's shape (flat
 * columns and one level of structs, every field optional as DuckDB writes them). Values are
 * PLAIN (a float column's page is its typed array's bytes, copied once into the row group),
 * low-cardinality text is dictionary-encoded, row numbers delta-encoded, pages uncompressed. It
 * exists because routing a scored batch through DuckDB's appender and then a COPY cost the
 * prediction log three to four times DuckDB's own Parquet write (bench/README.md, bench:score);
 * readers are unchanged: DuckDB and pyarrow read these files like their own.
 *
 * Rows arrive in batches (one data page per column and batch) and are buffered until a row group
 * is full, because a column's pages must be contiguous within its row group.
 */
export type ParquetLeafType = 'FLOAT' | 'DOUBLE' | 'INT64' | 'STRING' | 'TIMESTAMP';

export interface ParquetLeaf {
  name: string;
  type: ParquetLeafType;
  /** FLOAT/DOUBLE: a NaN is written as NULL. */
  nanIsNull?: boolean;
  /** Dictionary-encoded: the column's distinct values (text, or microseconds for TIMESTAMP); a batch then gives indices. */
  dictionary?: ReadonlyArray<string | number>;
  /**
   * INT64: delta-encoded (DELTA_BINARY_PACKED), for row numbers, which follow each other: a few
   * bytes per 128 rows instead of 8 a row. A page whose deltas do not fit is written PLAIN.
   */
  delta?: boolean;
}

export interface ParquetGroup {
  name: string;
  children: ParquetLeaf[];
}

export type ParquetField = ParquetLeaf | ParquetGroup;

/**
 * One leaf's values for a batch, in the leaves' depth-first order: a typed array (FLOAT, DOUBLE,
 * INT64; never NULL unless `nanIsNull`), text (`null` for NULL) or integers written as their
 * decimal text (STRING), or for a dictionary column the index of each row's value (−1: NULL), or
 * one index for every row. A float leaf of a group may also say in which rows the whole group is
 * NULL (`groupNull[i]` 1), every leaf of that group alike; those rows' values are not read.
 */
export type ParquetColumnValues =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | ReadonlyArray<string | null>
  | { indices: Int32Array }
  | { repeat: number }
  | { values: Float32Array | Float64Array; groupNull: Uint8Array };

const PHYSICAL = { INT64: 2, FLOAT: 4, DOUBLE: 5, BYTE_ARRAY: 6 } as const;
const OPTIONAL = 1;
const ENCODING = { PLAIN: 0, PLAIN_DICTIONARY: 2, RLE: 3, DELTA_BINARY_PACKED: 5 } as const;
const PAGE = { DATA: 0, DICTIONARY: 2 } as const;
const CONVERTED = { UTF8: 0, TIMESTAMP_MICROS: 10 } as const;
const UNCOMPRESSED = 0;
const MAGIC = Buffer.from('PAR1');
/**
 * Rows per row group (readers parallelize over row groups; DuckDB writes 122,880). Measured on
 * bench:score (GBDT, 1M rows, three runs each): the log's cost beside ONNX Runtime was 1.0 s at
 * 65,536 or 16,384 rows and 1.4–1.5 s at 122,880; one CPU profile each put most of the
 * difference in the garbage collector (0.15 s at 16,384 against 0.45 s); why was not found.
 */
export const DEFAULT_ROW_GROUP_ROWS = 65_536;

interface Column {
  leaf: ParquetLeaf;
  path: string[];
  maxDefinition: number;
  physical: number;
  dictionaryPage?: Buffer;
  dictionaryWidth: number;
}

interface Page {
  header: Uint8Array;
  body: Uint8Array[];
  size: number;
  encoding: number;
}

const isGroup = (f: ParquetField): f is ParquetGroup => 'children' in f;

/**
 * A column chunk's pages, copied into one buffer that is reused from row group to row group, so
 * a batch's arrays (a float page is its batch's typed array) are not held until the row group is
 * written, and steady state allocates nothing here.
 */
class ColumnBytes {
  private buf = Buffer.allocUnsafe(1 << 16);
  private length = 0;
  readonly encodings = new Set<number>();

  add(page: Page): void {
    const needed = this.length + page.size;
    if (needed > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(needed, this.buf.length * 2));
      this.buf.copy(bigger, 0, 0, this.length);
      this.buf = bigger;
    }
    for (const part of [page.header, ...page.body]) {
      this.buf.set(part, this.length);
      this.length += part.byteLength;
    }
    this.encodings.add(page.encoding);
  }

  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  clear(): void {
    this.length = 0;
    this.encodings.clear();
  }
}

export class ParquetFileWriter {
  private readonly columns: Column[];
  private readonly fd: number;
  private offset = 0;
  /** Each column's pages of the row group being filled, copied in (see ColumnBytes). */
  private readonly pending: ColumnBytes[];
  private pendingRows = 0;
  private readonly rowGroups: ThriftValue[] = [];
  private rows = 0;
  private closed = false;
  /** A write to the file failed: what is on disk is not a Parquet file, and only discard() is left. */
  private broken = false;

  constructor(
    readonly file: string,
    private readonly fields: ParquetField[],
    private readonly rowGroupRows = DEFAULT_ROW_GROUP_ROWS,
  ) {
    this.columns = fields.flatMap((f) => (isGroup(f) ? f.children.map((c) => column(c, [f.name, c.name])) : [column(f, [f.name])]));
    this.pending = this.columns.map(() => new ColumnBytes());
    try {
      this.fd = fs.openSync(file, 'w');
    } catch (err) {
      (err as NodeJS.ErrnoException).path ??= file;
      throw err;
    }
    try {
      this.append([MAGIC]);
    } catch (err) {
      fs.closeSync(this.fd);
      throw err;
    }
  }

  /** One batch: `columns[j]` holds leaf j's values for `rows` rows. */
  write(columns: ParquetColumnValues[], rows: number): void {
    this.assertWritable();
    if (columns.length !== this.columns.length) throw new Error(`a batch has ${columns.length} columns, the file ${this.columns.length}`);
    if (rows === 0) return;
    // Every page is built (and its values checked) before any is kept: a refused batch adds nothing.
    const pages = this.columns.map((c, j) => dataPage(c, columns[j]!, rows));
    pages.forEach((page, j) => this.pending[j]!.add(page));
    this.pendingRows += rows;
    if (this.pendingRows >= this.rowGroupRows) this.flushRowGroup();
  }

  /** Writes what is buffered and the footer; the file is complete when this returns. */
  close(): void {
    if (this.closed) return;
    this.assertWritable();
    this.flushRowGroup();
    const footer = encodeThrift(
      T.struct([
        [1, T.i32(1)],
        [2, T.list(schemaElements(this.fields))],
        [3, T.i64(this.rows)],
        [4, T.list(this.rowGroups)],
        [6, T.string('temporal-mlops')],
      ]),
    );
    const length = Buffer.alloc(4);
    length.writeUInt32LE(footer.length);
    this.append([footer, length, MAGIC]);
    this.closed = true;
    fs.closeSync(this.fd);
  }

  /** Closes without a footer and removes the file: nothing half-written is left for a reader. */
  discard(): void {
    if (!this.closed) fs.closeSync(this.fd);
    this.closed = true;
    fs.rmSync(this.file, { force: true });
  }

  private flushRowGroup(): void {
    if (this.pendingRows === 0) return;
    const chunks: ThriftValue[] = [];
    const start = this.offset;
    this.columns.forEach((c, j) => {
      const chunkStart = this.offset;
      const data = this.pending[j]!;
      const dictionary = c.dictionaryPage ? dictionaryPage(c) : undefined;
      const dataOffset = chunkStart + (dictionary?.size ?? 0);
      this.append([...(dictionary ? [dictionary.header, ...dictionary.body] : []), data.view()]);
      const bytes = this.offset - chunkStart;
      const encodings = [...new Set([...(dictionary ? [dictionary.encoding] : []), ...data.encodings, ENCODING.RLE])];
      data.clear();
      chunks.push(
        T.struct([
          [2, T.i64(chunkStart)],
          [
            3,
            T.struct([
              [1, T.i32(c.physical)],
              [2, T.list(encodings.map(T.i32))],
              [3, T.list(c.path.map(T.string))],
              [4, T.i32(UNCOMPRESSED)],
              [5, T.i64(this.pendingRows)],
              [6, T.i64(bytes)],
              [7, T.i64(bytes)],
              [9, T.i64(dataOffset)],
              [11, c.dictionaryPage ? T.i64(chunkStart) : undefined],
            ]),
          ],
        ]),
      );
    });
    const size = this.offset - start;
    this.rowGroups.push(
      T.struct([
        [1, T.list(chunks)],
        [2, T.i64(size)],
        [3, T.i64(this.pendingRows)],
        [5, T.i64(start)],
        [6, T.i64(size)],
      ]),
    );
    this.rows += this.pendingRows;
    this.pendingRows = 0;
  }

  private assertWritable(): void {
    if (this.closed) throw new Error(`${this.file} is already closed`);
    if (this.broken) throw new Error(`${this.file}: an earlier write failed; the file can only be discarded`);
  }

  private append(buffers: Uint8Array[]): void {
    try {
      this.appendAll(buffers);
    } catch (err) {
      this.broken = true;
      // A failed write (ENOSPC) names only the syscall; say which file, so the filesystem to free is known.
      (err as NodeJS.ErrnoException).path ??= this.file;
      throw err;
    }
  }

  private appendAll(buffers: Uint8Array[]): void {
    // writev takes at most IOV_MAX (1024) buffers a call, and may write less than asked.
    for (let i = 0; i < buffers.length; i += 512) {
      const group = buffers.slice(i, i + 512);
      let written = fs.writevSync(this.fd, group, this.offset);
      this.offset += written;
      for (const b of group) {
        if (written >= b.byteLength) {
          written -= b.byteLength;
          continue;
        }
        for (let done = written; done < b.byteLength;) {
          const n = fs.writeSync(this.fd, b, done, b.byteLength - done, this.offset);
          done += n;
          this.offset += n;
        }
        written = 0;
      }
    }
  }
}

function physicalType(type: ParquetLeafType): number {
  return type === 'FLOAT' ? PHYSICAL.FLOAT : type === 'DOUBLE' ? PHYSICAL.DOUBLE : type === 'STRING' ? PHYSICAL.BYTE_ARRAY : PHYSICAL.INT64;
}

function column(leaf: ParquetLeaf, path: string[]): Column {
  const physical = physicalType(leaf.type);
  const c: Column = { leaf, path, maxDefinition: path.length, physical, dictionaryWidth: 0 };
  if (leaf.dictionary) {
    if (leaf.type !== 'STRING' && leaf.type !== 'TIMESTAMP' && leaf.type !== 'INT64')
      throw new Error(`column ${path.join('.')}: a dictionary is for text, integers and timestamps`);
    c.dictionaryWidth = bitWidth(leaf.dictionary.length - 1);
    if (c.dictionaryWidth > MAX_HYBRID_BIT_WIDTH) throw new Error(`column ${path.join('.')}: dictionary of ${leaf.dictionary.length} values is too large`);
    c.dictionaryPage = physical === PHYSICAL.BYTE_ARRAY ? plainStrings(leaf.dictionary.map(String)) : plainInt64(leaf.dictionary.map(Number));
  }
  return c;
}

function schemaElements(fields: ParquetField[]): ThriftValue[] {
  const leafElement = (leaf: ParquetLeaf): ThriftValue => {
    return T.struct([
      [1, T.i32(physicalType(leaf.type))],
      [3, T.i32(OPTIONAL)],
      [4, T.string(leaf.name)],
      [6, leaf.type === 'STRING' ? T.i32(CONVERTED.UTF8) : leaf.type === 'TIMESTAMP' ? T.i32(CONVERTED.TIMESTAMP_MICROS) : undefined],
      [10, logicalType(leaf.type)],
    ]);
  };
  return [
    T.struct([
      [4, T.string('schema')],
      [5, T.i32(fields.length)],
    ]),
    ...fields.flatMap((f) =>
      isGroup(f)
        ? [
            T.struct([
              [3, T.i32(OPTIONAL)],
              [4, T.string(f.name)],
              [5, T.i32(f.children.length)],
            ]),
            ...f.children.map(leafElement),
          ]
        : [leafElement(f)],
    ),
  ];
}

function logicalType(type: ParquetLeafType): ThriftValue | undefined {
  if (type === 'STRING') return T.struct([[1, T.struct([])]]);
  // TIMESTAMP(isAdjustedToUTC = false, MICROS): DuckDB's TIMESTAMP, not TIMESTAMPTZ.
  if (type === 'TIMESTAMP')
    return T.struct([
      [
        8,
        T.struct([
          [1, T.bool(false)],
          [2, T.struct([[2, T.struct([])]])],
        ]),
      ],
    ]);
  return undefined;
}

function pageHeader(type: number, size: number, values: number, encoding: number): Uint8Array {
  const detail =
    type === PAGE.DICTIONARY
      ? ([
          7,
          T.struct([
            [1, T.i32(values)],
            [2, T.i32(encoding)],
          ]),
        ] as const)
      : ([
          5,
          T.struct([
            [1, T.i32(values)],
            [2, T.i32(encoding)],
            [3, T.i32(ENCODING.RLE)],
            [4, T.i32(ENCODING.RLE)],
          ]),
        ] as const);
  return encodeThrift(T.struct([[1, T.i32(type)], [2, T.i32(size)], [3, T.i32(size)], detail]));
}

function page(type: number, body: Uint8Array[], values: number, encoding: number): Page {
  const size = body.reduce((sum, b) => sum + b.byteLength, 0);
  if (size > 0x7fffffff) throw new RangeError(`a page of ${size} bytes is larger than Parquet allows`);
  const header = pageHeader(type, size, values, encoding);
  return { header, body, size: header.length + size, encoding };
}

function dictionaryPage(c: Column): Page {
  return page(PAGE.DICTIONARY, [c.dictionaryPage!], c.leaf.dictionary!.length, ENCODING.PLAIN_DICTIONARY);
}

function bytesOf(values: Float32Array | Float64Array | BigInt64Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** Definition levels with their 4-byte length, as a v1 data page starts; a number: every row's level. */
function definitionLevels(levels: Uint8Array | number, rows: number, maxDefinition: number): Uint8Array {
  const body = typeof levels === 'number' ? constantRun(levels, rows, maxDefinition) : encodeHybrid(levels, rows, bitWidth(maxDefinition));
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length, true);
  out.set(body, 4);
  return out;
}

/** One RLE run: `value` (of 0..maxValue) `rows` times. */
function constantRun(value: number, rows: number, maxValue: number): Uint8Array {
  const bytes: number[] = [];
  for (let n = rows * 2; ; n = Math.floor(n / 0x80)) {
    if (n < 0x80) {
      bytes.push(n);
      break;
    }
    bytes.push((n % 0x80) | 0x80);
  }
  for (let b = 0; b < Math.ceil(bitWidth(maxValue) / 8); b++) bytes.push((value >>> (8 * b)) & 0xff);
  return Uint8Array.from(bytes);
}

function dataPage(c: Column, values: ParquetColumnValues, rows: number): Page {
  const present = c.maxDefinition;
  const missing = c.maxDefinition - 1;
  if (c.leaf.dictionary) {
    let levels: Uint8Array | number = present;
    let indices: ArrayLike<number>;
    let count = rows;
    if ('repeat' in values) {
      checkIndex(c, values.repeat);
      return page(
        PAGE.DATA,
        [definitionLevels(present, rows, c.maxDefinition), Uint8Array.of(c.dictionaryWidth), constantRun(values.repeat, rows, c.leaf.dictionary.length - 1)],
        rows,
        ENCODING.PLAIN_DICTIONARY,
      );
    }
    if (!('indices' in values)) throw new Error(`column ${c.path.join('.')} is dictionary-encoded: give it indices`);
    const all = values.indices;
    if (all.length < rows) throw new Error(`column ${c.path.join('.')} has ${all.length} values for ${rows} rows`);
    const nulls = countBelow(all, rows, 0);
    if (nulls > 0) {
      const defs = new Uint8Array(rows);
      const kept = new Int32Array(rows - nulls);
      for (let i = 0, k = 0; i < rows; i++) {
        if (all[i]! < 0) defs[i] = missing;
        else {
          defs[i] = present;
          kept[k++] = all[i]!;
        }
      }
      levels = defs;
      indices = kept;
      count = kept.length;
    } else indices = all;
    for (let i = 0; i < count; i++) checkIndex(c, indices[i]!);
    return page(
      PAGE.DATA,
      [definitionLevels(levels, rows, c.maxDefinition), Uint8Array.of(c.dictionaryWidth), encodeHybrid(indices, count, c.dictionaryWidth)],
      rows,
      ENCODING.PLAIN_DICTIONARY,
    );
  }
  if ('groupNull' in values) return floatsInNullableGroup(c, values.values, values.groupNull, rows);
  if (values instanceof BigInt64Array && c.leaf.type === 'STRING') {
    if (values.length < rows) throw new Error(`column ${c.path.join('.')} has ${values.length} values for ${rows} rows`);
    return page(PAGE.DATA, [definitionLevels(present, rows, c.maxDefinition), plainDecimals(values.subarray(0, rows))], rows, ENCODING.PLAIN);
  }
  if (values instanceof Float32Array || values instanceof Float64Array || values instanceof BigInt64Array) {
    const expected = c.leaf.type === 'FLOAT' ? Float32Array : c.leaf.type === 'DOUBLE' ? Float64Array : BigInt64Array;
    if (!(values instanceof expected)) throw new Error(`column ${c.path.join('.')} is ${c.leaf.type}, not a ${values.constructor.name}`);
    if (values.length < rows) throw new Error(`column ${c.path.join('.')} has ${values.length} values for ${rows} rows`);
    const own = values.subarray(0, rows);
    if (own instanceof BigInt64Array && c.leaf.delta) {
      const delta = encodeDeltaBinaryPacked(int64Numbers(own), rows);
      if (delta) return page(PAGE.DATA, [definitionLevels(present, rows, c.maxDefinition), delta], rows, ENCODING.DELTA_BINARY_PACKED);
    }
    if (!c.leaf.nanIsNull || own instanceof BigInt64Array) return page(PAGE.DATA, [definitionLevels(present, rows, c.maxDefinition), bytesOf(own)], rows, ENCODING.PLAIN);
    const nulls = own instanceof Float32Array ? countNaN32(own) : countNaN64(own);
    if (nulls === 0) return page(PAGE.DATA, [definitionLevels(present, rows, c.maxDefinition), bytesOf(own)], rows, ENCODING.PLAIN);
    const defs = new Uint8Array(rows);
    const kept = new (own.constructor as Float32ArrayConstructor)(rows - nulls);
    for (let i = 0, k = 0; i < rows; i++) {
      const v = own[i]!;
      if (v !== v) defs[i] = missing;
      else {
        defs[i] = present;
        kept[k++] = v;
      }
    }
    return page(PAGE.DATA, [definitionLevels(defs, rows, c.maxDefinition), bytesOf(kept)], rows, ENCODING.PLAIN);
  }
  if (!Array.isArray(values) || c.leaf.type !== 'STRING') throw new Error(`column ${c.path.join('.')} is ${c.leaf.type}: these values do not fit it`);
  const text = values as ReadonlyArray<string | null>;
  if (text.length < rows) throw new Error(`column ${c.path.join('.')} has ${text.length} values for ${rows} rows`);
  const own = text.length === rows ? text : text.slice(0, rows);
  let nulls = 0;
  for (let i = 0; i < rows; i++) if (own[i] === null || own[i] === undefined) nulls++;
  if (nulls === 0) return page(PAGE.DATA, [definitionLevels(present, rows, c.maxDefinition), plainStrings(own as string[])], rows, ENCODING.PLAIN);
  const defs = new Uint8Array(rows);
  const kept: string[] = [];
  for (let i = 0; i < rows; i++) {
    const v = own[i];
    if (v === null || v === undefined) defs[i] = missing;
    else {
      defs[i] = present;
      kept.push(v);
    }
  }
  return page(PAGE.DATA, [definitionLevels(defs, rows, c.maxDefinition), plainStrings(kept)], rows, ENCODING.PLAIN);
}

/** Definition levels 0 (the group is NULL), 1 (the value is: NaN with nanIsNull), 2 (present). */
function floatsInNullableGroup(c: Column, values: Float32Array | Float64Array, groupNull: Uint8Array, rows: number): Page {
  const expected = c.leaf.type === 'FLOAT' ? Float32Array : Float64Array;
  if (c.maxDefinition !== 2 || !(values instanceof expected)) throw new Error(`column ${c.path.join('.')}: a group's NULL rows go with a ${c.leaf.type} leaf of that group`);
  if (values.length < rows || groupNull.length < rows) throw new Error(`column ${c.path.join('.')} has ${Math.min(values.length, groupNull.length)} values for ${rows} rows`);
  const defs = new Uint8Array(rows);
  const kept = new expected(rows);
  let k = 0;
  for (let i = 0; i < rows; i++) {
    const v = values[i]!;
    if (groupNull[i]) defs[i] = 0;
    else if (c.leaf.nanIsNull && v !== v) defs[i] = 1;
    else {
      defs[i] = 2;
      kept[k++] = v;
    }
  }
  return page(PAGE.DATA, [definitionLevels(defs, rows, 2), bytesOf(kept.subarray(0, k))], rows, ENCODING.PLAIN);
}

function countBelow(values: Int32Array, rows: number, limit: number): number {
  let n = 0;
  for (let i = 0; i < rows; i++) if (values[i]! < limit) n++;
  return n;
}

function checkIndex(c: Column, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= c.leaf.dictionary!.length)
    throw new RangeError(`column ${c.path.join('.')}: index ${index} is not in its dictionary of ${c.leaf.dictionary!.length}`);
}

/** PLAIN BYTE_ARRAY: each value's UTF-8 length (4 bytes) then its bytes. */
function plainStrings(values: readonly string[]): Buffer {
  let bound = 0;
  for (const v of values) bound += 4 + v.length * 3; // UTF-8 needs at most 3 bytes per UTF-16 unit
  const out = Buffer.allocUnsafe(bound);
  let at = 0;
  for (const v of values) at += writeLengthPrefixed(out, at, v);
  return out.subarray(0, at);
}

/**
 * PLAIN BYTE_ARRAY of integers' decimal text (what CAST(… AS VARCHAR) gives), digit by digit:
 * a string per row is most of the cost of a key column.
 */
function plainDecimals(values: BigInt64Array): Buffer {
  const numbers = int64Numbers(values);
  const out = Buffer.allocUnsafe(values.length * 24); // 4 length bytes, a sign, at most 19 digits
  let at = 0;
  for (let i = 0; i < numbers.length; i++) {
    let v = numbers[i]!;
    if (!Number.isSafeInteger(v)) {
      at += writeLengthPrefixed(out, at, String(values[i]!));
      continue;
    }
    const negative = v < 0;
    if (negative) v = -v;
    const length = (negative ? 1 : 0) + decimalDigits(v);
    out[at] = length;
    out[at + 1] = 0;
    out[at + 2] = 0;
    out[at + 3] = 0;
    if (negative) out[at + 4] = 45; // '-'
    let d = at + 4 + length - 1;
    // Above 2^31 in doubles, below in 32-bit integer arithmetic (most keys, and much faster).
    for (; v > 0x7fffffff; d--) {
      const q = Math.floor(v / 10);
      out[d] = 48 + (v - q * 10);
      v = q;
    }
    for (let u = v | 0; ; d--) {
      const q = (u / 10) | 0;
      out[d] = 48 + (u - q * 10);
      u = q;
      if (u === 0) break;
    }
    at += 4 + length;
  }
  return out.subarray(0, at);
}

/** Digits of a non-negative safe integer (the powers of ten it is compared with stay exact). */
function decimalDigits(v: number): number {
  let n = 1;
  for (let limit = 10; v >= limit; limit *= 10) n++;
  return n;
}

// One loop per array type: a loop over either kind of float array is slower than both.
function countNaN32(values: Float32Array): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] !== values[i]) n++;
  return n;
}
function countNaN64(values: Float64Array): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] !== values[i]) n++;
  return n;
}

function writeLengthPrefixed(out: Buffer, at: number, text: string): number {
  const n = out.write(text, at + 4, 'utf8');
  out.writeUInt32LE(n, at);
  return 4 + n;
}

/** INT64 values as numbers (exact while they are safe integers; the delta encoder checks), from their little-endian words. */
function int64Numbers(values: BigInt64Array): Float64Array {
  const words = new Int32Array(values.buffer, values.byteOffset, values.length * 2);
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = words[2 * i + 1]! * 2 ** 32 + (words[2 * i]! >>> 0);
  return out;
}

function plainInt64(values: number[]): Buffer {
  const out = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => out.writeBigInt64LE(BigInt(v), i * 8));
  return out;
}
