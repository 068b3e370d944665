/**
 * Durations as people write them and Temporal takes them: `30s`, `15m`, `24h`, `7d`. Pure, so
 * workflow code can use it too. Inputs are validated by the request schemas before they get here.
 */
export type Duration = `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export function durationMs(d: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(d);
  if (!m) throw new Error(`"${d}" is not a duration such as 30m, 24h, 7d`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}
