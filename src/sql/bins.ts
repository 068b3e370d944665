import { numberLiteral, quoteIdent, varcharList } from './quote';

/**
 * SQL that puts each row of a column into a bin and gives the bin's index, always set, for
 * counting in DuckDB. Both kinds end with the same convention: the value bins, then (for
 * categories) "other", then "missing" last.
 */

/** ≤ upperEdges[0] → 0, …, above the last edge → upperEdges.length; NULL or NaN → upperEdges.length + 1. */
export function numericBinCode(column: string, upperEdges: readonly number[]): string {
  const x = `CAST(${quoteIdent(column)} AS DOUBLE)`;
  const cases = upperEdges.map((e, i) => `WHEN ${x} <= ${numberLiteral(e)} THEN ${i}`).join(' ');
  return `(CASE WHEN ${x} IS NULL OR isnan(${x}) THEN ${upperEdges.length + 1} ${cases} ELSE ${upperEdges.length} END)::INTEGER`;
}

/** values[i] → i; any other value → values.length ("other"); NULL → values.length + 1 ("missing"). */
export function categoryCode(column: string, values: readonly string[]): string {
  const col = quoteIdent(column);
  // list_position is 1-based and NULL when absent.
  return `(CASE WHEN ${col} IS NULL THEN ${values.length + 1} ELSE coalesce(list_position(${varcharList(values)}, CAST(${col} AS VARCHAR)) - 1, ${values.length}) END)::INTEGER`;
}

/** A bin edge for people: four significant digits. */
export function formatEdge(v: number): string {
  return Number(v.toPrecision(4)).toString();
}
