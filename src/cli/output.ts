/** Plain-text tables and JSON output for the CLI. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function formatTable(objects: ReadonlyArray<object>, columns?: string[]): string {
  if (objects.length === 0) return '(none)';
  const rows = objects as ReadonlyArray<Record<string, unknown>>;
  const cols = columns ?? Object.keys(rows[0]!);
  const cell = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'number' ? formatNumber(v) : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join('\n');
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
