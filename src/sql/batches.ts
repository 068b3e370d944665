import type { DuckDBDataChunk, DuckDBResult, DuckDBVector } from '@duckdb/node-api';
import * as ort from 'onnxruntime-node';
import { quoteIdent } from './quote';

/**
 * Rows from DuckDB to ONNX Runtime in batches, as typed arrays. Shared by shadow evaluation and
 * batch scoring: the query selects the model inputs first (see `featureSelect`), then whatever
 * else the caller needs, and `batches` yields one batch of chunks at a time while DuckDB already
 * decodes the next one.
 */
export type InputKind = 'float' | 'string';

/** A model input as a SELECT item: floats coalesced to NaN, strings to '' (the models' "missing"). */
export function featureSelect(name: string, kind: InputKind): string {
  return kind === 'float' ? `coalesce(CAST(${quoteIdent(name)} AS FLOAT), 'NaN'::FLOAT)` : `coalesce(CAST(${quoteIdent(name)} AS VARCHAR), '')`;
}

/**
 * Batches of at least `batchSize` rows (unless the data ends). Read-ahead: the next batch is
 * fetched while the caller works on this one; a failed fetch surfaces when its batch is awaited.
 * `close` waits for a fetch still running, which must end before the connection is closed.
 */
export function batches(result: DuckDBResult, batchSize: number): { next: () => Promise<DuckDBDataChunk[] | undefined>; close: () => Promise<void> } {
  const fetchBatch = async (): Promise<DuckDBDataChunk[] | undefined> => {
    const chunks: DuckDBDataChunk[] = [];
    let count = 0;
    while (count < batchSize) {
      const chunk = await result.fetchChunk();
      const size = chunk?.rowCount ?? 0;
      if (!chunk || size === 0) break;
      chunks.push(chunk);
      count += size;
    }
    return chunks.length ? chunks : undefined;
  };
  let upcoming: Promise<DuckDBDataChunk[] | undefined> | undefined;
  const prefetch = () => {
    upcoming = fetchBatch();
    upcoming.catch(() => undefined); // awaited by next(); must not count as unhandled meanwhile
  };
  return {
    async next() {
      if (!upcoming) prefetch();
      const current = upcoming!;
      const chunks = await current;
      if (chunks) prefetch();
      else upcoming = current;
      return chunks;
    },
    async close() {
      await upcoming?.catch(() => undefined);
    },
  };
}

/** Row counts of the chunks (a native call each time: read once). */
export function chunkSizes(chunks: DuckDBDataChunk[]): number[] {
  return chunks.map((c) => c.rowCount);
}

/** Column `column` of all chunks into `target` (numbers). */
export function columnNumbers<T extends Float32Array | Float64Array | Int32Array | BigInt64Array>(chunks: DuckDBDataChunk[], sizes: number[], column: number, target: T): T {
  let offset = 0;
  chunks.forEach((chunk, c) => {
    copyNumbers(chunk.getColumnVector(column), sizes[c]!, target, offset);
    offset += sizes[c]!;
  });
  return target;
}

export function columnStrings(chunks: DuckDBDataChunk[], sizes: number[], column: number): string[] {
  const values: string[] = [];
  chunks.forEach((chunk, c) => {
    const vector = chunk.getColumnVector(column);
    for (let i = 0; i < sizes[c]!; i++) values.push(vector.getItem(i) as string);
  });
  return values;
}

/** The model inputs, which the query selected first and in this order, as [N, 1] tensors. */
export function featureFeeds(chunks: DuckDBDataChunk[], sizes: number[], inputs: ReadonlyArray<[string, InputKind]>): Record<string, ort.Tensor> {
  const rows = sizes.reduce((a, b) => a + b, 0);
  const feeds: Record<string, ort.Tensor> = {};
  inputs.forEach(([name, kind], j) => {
    feeds[name] =
      kind === 'float'
        ? new ort.Tensor('float32', columnNumbers(chunks, sizes, j, new Float32Array(rows)), [rows, 1])
        : new ort.Tensor('string', columnStrings(chunks, sizes, j), [rows, 1]);
  });
  return feeds;
}

/**
 * FLOAT, DOUBLE, INTEGER and BIGINT vectors keep their values in a typed array; copying it whole
 * is far faster than reading item by item. The field is not public API, so anything else goes
 * through getItem. NULLs would only show in the validity mask: callers select no NULLs here
 * (features are coalesced, labels filtered, codes always set).
 */
function copyNumbers(vector: DuckDBVector, count: number, target: Float32Array | Float64Array | Int32Array | BigInt64Array, offset: number): void {
  const items = (vector as unknown as { items?: unknown }).items;
  const sameKind = items instanceof (target.constructor as typeof Float32Array);
  if (sameKind && (items as ArrayLike<number>).length >= count) {
    target.set((items as Float32Array).subarray(0, count) as never, offset);
    return;
  }
  if (target instanceof BigInt64Array) {
    for (let i = 0; i < count; i++) target[offset + i] = BigInt((vector.getItem(i) as bigint | number | null) ?? 0);
    return;
  }
  for (let i = 0; i < count; i++) target[offset + i] = (vector.getItem(i) as number | null) ?? Number.NaN;
}

export function concat<T extends Float32Array | Float64Array | Int32Array>(parts: T[], Type: { new (length: number): T }): T {
  const out = new Type(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p as never, offset);
    offset += p.length;
  }
  return out;
}
