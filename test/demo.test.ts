import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../src/temporal/dev-server';
import { temporalReachable } from '../src/temporal/readiness';

/**
 * The README's first command, as a new user runs it: `npm run demo` with no server around, so it
 * starts its own embedded dev server, tells the whole story from the applied spec and stops the
 * server again. Its own process, data folder and server: nothing is shared with the other files.
 */
const ROOT = path.resolve(__dirname, '..');

function runDemo(env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'scripts/demo.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('npm run demo', () => {
  it('runs the loop from the applied spec on an embedded server, end to end, and leaves nothing running', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-demo-'));
    // An address nothing serves: the demo must start (and stop) a server of its own.
    const nowhere = `127.0.0.1:${await freePort()}`;
    const { MLOPS_STORE: _store, ...inherited } = process.env;
    const { code, out } = await runDemo({ ...inherited, MLOPS_DATA_DIR: dataDir, TEMPORAL_ADDRESS: nowhere });
    expect(code, out).toBe(0);

    expect(out).toMatch(/spec churn: 2 to create, 0 to update, 0 to delete \(applied\)/);
    // Each landed day is one chain, scored and monitored without a command typed.
    expect(out.match(/^ {2}landed:churn:churn-live:[0-9a-f]{16}: ingested churn-live@/gm)).toHaveLength(3);
    expect(out).toMatch(/ALERT: \d+ of 4000 predictions/);
    expect(out).toMatch(/monitoring: THRESHOLD CROSSED — .*live rocAuc/);
    expect(out).toMatch(/shadow evaluation of [0-9a-f]{16} against [0-9a-f]{16}: rocAuc .* gates passed/);
    expect(out).toMatch(/loop improved after 1 attempt\(s\) in 1 run\(s\); production is now [0-9a-f]{16}/);
    expect(out).toMatch(/FLAG: no improvement after 1 attempt\(s\)/);

    // Every artifact in the run's own store (not beside it), the three landed runs in its log.
    expect(fs.readdirSync(dataDir)).toEqual(['demo']);
    const [run] = fs.readdirSync(path.join(dataDir, 'demo'));
    const predictions = fs.readdirSync(path.join(dataDir, 'demo', run!, 'predictions', 'churn'));
    expect(predictions.filter((r) => r.startsWith('landed-'))).toHaveLength(3);

    const server = /gRPC (127\.0\.0\.1:\d+), Web UI/.exec(out)?.[1];
    expect(server, out).toBeDefined();
    expect(await temporalReachable(server!)).toBe(false);
  }, 300_000);
});
