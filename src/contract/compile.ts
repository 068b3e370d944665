import type { ColumnType, Contract, ContractColumn } from './schema';
import { numberLiteral, quoteIdent, quoteString } from '../sql/quote';

/**
 * Compiles a contract to DuckDB SQL. Validation runs as one set-based query: every check is a
 * CASE expression yielding a reason string or NULL, collected per row into a list. No row ever
 * passes through JavaScript.
 *
 * Inside the generated SQL, source columns are addressed by position (`_mlops_c<i>`), so a hostile
 * column name appears only inside quoteIdent/quoteString, never as raw SQL text.
 */
export const REASONS_COLUMN = '_mlops_reasons';

export const DUCKDB_TYPES: Record<ColumnType, string> = {
  integer: 'BIGINT',
  double: 'DOUBLE',
  string: 'VARCHAR',
  boolean: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMP',
};

export function internalName(index: number): string {
  return `_mlops_c${index}`;
}

/** The value cast to the contract type; NULL when the cast fails. */
export function typedExpr(column: ContractColumn, ref: string): string {
  return `TRY_CAST(${ref} AS ${DUCKDB_TYPES[column.type]})`;
}

/** True when a present value is not of the declared type. */
function typeInvalidExpr(column: ContractColumn, ref: string): string {
  const typed = typedExpr(column, ref);
  if (column.type === 'string') return 'false';
  if (column.type === 'integer') {
    // TRY_CAST('3.5' AS BIGINT) rounds to 4; an integer column must not silently round.
    return `(${typed} IS NULL OR TRY_CAST(${ref} AS DOUBLE) <> ${typed})`;
  }
  return `${typed} IS NULL`;
}

function reason(column: ContractColumn, text: string): string {
  return quoteString(`${column.name}: ${text}`);
}

function sqlValue(column: ContractColumn, v: string | number): string {
  return typeof v === 'number' ? numberLiteral(v) : quoteString(v);
}

export function columnChecks(column: ContractColumn, ref: string): string[] {
  const typed = typedExpr(column, ref);
  const checks: string[] = [];
  if (!column.nullable) checks.push(`CASE WHEN ${ref} IS NULL THEN ${reason(column, 'missing value (not nullable)')} END`);
  if (column.type !== 'string') {
    checks.push(
      `CASE WHEN ${ref} IS NOT NULL AND ${typeInvalidExpr(column, ref)} THEN ${reason(column, `not a valid ${column.type}`)} END`,
    );
  }
  if (column.type === 'double') {
    checks.push(`CASE WHEN NOT isfinite(${typed}) THEN ${reason(column, 'NaN or Infinity')} END`);
  }
  // NaN compares greater than every number in DuckDB; NaN/Infinity are reported once, not also as
  // out of range or not allowed.
  const comparable = column.type === 'double' ? `isfinite(${typed}) AND ` : '';
  if (column.min !== undefined) {
    checks.push(`CASE WHEN ${comparable}${typed} < ${numberLiteral(column.min)} THEN ${reason(column, `below min ${column.min}`)} END`);
  }
  if (column.max !== undefined) {
    checks.push(`CASE WHEN ${comparable}${typed} > ${numberLiteral(column.max)} THEN ${reason(column, `above max ${column.max}`)} END`);
  }
  if (column.allowed) {
    const list = column.allowed.map((v) => sqlValue(column, v)).join(', ');
    checks.push(`CASE WHEN ${comparable}${typed} NOT IN (${list}) THEN ${reason(column, 'value not in allowed set')} END`);
  }
  if (column.pattern !== undefined) {
    checks.push(
      `CASE WHEN NOT regexp_full_match(${typed}, ${quoteString(column.pattern)}) THEN ${reason(column, 'does not match pattern')} END`,
    );
  }
  return checks;
}

function keyColumns(contract: Contract): Array<{ column: ContractColumn; ref: string }> {
  const byName = new Map(contract.columns.map((c, i) => [c.name, { column: c, ref: internalName(i) }]));
  return contract.key.map((k) => byName.get(k)!);
}

function keyLabel(contract: Contract): string {
  return `key (${contract.key.join(', ')})`;
}

/**
 * Key columns must be present even when the column itself is declared nullable. Non-nullable key
 * columns already report a missing value, and invalid values report their type, so this check
 * covers only the nullable ones (one reason per problem, not two).
 */
function keyNullCheck(contract: Contract): string[] {
  const nullableKeys = keyColumns(contract).filter(({ column }) => column.nullable);
  if (nullableKeys.length === 0) return [];
  const anyNull = nullableKeys.map(({ ref }) => `${ref} IS NULL`).join(' OR ');
  return [`CASE WHEN ${anyNull} THEN ${quoteString(`${keyLabel(contract)}: missing key value`)} END`];
}

/**
 * Statements that add a "duplicate key" reason to every row of a duplicated key. Every copy is
 * rejected: which one is right is not ours to guess. Done as GROUP BY + UPDATE rather than a
 * window in the staging query, because a window would reorder rows and the snapshot keeps the
 * source order.
 */
export function duplicateKeyStatements(contract: Contract, table: string): string[] {
  if (contract.key.length === 0) return [];
  const keys = keyColumns(contract);
  const typedKeys = keys.map(({ column, ref }, i) => `${typedExpr(column, ref)} AS k${i}`).join(', ');
  const notNull = keys.map(({ column, ref }) => `${typedExpr(column, ref)} IS NOT NULL`).join(' AND ');
  const match = keys.map(({ column, ref }, i) => `${typedExpr(column, `${table}.${ref}`)} = d.k${i}`).join(' AND ');
  const reasonText = quoteString(`${keyLabel(contract)}: duplicate key`);
  return [
    `CREATE OR REPLACE TEMP TABLE mlops_duplicate_keys AS SELECT ${typedKeys} FROM ${table} WHERE ${notNull} GROUP BY ALL HAVING count(*) > 1`,
    `UPDATE ${table} SET ${REASONS_COLUMN} = list_append(${table}.${REASONS_COLUMN}, ${reasonText}) FROM mlops_duplicate_keys d WHERE ${match}`,
    'DROP TABLE mlops_duplicate_keys',
  ];
}

/**
 * SELECT list over the raw source relation producing the staging table: each contract column as
 * its raw value under its positional name, plus the list of reasons the row breaks the contract.
 * `sourceNames[i]` is the name of the source column that feeds contract column i.
 */
export function stagingSelect(contract: Contract, sourceNames: readonly string[]): string {
  const rawCols = contract.columns.map((_, i) => `${quoteIdent(sourceNames[i]!)} AS ${internalName(i)}`);
  return rawCols.join(', ');
}

export function reasonsExpr(contract: Contract): string {
  const checks = [
    ...contract.columns.flatMap((c, i) => columnChecks(c, internalName(i))),
    ...keyNullCheck(contract),
  ];
  if (checks.length === 0) return `CAST([] AS VARCHAR[])`;
  return `list_filter([${checks.join(', ')}], r -> r IS NOT NULL)`;
}

/** Typed output columns under their contract names, for accepted rows. */
export function acceptedSelect(contract: Contract): string {
  return contract.columns.map((c, i) => `${typedExpr(c, internalName(i))} AS ${quoteIdent(c.name)}`).join(', ');
}

/** Raw values as text under their contract names, for the quarantine file. */
export function quarantineSelect(contract: Contract): string {
  return contract.columns.map((c, i) => `CAST(${internalName(i)} AS VARCHAR) AS ${quoteIdent(c.name)}`).join(', ');
}
