import type { ColumnType, Contract, ContractColumn } from './schema';
import { numberLiteral, quoteIdent, quoteString } from '../sql/quote';

/**
 * Compiles a contract to DuckDB SQL. Validation runs as one set-based query: every check is a
 * CASE expression yielding a reason string or NULL, collected per row into a list. No row ever
 * passes through JavaScript.
 *
 * Inside the generated SQL, columns are addressed by position (`_mlops_r<i>` raw, `_mlops_c<i>`
 * typed), so a hostile column name appears only inside quoteIdent/quoteString, never as raw SQL.
 *
 * The staging table keeps each value once, already typed, plus the raw text of rejected rows only
 * (for the quarantine file): values are cast once, and accepted rows carry no text copies.
 */
export const REASONS_COLUMN = '_mlops_reasons';
export const RAW_VALUES_COLUMN = '_mlops_raw';
/** Accepted rows have no reasons list at all (NULL costs a validity bit; an empty list costs more). */
export const IS_ACCEPTED = `${REASONS_COLUMN} IS NULL`;
export const IS_REJECTED = `${REASONS_COLUMN} IS NOT NULL`;

export const DUCKDB_TYPES: Record<ColumnType, string> = {
  integer: 'BIGINT',
  double: 'DOUBLE',
  string: 'VARCHAR',
  boolean: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMP',
};

export function typedName(index: number): string {
  return `_mlops_c${index}`;
}

function rawName(index: number): string {
  return `_mlops_r${index}`;
}

/**
 * The value cast to the contract type; NULL when it is not a valid value of that type. Integers
 * must be integral as written: TRY_CAST('3.5' AS BIGINT) rounds to 4 and '0x10' reads as 16, so
 * the value must also equal its DOUBLE reading (NULL for hex).
 */
export function typedExpr(column: ContractColumn, ref: string): string {
  if (column.type === 'integer') {
    return `CASE WHEN TRY_CAST(${ref} AS DOUBLE) = TRY_CAST(${ref} AS BIGINT) THEN TRY_CAST(${ref} AS BIGINT) END`;
  }
  return `TRY_CAST(${ref} AS ${DUCKDB_TYPES[column.type]})`;
}

/** One contract check: a SQL condition that is true when the row breaks it, and the reason text. */
export interface Check {
  when: string;
  reason: string;
}

function sqlValue(v: string | number): string {
  return typeof v === 'number' ? numberLiteral(v) : quoteString(v);
}

/** Checks of one column, over its raw value and its typed value (column references). */
export function columnChecks(column: ContractColumn, raw: string, typed: string): Check[] {
  const checks: Check[] = [];
  const add = (when: string, text: string) => checks.push({ when, reason: `${column.name}: ${text}` });
  if (!column.nullable) add(`${raw} IS NULL`, 'missing value (not nullable)');
  if (column.type !== 'string') add(`${raw} IS NOT NULL AND ${typed} IS NULL`, `not a valid ${column.type}`);
  if (column.type === 'double') add(`NOT isfinite(${typed})`, 'NaN or Infinity');
  // NaN compares greater than every number in DuckDB; NaN/Infinity are reported once, not also as
  // out of range or not allowed.
  const comparable = column.type === 'double' ? `isfinite(${typed}) AND ` : '';
  if (column.min !== undefined) add(`${comparable}${typed} < ${numberLiteral(column.min)}`, `below min ${column.min}`);
  if (column.max !== undefined) add(`${comparable}${typed} > ${numberLiteral(column.max)}`, `above max ${column.max}`);
  if (column.allowed) {
    add(`${comparable}${typed} NOT IN (${column.allowed.map(sqlValue).join(', ')})`, 'value not in allowed set');
  }
  if (column.pattern !== undefined) {
    add(`NOT regexp_full_match(${typed}, ${quoteString(column.pattern)})`, 'does not match pattern');
  }
  return checks;
}

function keyIndexes(contract: Contract): number[] {
  return contract.key.map((k) => contract.columns.findIndex((c) => c.name === k));
}

function keyLabel(contract: Contract): string {
  return `key (${contract.key.join(', ')})`;
}

/**
 * Key columns must be present even when the column itself is declared nullable. Non-nullable key
 * columns already report a missing value, and invalid values report their type, so this check
 * covers only the nullable ones (one reason per problem, not two).
 */
function keyNullCheck(contract: Contract): Check[] {
  const nullableKeys = keyIndexes(contract).filter((i) => contract.columns[i]!.nullable);
  if (nullableKeys.length === 0) return [];
  const anyNull = nullableKeys.map((i) => `${rawName(i)} IS NULL`).join(' OR ');
  return [{ when: anyNull, reason: `${keyLabel(contract)}: missing key value` }];
}

/**
 * Statements that add a "duplicate key" reason to every row of a duplicated key. Every copy is
 * rejected: which one is right is not ours to guess. Done as GROUP BY + UPDATE rather than a
 * window in the staging query, because a window would reorder rows and the snapshot keeps the
 * source order.
 */
export function duplicateKeyStatements(contract: Contract, table: string): string[] {
  if (contract.key.length === 0) return [];
  const keys = keyIndexes(contract).map(typedName);
  const reasonText = quoteString(`${keyLabel(contract)}: duplicate key`);
  return [
    `CREATE OR REPLACE TEMP TABLE mlops_duplicate_keys AS SELECT ${keys.join(', ')} FROM ${table} ` +
      `WHERE ${keys.map((k) => `${k} IS NOT NULL`).join(' AND ')} GROUP BY ALL HAVING count(*) > 1`,
    `UPDATE ${table} SET ${REASONS_COLUMN} = list_append(coalesce(${table}.${REASONS_COLUMN}, CAST([] AS VARCHAR[])), ${reasonText}), ` +
      `${RAW_VALUES_COLUMN} = coalesce(${table}.${RAW_VALUES_COLUMN}, ${typedAsTextList(contract, table)}) ` +
      `FROM mlops_duplicate_keys d WHERE ${keys.map((k) => `${table}.${k} = d.${k}`).join(' AND ')}`,
    'DROP TABLE mlops_duplicate_keys',
  ];
}

function typedAsTextList(contract: Contract, table: string): string {
  return `[${contract.columns.map((_, i) => `CAST(${table}.${typedName(i)} AS VARCHAR)`).join(', ')}]`;
}

/**
 * The row's reasons. Most rows break nothing, so one cheap OR over all conditions decides first,
 * and only breaking rows build the list of reason strings.
 */
function reasonsExpr(contract: Contract): string {
  const checks = [...contract.columns.flatMap((c, i) => columnChecks(c, rawName(i), typedName(i))), ...keyNullCheck(contract)];
  if (checks.length === 0) return `CAST(NULL AS VARCHAR[])`;
  const any = checks.map((c) => `(${c.when})`).join(' OR ');
  const list = checks.map((c) => `CASE WHEN ${c.when} THEN ${quoteString(c.reason)} END`).join(', ');
  return `CASE WHEN ${any} THEN list_filter([${list}], r -> r IS NOT NULL) END`;
}

/**
 * The staging query over the source relation: typed values (`_mlops_c<i>`), the list of reasons
 * the row breaks the contract, and the raw values as text for rejected rows only.
 * `sourceNames[i]` is the source column that feeds contract column i.
 */
export function stagingQuery(contract: Contract, sourceNames: readonly string[], relation: string): string {
  const raw = contract.columns.map((_, i) => rawName(i));
  const typed = contract.columns.map((_, i) => typedName(i));
  const rawFromSource = contract.columns.map((_, i) => `${quoteIdent(sourceNames[i]!)} AS ${raw[i]}`);
  const castOnce = contract.columns.map((c, i) => `${typedExpr(c, raw[i]!)} AS ${typed[i]}`);
  // The THEN branch is evaluated only for rejected rows, so accepted rows never build the list.
  const rawText = `[${raw.map((r) => `CAST(${r} AS VARCHAR)`).join(', ')}]`;
  return (
    `SELECT ${typed.join(', ')}, ${REASONS_COLUMN}, ` +
    `CASE WHEN ${IS_REJECTED} THEN ${rawText} END AS ${RAW_VALUES_COLUMN} ` +
    `FROM (SELECT *, ${reasonsExpr(contract)} AS ${REASONS_COLUMN} ` +
    `FROM (SELECT ${[...raw, ...castOnce].join(', ')} FROM (SELECT ${rawFromSource.join(', ')} FROM ${relation})))`
  );
}

/** Typed output columns under their contract names, for accepted rows. */
export function acceptedSelect(contract: Contract): string {
  return contract.columns.map((c, i) => `${typedName(i)} AS ${quoteIdent(c.name)}`).join(', ');
}

/** Raw values as text under their contract names, for the quarantine file. */
export function quarantineSelect(contract: Contract): string {
  return contract.columns.map((c, i) => `${RAW_VALUES_COLUMN}[${i + 1}] AS ${quoteIdent(c.name)}`).join(', ');
}
