import { userError } from '../errors';
import type { ModelCard } from '../models/card';
import { formatEdge, numericBinCode } from '../sql/bins';
import { queryRows } from '../sql/duckdb';
import type { DuckDBConnection } from '@duckdb/node-api';
import { binnedKs, psi } from './stats';

/**
 * Prediction drift: the model's output on live data against its output on the test split at
 * training time, in the test split's deciles. Output drift is what users feel first, and it is
 * visible before any label arrives.
 */
export interface PredictionDrift {
  rows: number;
  psi: number;
  ksStatistic: number;
  pValue: number;
  drifted: boolean;
  bins: Array<{ bin: string; training: number; live: number }>;
}

/** Deciles of the test-split outputs (deduplicated edges) and the rows in each bin. */
export function decileProfile(values: Float64Array): ModelCard['predictionProfile'] {
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))]!;
  const innerEdges = [...new Set([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9].map(at))].filter(Number.isFinite);
  const counts = new Array<number>(innerEdges.length + 1).fill(0);
  for (const v of sorted) {
    let b = 0;
    while (b < innerEdges.length && v > innerEdges[b]!) b++;
    counts[b]!++;
  }
  return { innerEdges, counts };
}

/** `column` of `relation` holds the live outputs (positive-class probability or value). */
export async function predictionDrift(
  conn: DuckDBConnection,
  relation: string,
  column: string,
  profile: ModelCard['predictionProfile'],
  thresholds: { psi: number; pValue: number },
): Promise<PredictionDrift> {
  if (!profile || profile.counts.length === 0) throw userError('InvalidInput', 'The model card has no prediction profile (it was trained by an older version); retrain it');
  const [row] = await queryRows<{ n: number; h: Array<{ key: number; value: number }> | null }>(
    conn,
    `SELECT count(*) AS n, histogram(${numericBinCode(column, profile.innerEdges)}) AS h FROM ${relation}`,
  );
  const entries = row?.h ?? [];
  // numericBinCode puts missing (NaN/NULL outputs) in a bin of its own: count it against a zero share.
  const training = [...profile.counts, 0];
  const live = training.map((_, b) => entries.find((e) => e.key === b)?.value ?? 0);
  const test = binnedKs(training, live);
  const value = psi(training, live);
  const trainingTotal = training.reduce((a, b) => a + b, 0) || 1;
  const liveTotal = live.reduce((a, b) => a + b, 0) || 1;
  const edges = profile.innerEdges;
  const label = (b: number) =>
    b === edges.length + 1
      ? 'missing'
      : edges.length === 0
        ? 'all'
        : b === 0
          ? `≤ ${formatEdge(edges[0]!)}`
          : b === edges.length
            ? `> ${formatEdge(edges[b - 1]!)}`
            : `(${formatEdge(edges[b - 1]!)}, ${formatEdge(edges[b]!)}]`;
  return {
    rows: row?.n ?? 0,
    psi: value,
    ksStatistic: test.statistic,
    pValue: test.pValue,
    drifted: (row?.n ?? 0) > 0 && value >= thresholds.psi && test.pValue < thresholds.pValue,
    bins: training.map((t, b) => ({ bin: label(b), training: t / trainingTotal, live: live[b]! / liveTotal })),
  };
}
