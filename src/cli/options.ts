import * as fs from 'node:fs';
import * as os from 'node:os';
import type { IngestRequestInput } from '../datasets/request';
import { userError } from '../errors';

/** Option values as the commands need them; a value that cannot be used names the option. */

export function readJsonFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw userError('InvalidInput', `Cannot read ${what} ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw userError('InvalidInput', `${what} ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

/** JSON inline or @file.json, for options that take structured input. */
export function parseJsonOption(name: string, text: string | undefined): unknown {
  if (text === undefined) return undefined;
  if (text.startsWith('@')) return readJsonFile(text.slice(1), `${name} file`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw userError('InvalidInput', `${name} is not valid JSON: ${(err as Error).message}`);
  }
}

export function numberOption(name: string, text: string): number;
export function numberOption(name: string, text: string | undefined): number | undefined;
export function numberOption(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n)) throw userError('InvalidInput', `${name} must be a number, not "${text}"`);
  return n;
}

/** `a, b,c` → ["a", "b", "c"]. */
export function commaList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** --key / --label for a contract inferred from the data. */
export function inferOptions(opts: { key?: string; label?: string }): IngestRequestInput['infer'] {
  if (!opts.key && !opts.label) return undefined;
  return { ...(opts.key ? { key: commaList(opts.key) } : {}), ...(opts.label ? { label: opts.label } : {}) };
}

/** Who a `--by` names when it is not given. */
export const whoAmI = (): string => process.env.USER ?? os.userInfo().username;
