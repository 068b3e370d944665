import type { DuckDBConnection } from '@duckdb/node-api';
import { type ColumnType, type Contract, parseContract } from './schema';
import { type CsvOptions, readRelation, type SourceFormat } from '../datasets/source';
import { queryRows } from '../sql/duckdb';
import { quoteIdent } from '../sql/quote';

/**
 * A starting contract from the data itself: DuckDB's type sniffing, nullability as observed,
 * and the allowed set of low-cardinality text columns. Meant to be reviewed and tightened by a
 * person (ranges in particular are left open: the data seen so far is not a specification).
 */
export interface InferOptions {
  label?: string;
  key?: string[];
  /** Text columns with at most this many distinct values get an `allowed` list. */
  maxAllowedValues?: number;
}

export function contractTypeOf(duckdbType: string): ColumnType {
  const t = duckdbType.toUpperCase();
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/.test(t)) return 'integer';
  if (/^(FLOAT|DOUBLE|REAL)$/.test(t) || t.startsWith('DECIMAL')) return 'double';
  if (t === 'BOOLEAN') return 'boolean';
  if (t === 'DATE') return 'date';
  if (t.startsWith('TIMESTAMP')) return 'timestamp';
  return 'string';
}

export async function inferContract(
  conn: DuckDBConnection,
  files: readonly string[],
  format: SourceFormat,
  csv: CsvOptions = {},
  options: InferOptions = {},
): Promise<Contract> {
  const relation = readRelation(files, format, csv, 'sniff-types');
  const described = await queryRows<{ column_name: string; column_type: string }>(conn, `DESCRIBE SELECT * FROM ${relation}`);
  const columns = described.map((d) => ({ name: d.column_name, type: contractTypeOf(d.column_type) }));
  const maxAllowed = options.maxAllowedValues ?? 20;

  const stats = columns.flatMap((c, i) => [
    `count(*) - count(${quoteIdent(c.name)}) AS n${i}`,
    ...(c.type === 'string' ? [`count(DISTINCT ${quoteIdent(c.name)}) AS d${i}`] : []),
  ]);
  const [row] = await queryRows(conn, `SELECT count(*) AS rows, ${stats.join(', ')} FROM ${relation}`);
  const rows = (row?.rows as number) ?? 0;

  const contractColumns = [];
  for (const [i, c] of columns.entries()) {
    const nulls = (row?.[`n${i}`] as number) ?? 0;
    const col: Record<string, unknown> = { name: c.name, type: c.type, nullable: nulls > 0 || rows === 0 };
    const distinct = row?.[`d${i}`] as number | undefined;
    // An allowed list only when values clearly repeat; otherwise it would just be the sample.
    if (distinct !== undefined && distinct > 0 && distinct <= maxAllowed && distinct * 5 <= rows) {
      const values = await queryRows<{ v: string }>(
        conn,
        `SELECT DISTINCT CAST(${quoteIdent(c.name)} AS VARCHAR) AS v FROM ${relation} WHERE ${quoteIdent(c.name)} IS NOT NULL ORDER BY v`,
      );
      col.allowed = values.map((v) => v.v);
    }
    contractColumns.push(col);
  }
  const key = options.key ?? [];
  for (const k of key) {
    const col = contractColumns.find((c) => c.name === k);
    if (col) col.nullable = false;
  }
  return parseContract({
    version: 1,
    description: `Inferred from ${files.length} ${format} file(s), ${rows} rows; review before relying on it.`,
    columns: contractColumns,
    key,
    ...(options.label ? { label: options.label } : {}),
  });
}
