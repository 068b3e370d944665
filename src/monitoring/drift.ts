import type { DuckDBConnection } from '@duckdb/node-api';
import type { ColumnProfile } from '../datasets/profile';
import { queryRows } from '../sql/duckdb';
import { categoryCode, formatEdge, numericBinCode } from '../sql/bins';
import { DEFAULT_DRIFT_THRESHOLDS, type DriftThresholds } from './request';
import { binnedKs, chiSquare, psi } from './stats';

/**
 * Feature drift of live data against a training profile. Live values are counted in SQL into
 * the profile's own bins — its histogram for numerics (values outside the training range fall
 * into the end bins), its top values plus "other" for categoricals — with missing values as a
 * bin of their own on both sides, so a jump in missingness is drift too.
 */

export interface FeatureDrift {
  feature: string;
  kind: 'numeric' | 'categorical';
  rows: number;
  psi: number;
  test: 'ks' | 'chi-square';
  statistic: number;
  pValue: number;
  drifted: boolean;
  /** Bin labels with training and live shares, for the report. */
  bins: Array<{ bin: string; training: number; live: number }>;
}

interface Bins {
  labels: string[];
  training: number[];
  /** SQL giving each row's bin index (0-based, always set). */
  expression: string;
}

function binsOf(profile: ColumnProfile): Bins | undefined {
  if (profile.histogram && profile.histogram.counts.length > 0) {
    const { edges, counts } = profile.histogram;
    return {
      labels: [...counts.map((_, i) => `(${formatEdge(edges[i]!)}, ${formatEdge(edges[i + 1]!)}]`), 'missing'],
      training: [...counts, profile.nulls],
      // The inner edges: values outside the training range fall into the end bins.
      expression: numericBinCode(profile.name, edges.slice(1, -1)),
    };
  }
  if (profile.top) {
    const values = profile.top.map((t) => t.value);
    const known = profile.top.reduce((a, t) => a + t.count, 0);
    return {
      labels: [...values, 'other', 'missing'],
      training: [...profile.top.map((t) => t.count), Math.max(0, profile.count - known), profile.nulls],
      expression: categoryCode(profile.name, values),
    };
  }
  return undefined;
}

/** Drift of every feature in `features` that the profile describes, in one pass over `relation`. */
export async function featureDrift(
  conn: DuckDBConnection,
  relation: string,
  profile: readonly ColumnProfile[],
  features: readonly string[],
  thresholds: DriftThresholds = DEFAULT_DRIFT_THRESHOLDS,
): Promise<FeatureDrift[]> {
  const described = features
    .map((name) => profile.find((p) => p.name === name))
    .flatMap((p) => {
      const bins = p && binsOf(p);
      return p && bins ? [{ profile: p, bins }] : [];
    });
  if (described.length === 0) return [];
  // One histogram per feature, all in one scan: histogram(bin) gives {bin: count}.
  const selects = described.map((d, i) => `histogram(${d.bins.expression}) AS h${i}`);
  const [row] = await queryRows(conn, `SELECT count(*) AS n, ${selects.join(', ')} FROM ${relation}`);
  const rows = (row?.n as number | undefined) ?? 0;
  return described.map(({ profile: p, bins }, i) => {
    const entries = (row?.[`h${i}`] ?? []) as Array<{ key: number; value: number }>;
    const live = bins.labels.map((_, b) => entries.find((e) => e.key === b)?.value ?? 0);
    const numeric = p.histogram !== undefined;
    const test = numeric ? binnedKs(bins.training, live) : chiSquare(bins.training, live);
    const value = psi(bins.training, live);
    const trainingTotal = bins.training.reduce((a, b) => a + b, 0) || 1;
    const liveTotal = live.reduce((a, b) => a + b, 0) || 1;
    return {
      feature: p.name,
      kind: numeric ? 'numeric' : 'categorical',
      rows,
      psi: value,
      test: numeric ? 'ks' : 'chi-square',
      statistic: test.statistic,
      pValue: test.pValue,
      drifted: rows > 0 && value >= thresholds.psi && test.pValue < thresholds.pValue,
      bins: bins.labels.map((bin, b) => ({ bin, training: bins.training[b]! / trainingTotal, live: live[b]! / liveTotal })),
    };
  });
}
