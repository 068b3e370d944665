/** Plain-text tables and JSON output for the CLI. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Rows as an aligned text table. The columns are every key any row has, in the order they first
 * appear, so a value only later rows carry (an attempt's metric, a field older records lack) is
 * never dropped; `columns` picks and orders them instead.
 */
export function formatTable(objects: ReadonlyArray<object>, columns?: string[]): string {
  if (objects.length === 0) return '(none)';
  const rows = objects as ReadonlyArray<Record<string, unknown>>;
  const cols = columns ?? columnsOf(rows);
  const cell = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'number' ? formatNumber(v) : String(v));
  const cells = rows.map((r) => cols.map((c) => cell(r[c])));
  // A loop, not Math.max(...): a spread of 100,000 rows overflows the call stack.
  const widths = cols.map((c) => c.length);
  for (const values of cells) values.forEach((v, i) => (widths[i] = Math.max(widths[i]!, v.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

function columnsOf(rows: ReadonlyArray<Record<string, unknown>>): string[] {
  const seen = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) seen.add(key);
  return [...seen];
}

export function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const abs = Math.abs(v);
  return abs !== 0 && (abs < 1e-3 || abs >= 1e9) ? v.toExponential(3) : String(Number(v.toPrecision(6)));
}

export function printTable(rows: ReadonlyArray<object>, columns?: string[]): void {
  process.stdout.write(`${formatTable(rows, columns)}\n`);
}

/** What every list command does: rows as JSON with --json, else as a table. */
export function printRows(rows: ReadonlyArray<object>, json: boolean | undefined): void {
  if (json) printJson(rows);
  else printTable(rows);
}
