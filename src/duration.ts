import { z } from 'zod';

/**
 * Durations as people write them and Temporal takes them: `30s`, `15m`, `24h`, `7d`. Pure, so
 * workflow code can use it too. Inputs are validated by the request schemas before they get here.
 */
export type Duration = `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const PATTERN = /^(\d+)(ms|s|m|h|d)$/;
/** Far beyond any wait we mean, and still a timer Temporal can store (its durations are int64 seconds). */
const MAX_MS = 36_500 * UNIT_MS.d;

export function isDuration(d: string): d is Duration {
  return PATTERN.test(d);
}

export function durationMs(d: string): number {
  const m = PATTERN.exec(d);
  if (!m) throw new Error(`"${d}" is not a duration such as 30m, 24h, 7d`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** A duration field of a request: what a workflow hands to a timer, so anything else fails at the door. */
export const durationSchema = z
  .string()
  .regex(PATTERN, 'a duration such as 30s, 15m, 24h, 7d')
  .refine((d) => !isDuration(d) || durationMs(d) <= MAX_MS, 'at most 36500d (100 years)');

/** How often a schedule runs: a duration such as 30m, 12h, 1d, 7d (Temporal takes the same strings). */
export const everySchema = durationSchema.refine((d) => !isDuration(d) || durationMs(d) >= 60_000, 'interval must be at least 60s');
