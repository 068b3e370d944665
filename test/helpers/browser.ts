import { type Browser, chromium } from 'playwright-core';
import { inject } from 'vitest';

/**
 * Headless chromium as the global setup provisioned it. The flags keep it off the network
 * (this machine's closed network refuses its background connections) and out of a sandbox it
 * cannot have as root.
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: inject('chromiumPath'),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}
