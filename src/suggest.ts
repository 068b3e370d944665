/**
 * "Did you mean …?" for names a person typed: columns, parameters, models, datasets. One place,
 * so every error that names an unknown thing offers the same kind of help.
 */

/** Edit distance with adjacent transpositions (optimal string alignment): "nEstimator" → "nEstimators" is 1. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known names that `name` is probably a slip of, closest first: the same name in another
 * case, then those within a third of its length in edits (at least one, at most three).
 */
export function closeMatches(name: string, known: readonly string[], limit = 3): string[] {
  const lower = name.toLowerCase();
  const allowed = Math.min(3, Math.max(1, Math.floor(name.length / 3)));
  return known
    .filter((k) => k !== name)
    .map((k) => ({ k, distance: k.toLowerCase() === lower ? 0 : editDistance(lower, k.toLowerCase()) }))
    .filter((c) => c.distance <= allowed)
    .sort((x, y) => x.distance - y.distance || x.k.localeCompare(y.k))
    .slice(0, limit)
    .map((c) => c.k);
}

/**
 * The tail of an error about an unknown `name`: `; did you mean "Species"?`, and the valid names
 * (the first `listed` of them) so a person can pick one — e.g. `; known columns: a, b, c`.
 */
export function didYouMean(name: string, known: readonly string[], what: string, listed = 20): string {
  const close = closeMatches(name, known);
  const guess = close.length ? `; did you mean ${close.map((c) => JSON.stringify(c)).join(' or ')}?` : '';
  if (known.length === 0) return `${guess}; there are no ${what} yet`;
  const shown = known.slice(0, listed).join(', ');
  return `${guess} (${what}: ${shown}${known.length > listed ? `, … ${known.length - listed} more` : ''})`;
}
