/**
 * The only way user-supplied names and values enter SQL text. DuckDB follows the SQL standard:
 * identifiers in double quotes with embedded quotes doubled, strings in single quotes likewise.
 * NUL cannot be represented in either, so it is refused rather than silently truncated. Nor can a
 * lone UTF-16 surrogate (possible in JSON input, never in UTF-8 files): the driver sends it as
 * U+FFFD, so the SQL would name a different column or compare a different value than asked.
 */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new Error('SQL identifier must not be empty');
  if (name.includes('\0')) throw new Error('SQL identifier must not contain NUL');
  if (hasLoneSurrogate(name)) throw new Error('SQL identifier must be well-formed Unicode (it has a lone surrogate)');
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteString(value: string): string {
  if (value.includes('\0')) throw new Error('SQL string must not contain NUL');
  if (hasLoneSurrogate(value)) throw new Error('SQL string must be well-formed Unicode (it has a lone surrogate)');
  return `'${value.replaceAll("'", "''")}'`;
}

/** Half of a UTF-16 surrogate pair on its own: text no UTF-8 encoding can carry. */
export function hasLoneSurrogate(text: string): boolean {
  return /\p{Cs}/u.test(text);
}

/**
 * A finite number as an exact SQL DOUBLE. Cast from its shortest round-trip text: a bare
 * literal such as -0.20018000000000002 is parsed as a DECIMAL first and lands one ulp off.
 */
export function numberLiteral(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`SQL number literal must be finite, got ${value}`);
  return `CAST('${String(value)}' AS DOUBLE)`;
}

export function stringList(values: readonly string[]): string {
  return values.map(quoteString).join(', ');
}

/** A list of strings as a DuckDB VARCHAR[] literal, e.g. for list_position. */
export function varcharList(values: readonly string[]): string {
  return `[${stringList(values)}]::VARCHAR[]`;
}
