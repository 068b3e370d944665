import type { DuckDBConnection } from '@duckdb/node-api';
import type { ModelCard } from '../models/card';
import { queryRows } from '../sql/duckdb';
import { quoteString } from '../sql/quote';
import { FLAG_NOT_A_NUMBER, FLAG_OUT_OF_RANGE } from './score';

/**
 * What a scoring run's page shows, counted in SQL over the run's own prediction log: the output
 * distribution split into in-range and flagged rows, and the flagged rows furthest outside the
 * acceptable range with the contributions that pushed them there. Stored in run.json, bounded
 * in size whatever the row count.
 */
export interface ScoreRunSummary {
  /** bins + 1 edges over the outputs and the range; counts per bin of in-range and out-of-range rows. */
  histogram: { edges: number[]; inRange: number[]; outOfRange: number[] };
  /** The most extreme flagged rows, furthest outside the range first; not-a-number rows last. */
  topFlagged: FlaggedRow[];
  /** What a contribution is measured in (the model card's explanation), when the model explains itself. */
  contributionScale?: 'log-odds' | 'value';
}

export interface FlaggedRow {
  key: string;
  output: number | null;
  flag: string;
  /** Above the range's max, below its min, or no number at all. */
  direction: 'high' | 'low' | 'not-a-number';
  /** The largest contributions by size (feature → share of the output, in the card's scale). */
  contributions: Array<{ feature: string; value: number }>;
}

const BINS = 30;
export const TOP_FLAGGED = 10;
const TOP_CONTRIBUTIONS = 8;

/** `parts`: the run's log files (paths or s3:// URLs). */
export async function summarizeScoreRun(conn: DuckDBConnection, parts: readonly string[], card: ModelCard, range: { min: number; max: number }): Promise<ScoreRunSummary> {
  const log = `read_parquet([${parts.map(quoteString).join(', ')}], union_by_name = true)`;
  const [bounds] = await queryRows<{ lo: number | null; hi: number | null }>(conn, `SELECT min(output) AS lo, max(output) AS hi FROM ${log} WHERE isfinite(output)`);
  // Probabilities live on [0, 1]; a value's axis spans what was scored and the range around it.
  const lo = card.task === 'regression' ? Math.min(bounds?.lo ?? range.min, range.min) : 0;
  const hi = card.task === 'regression' ? Math.max(bounds?.hi ?? range.max, range.max) : 1;
  const width = hi > lo ? (hi - lo) / BINS : 1;
  const counts = await queryRows<{ bin: number; flagged: boolean; n: number }>(
    conn,
    `SELECT least(${BINS - 1}, greatest(0, floor((output - ${lo}) / ${width})))::INTEGER AS bin, flag IS NOT DISTINCT FROM ${quoteString(FLAG_OUT_OF_RANGE)} AS flagged, count(*)::INTEGER AS n
     FROM ${log} WHERE isfinite(output) GROUP BY ALL`,
  );
  const inRange = new Array<number>(BINS).fill(0);
  const outOfRange = new Array<number>(BINS).fill(0);
  for (const c of counts) (c.flagged ? outOfRange : inRange)[c.bin]! += c.n;

  const explained = card.explanation !== undefined;
  const flagged = await queryRows<{ key: string; output: number | null; flag: string; contributions: string | null }>(
    conn,
    `SELECT key, CASE WHEN isfinite(output) THEN output END AS output, flag, ${explained ? 'to_json(contributions)::VARCHAR' : 'NULL'} AS contributions
     FROM ${log} WHERE flag IS NOT NULL
     ORDER BY flag = ${quoteString(FLAG_NOT_A_NUMBER)}, greatest(${range.min} - output, output - ${range.max}) DESC NULLS LAST, row_number
     LIMIT ${TOP_FLAGGED}`,
  );
  return {
    histogram: { edges: Array.from({ length: BINS + 1 }, (_, k) => (k === BINS ? hi : lo + k * width)), inRange, outOfRange },
    topFlagged: flagged.map((r) => ({
      key: r.key,
      output: r.output,
      flag: r.flag,
      direction: r.flag === FLAG_NOT_A_NUMBER || r.output === null ? 'not-a-number' : r.output > range.max ? 'high' : 'low',
      contributions: topContributions(r.contributions),
    })),
    ...(card.explanation ? { contributionScale: card.explanation.scale } : {}),
  };
}

function topContributions(json: string | null): FlaggedRow['contributions'] {
  if (!json) return [];
  return Object.entries(JSON.parse(json) as Record<string, number | null>)
    .filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1]))
    .map(([feature, value]) => ({ feature, value }))
    .sort((a, b) => Math.abs(b.value) - Math.abs(a.value) || a.feature.localeCompare(b.feature))
    .slice(0, TOP_CONTRIBUTIONS);
}
