/** Checks shared by the validators of every update a person sends (who, and why). */
export function requireText(value: unknown, what: string): void {
  if (typeof value !== 'string' || value.trim().length === 0) throw new Error(`${what} must be a non-empty text`);
}
