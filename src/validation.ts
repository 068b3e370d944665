import type { z } from 'zod';
import { type UserErrorType, userError } from './errors';

/** zod issues as one readable, indented list: the path, then what is wrong. */
export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `  - ${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`).join('\n');
}

/** Parses user input or throws a non-retryable failure that says what to fix. */
export function parseInput<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  type: UserErrorType = 'InvalidInput',
): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw userError(type, `Invalid ${what}:\n${formatIssues(parsed.error)}`);
}
