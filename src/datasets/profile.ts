import type { DuckDBConnection } from '@duckdb/node-api';
import type { ColumnType } from '../contract/schema';
import { queryRows } from '../sql/duckdb';
import { numberLiteral, quoteIdent } from '../sql/quote';

/**
 * Per-column statistics of a dataset version, computed in DuckDB. Counts, nulls, min, max, mean,
 * std, histograms and top values are always exact. Up to EXACT_PROFILE_MAX_ROWS rows, quantiles and
 * distinct counts are exact too; above that, quantiles are computed exactly on a deterministic
 * systematic sample of about QUANTILE_SAMPLE_ROWS rows and numeric distinct counts by HyperLogLog,
 * which costs a fraction of a full sort, and the column says so (`approximate`).
 */
export const QUANTILE_LEVELS = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99] as const;
export const EXACT_PROFILE_MAX_ROWS = 250_000;
export const QUANTILE_SAMPLE_ROWS = 100_000;
export const HISTOGRAM_BINS = 20;
export const TOP_VALUES = 10;

export interface ColumnProfile {
  name: string;
  type: ColumnType;
  count: number;
  nulls: number;
  distinct: number;
  min?: number | string;
  max?: number | string;
  mean?: number;
  std?: number;
  /** quantile level → value (linear interpolation, like numpy's default). */
  quantiles?: Record<string, number>;
  /** Equal-width bins: counts[i] covers (edges[i], edges[i+1]], the first bin includes edges[0]. */
  histogram?: { edges: number[]; counts: number[] };
  top?: Array<{ value: string; count: number }>;
  /** Present when quantiles and distinct were estimated by sketches (large datasets). */
  approximate?: true;
}

export type DatasetProfile = ColumnProfile[];

const isNumeric = (t: ColumnType) => t === 'integer' || t === 'double';

/** What to profile: a relation, and optionally a non-negative row number in it (gaps allowed) for sampling. */
export interface ProfileSource {
  relation: string;
  rowNumber?: string;
}

/**
 * Columns profiled per pass over the data. Every aggregate (distinct counts, quantiles) holds its own
 * state per thread, so one query over all columns of a wide table needed memory in proportion to
 * its width: 1,001 columns of 100 rows ran DuckDB out of 2 GB. Passes of this many keep memory flat
 * at any width, and a table this narrow (the usual case) still takes a single pass.
 */
export const PROFILE_COLUMNS_PER_PASS = 64;

export async function profileTable(
  conn: DuckDBConnection,
  source: ProfileSource,
  columns: ReadonlyArray<{ name: string; type: ColumnType }>,
  rows: number,
): Promise<DatasetProfile> {
  const profile: DatasetProfile = [];
  for (let i = 0; i < columns.length; i += PROFILE_COLUMNS_PER_PASS) {
    profile.push(...(await profileColumns(conn, source, columns.slice(i, i + PROFILE_COLUMNS_PER_PASS), rows)));
  }
  return profile;
}

async function profileColumns(conn: DuckDBConnection, source: ProfileSource, columns: ReadonlyArray<{ name: string; type: ColumnType }>, rows: number): Promise<DatasetProfile> {
  const exact = rows <= EXACT_PROFILE_MAX_ROWS;
  const levels = `[${QUANTILE_LEVELS.join(', ')}]`;
  const aggregates: string[] = ['count(*) AS n'];
  columns.forEach((c, i) => {
    const col = quoteIdent(c.name);
    // Categorical columns have few distinct values, so their exact count is cheap at any size.
    const distinct = exact || !isNumeric(c.type) ? `count(DISTINCT ${col})` : `approx_count_distinct(${col})`;
    aggregates.push(`count(${col}) AS c${i}_count`, `${distinct} AS c${i}_distinct`);
    if (isNumeric(c.type)) {
      const x = `CAST(${col} AS DOUBLE)`;
      aggregates.push(`min(${x}) AS c${i}_min`, `max(${x}) AS c${i}_max`, `avg(${x}) AS c${i}_mean`, `stddev_samp(${x}) AS c${i}_std`);
      if (exact) aggregates.push(`quantile_cont(${x}, ${levels}) AS c${i}_q`);
      else if (!source.rowNumber) aggregates.push(`approx_quantile(${x}, ${levels}) AS c${i}_q`);
    } else {
      aggregates.push(`CAST(min(${col}) AS VARCHAR) AS c${i}_min`, `CAST(max(${col}) AS VARCHAR) AS c${i}_max`);
    }
  });
  const [stats] = await queryRows(conn, `SELECT ${aggregates.join(', ')} FROM ${source.relation}`);
  if (!stats) throw new Error('profile query returned no row');
  const n = stats.n as number;

  const profile: DatasetProfile = columns.map((c, i) => {
    const count = stats[`c${i}_count`] as number;
    const p: ColumnProfile = { name: c.name, type: c.type, count, nulls: n - count, distinct: stats[`c${i}_distinct`] as number };
    if (count > 0) {
      p.min = stats[`c${i}_min`] as number | string;
      p.max = stats[`c${i}_max`] as number | string;
    }
    if (isNumeric(c.type) && count > 0) {
      p.mean = stats[`c${i}_mean`] as number;
      const std = stats[`c${i}_std`];
      if (typeof std === 'number') p.std = std;
      const q = stats[`c${i}_q`] as number[] | undefined;
      if (q) p.quantiles = quantileRecord(q);
      if (!exact) p.approximate = true;
    }
    return p;
  });

  if (!exact && source.rowNumber) {
    const every = Math.ceil(rows / QUANTILE_SAMPLE_ROWS);
    await addSampledQuantiles(conn, { relation: source.relation, rowNumber: source.rowNumber }, profile, every);
  }
  await addHistograms(conn, source.relation, profile);
  await addTopValues(conn, source.relation, profile);
  return profile;
}

function quantileRecord(values: readonly number[]): Record<string, number> {
  return Object.fromEntries(QUANTILE_LEVELS.map((level, j) => [String(level), values[j]!]));
}

function equalWidthEdges(min: number, max: number, bins: number): number[] {
  if (min === max) return [min, max];
  const width = (max - min) / bins;
  return Array.from({ length: bins + 1 }, (_, i) => (i === bins ? max : min + i * width));
}

/** Equal-width histograms over [min, max]: a second pass, since the edges need the first's min/max. */
async function addHistograms(conn: DuckDBConnection, relation: string, profile: DatasetProfile): Promise<void> {
  const numeric = profile.filter((p) => isNumeric(p.type) && typeof p.min === 'number');
  if (numeric.length === 0) return;
  const edgesByColumn = numeric.map((p) => equalWidthEdges(p.min as number, p.max as number, HISTOGRAM_BINS));
  // histogram(x, boundaries) counts x into (b[i-1], b[i]]; the upper edges are the boundaries.
  const selects = numeric.map((p, i) => {
    const upper = edgesByColumn[i]!.slice(1).map(numberLiteral);
    return `histogram(CAST(${quoteIdent(p.name)} AS DOUBLE), [${upper.join(', ')}]) AS h${i}`;
  });
  const [row] = await queryRows(conn, `SELECT ${selects.join(', ')} FROM ${relation}`);
  numeric.forEach((p, i) => {
    const edges = edgesByColumn[i]!;
    const entries = (row?.[`h${i}`] ?? []) as Array<{ key: number | null; value: number }>;
    const counts = edges.slice(1).map((upper) => entries.find((e) => e.key === upper)?.value ?? 0);
    p.histogram = { edges, counts };
  });
}

/** Exact quantiles of a systematic sample (every k-th row): deterministic, and a small sort. */
async function addSampledQuantiles(conn: DuckDBConnection, source: Required<ProfileSource>, profile: DatasetProfile, every: number): Promise<void> {
  const numeric = profile.filter((p) => isNumeric(p.type) && p.count > 0);
  if (numeric.length === 0) return;
  const levels = `[${QUANTILE_LEVELS.join(', ')}]`;
  const selects = numeric.map((p, i) => `quantile_cont(CAST(${quoteIdent(p.name)} AS DOUBLE), ${levels}) AS q${i}`);
  const [row] = await queryRows(conn, `SELECT ${selects.join(', ')} FROM ${source.relation} WHERE ${source.rowNumber} % ${every} = 0`);
  numeric.forEach((p, i) => {
    const q = row?.[`q${i}`] as number[] | null | undefined;
    if (q) p.quantiles = quantileRecord(q);
  });
}

async function addTopValues(conn: DuckDBConnection, relation: string, profile: DatasetProfile): Promise<void> {
  const categorical = profile.filter((p) => !isNumeric(p.type) && p.count > 0);
  if (categorical.length === 0) return;
  const parts = categorical.map(
    (p, i) =>
      `SELECT ${i} AS col, CAST(${quoteIdent(p.name)} AS VARCHAR) AS value, count(*) AS n FROM ${relation} ` +
      `WHERE ${quoteIdent(p.name)} IS NOT NULL GROUP BY ALL ORDER BY n DESC, value LIMIT ${TOP_VALUES}`,
  );
  const rows = await queryRows<{ col: number; value: string; n: number }>(conn, parts.map((p) => `(${p})`).join(' UNION ALL '));
  categorical.forEach((p, i) => {
    p.top = rows
      .filter((r) => r.col === i)
      .sort((a, b) => b.n - a.n || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
      .map((r) => ({ value: r.value, count: r.n }));
  });
}
