/**
 * A scoring run too large for one worker is split into parts by row ranges of the snapshot
 * (`file_row_number`, which DuckDB prunes row groups by, so a part reads only its own rows). The
 * plan is pure and deterministic: the workflow computes it from the row count it recorded, and a
 * replay computes the same parts.
 */
export const MAX_SCORE_PARTS = 256;
export const DEFAULT_SPLIT_ROWS = 2_000_000;

export interface ScorePart {
  /** 0-based; names the part's staging folder and orders its log files in the run. */
  index: number;
  /** First file_row_number of the part. */
  firstRow: number;
  rows: number;
  /**
   * The last part reads to the end of the snapshot rather than to firstRow + rows: should the
   * manifest's count ever fall short of the file, no row goes unscored.
   */
  last: boolean;
}

/**
 * Parts of at most `splitRows` rows, at most MAX_SCORE_PARTS of them (beyond that, parts grow),
 * sized evenly so no part is a small remainder that a worker starts up for. Zero rows: one part.
 */
export function planScoreParts(totalRows: number, splitRows: number): ScorePart[] {
  if (!Number.isInteger(totalRows) || totalRows < 0) throw new Error(`row count must be a non-negative integer, not ${totalRows}`);
  if (!Number.isInteger(splitRows) || splitRows < 1) throw new Error(`splitRows must be a positive integer, not ${splitRows}`);
  const count = Math.min(MAX_SCORE_PARTS, Math.max(1, Math.ceil(totalRows / splitRows)));
  const base = Math.floor(totalRows / count);
  const larger = totalRows % count; // the first `larger` parts take one row more
  const parts: ScorePart[] = [];
  let firstRow = 0;
  for (let index = 0; index < count; index++) {
    const rows = base + (index < larger ? 1 : 0);
    parts.push({ index, firstRow, rows, last: index === count - 1 });
    firstRow += rows;
  }
  return parts;
}

/** A part's name in staging keys and activity summaries: zero-padded, so names sort as parts do. */
export function partName(index: number): string {
  return `part-${String(index).padStart(3, '0')}`;
}
