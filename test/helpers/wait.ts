export interface UntilOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Keep polling when the probe throws (a query racing continue-as-new); otherwise its error ends the wait. */
  retryErrors?: boolean;
}

/** Polls `probe` until it returns a value (not undefined) and returns it; fails naming `what` after the timeout. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, options: UntilOptions = {}): Promise<T> {
  const { timeoutMs = 30_000, intervalMs = 250, retryErrors = false } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await (retryErrors ? probe().catch(() => undefined) : probe());
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
