import type { DuckDBConnection } from '@duckdb/node-api';
import { type ColumnType, type Contract, contractSchema, parseContract } from './schema';
import { assertColumnLimit } from '../datasets/limits';
import { assertNotEmpty } from '../datasets/raw';
import { type CsvOptions, readRelation, type SourceFormat } from '../datasets/source';
import { userError } from '../errors';
import { queryRows } from '../sql/duckdb';
import { quoteIdent } from '../sql/quote';
import { formatIssues } from '../validation';

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
  /** Refuse sources wider than this (MLOPS_MAX_COLUMNS) before computing anything per column. */
  maxColumns?: number;
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

export async function inferContract(conn: DuckDBConnection, files: readonly string[], format: SourceFormat, csv: CsvOptions = {}, options: InferOptions = {}): Promise<Contract> {
  await assertNotEmpty(files, 'there is nothing to infer a contract from');
  const relation = readRelation(files, format, csv, 'sniff-types');
  // Names as hex, like the allowed values below: the driver's VARCHAR decoding drops a leading U+FEFF.
  const described = await queryRows<{ name: string; column_type: string }>(conn, `SELECT hex(column_name) AS name, column_type FROM (DESCRIBE SELECT * FROM ${relation})`);
  if (options.maxColumns !== undefined) assertColumnLimit(described.length, options.maxColumns, files.length === 1 ? files[0]! : `${files.length} source files`);
  const columns = described.map((d) => ({ name: Buffer.from(d.name, 'hex').toString('utf8'), type: contractTypeOf(d.column_type) }));
  // The source's names reach SQL below, before the inferred contract is parsed at the end: check
  // them first, so a header with NUL (or a reserved name) is a clear error, not a quoteIdent throw.
  const names = contractSchema.safeParse({ columns });
  if (!names.success) {
    throw userError(
      'InvalidInput',
      `The source's column names cannot be used as they are (with no contract given, they become the contract); rename them in the source:\n${formatIssues(names.error)}`,
    );
  }
  const maxAllowed = options.maxAllowedValues ?? 20;

  const stats = columns.flatMap((c, i) => [`count(*) - count(${quoteIdent(c.name)}) AS n${i}`, ...(c.type === 'string' ? [`count(DISTINCT ${quoteIdent(c.name)}) AS d${i}`] : [])]);
  const [row] = await queryRows(conn, `SELECT count(*) AS rows, ${stats.join(', ')} FROM ${relation}`);
  const rows = (row?.rows as number) ?? 0;

  const contractColumns = [];
  for (const [i, c] of columns.entries()) {
    const nulls = (row?.[`n${i}`] as number) ?? 0;
    const col: Record<string, unknown> = { name: c.name, type: c.type, nullable: nulls > 0 || rows === 0 };
    const distinct = row?.[`d${i}`] as number | undefined;
    // An allowed list only when values clearly repeat; otherwise it would just be the sample.
    if (distinct !== undefined && distinct > 0 && distinct <= maxAllowed && distinct * 5 <= rows) {
      // As hex, decoded here: @duckdb/node-api decodes VARCHAR with a default TextDecoder, which
      // drops a leading U+FEFF, and the allowed set would then reject the very values it came from.
      const values = await queryRows<{ hex: string }>(
        conn,
        `SELECT hex(v) AS hex FROM (SELECT DISTINCT CAST(${quoteIdent(c.name)} AS VARCHAR) AS v FROM ${relation} WHERE ${quoteIdent(c.name)} IS NOT NULL) ORDER BY v`,
      );
      col.allowed = values.map((v) => Buffer.from(v.hex, 'hex').toString('utf8'));
    }
    contractColumns.push(col);
  }
  const key = options.key ?? [];
  for (const k of key) {
    const col = contractColumns.find((c) => c.name === k);
    if (col) col.nullable = false;
  }
  // A row without its label cannot train or judge a model: required, so such rows are quarantined
  // (and counted) at ingestion instead of published and silently dropped by training later.
  const labelIndex = contractColumns.findIndex((c) => c.name === options.label);
  const unlabeled = labelIndex < 0 ? 0 : ((row?.[`n${labelIndex}`] as number) ?? 0);
  if (labelIndex >= 0) contractColumns[labelIndex]!.nullable = false;
  return parseContract({
    version: 1,
    description:
      `Inferred from ${files.length} ${format} file(s), ${rows} rows; review before relying on it.` +
      (unlabeled ? ` ${unlabeled} row(s) have no ${JSON.stringify(options.label)}: the label is required, so they will be quarantined.` : ''),
    columns: contractColumns,
    key,
    ...(options.label ? { label: options.label } : {}),
  });
}
