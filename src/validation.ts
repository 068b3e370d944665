import type { z } from 'zod';
import { type UserErrorType, userError } from './errors';
import { didYouMean } from './suggest';

/**
 * zod issues as one readable, indented list: the path, then what is wrong. With `knownKeys`, an
 * unrecognized key also names the close matches and the keys that are valid there.
 */
export function formatIssues(error: z.ZodError, knownKeys?: readonly string[]): string {
  return error.issues
    .map((i) => {
      const where = i.path.length ? `${i.path.join('.')}: ` : '';
      if (i.code === 'unrecognized_keys' && knownKeys) {
        return i.keys.map((k) => `  - ${where}unknown key "${k}"${didYouMean(k, knownKeys, 'valid')}`).join('\n');
      }
      return `  - ${where}${i.message}`;
    })
    .join('\n');
}

/** Parses user input or throws a non-retryable failure that says what to fix. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string, type: UserErrorType = 'InvalidInput'): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw userError(type, `Invalid ${what}:\n${formatIssues(parsed.error)}`);
}
