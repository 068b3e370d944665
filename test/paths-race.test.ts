import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../src/client/ingest';
import { startLabels } from '../src/client/retrain';
import { rootApplicationFailure } from '../src/errors';
import { openDuckDb, queryRows } from '../src/sql/duckdb';
import { type TestEnv, startTestEnv } from './helpers/env';

/**
 * The allowed-roots check against a file that is swapped with a symlink out of the root while
 * the worker ingests it: a check on the path and a second open for the copy let rows from
 * outside the root through (2 of 30 versions, as first reported). What is checked must be what is read.
 */
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-race-'));
const allowed = path.join(base, 'allowed');
const outside = path.join(base, 'outside');
const contract = {
  columns: [
    { name: 'id', type: 'integer' as const },
    { name: 'secret', type: 'boolean' as const },
  ],
  key: ['id'],
};
let env: TestEnv;
let swapper: ChildProcess | undefined;

beforeAll(async () => {
  fs.mkdirSync(allowed);
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(allowed, 'inside.csv'), 'id,secret\n1,false\n2,false\n');
  fs.writeFileSync(path.join(outside, 'secret.csv'), 'id,secret\n1,true\n2,true\n3,true\n');
  env = await startTestEnv('paths-race', { MLOPS_INGEST_ALLOWED_ROOTS: allowed });
});
afterAll(async () => {
  swapper?.kill('SIGKILL');
  await env?.shutdown();
  fs.rmSync(base, { recursive: true, force: true });
});

/** Swaps `name` between a regular file inside the root and a symlink out of it, as fast as rename allows. */
function startSwapping(name: string, inside: string, target: string): ChildProcess {
  const script = `
import os, sys
name, inside, target = sys.argv[1:4]
while True:
    os.symlink(target, name + '.l'); os.rename(name + '.l', name)
    os.link(inside, name + '.f'); os.rename(name + '.f', name)
`;
  const child = spawn('python3', ['-c', script, name, inside, target], { stdio: 'ignore' });
  return child;
}

describe('a source swapped with a symlink out of the allowed root while it is ingested', () => {
  it('never publishes rows from outside the root, over 30 ingests', async () => {
    const racy = path.join(allowed, 'racy.csv');
    fs.linkSync(path.join(allowed, 'inside.csv'), racy);
    swapper = startSwapping(racy, path.join(allowed, 'inside.csv'), path.join(outside, 'secret.csv'));
    const outcomes: string[] = [];
    for (let i = 0; i < 30; i++) {
      try {
        const ref = await ingest(env.client, env.config, { dataset: 'raced', source: racy, contract, retentionDays: i });
        outcomes.push(`version ${ref.version}`);
      } catch (err) {
        const failure = rootApplicationFailure(err);
        // Refused while it pointed out of the root: the check and the read saw the same file.
        expect(failure?.type, String(err)).toBe('InvalidInput');
        expect(failure?.message).toMatch(/is outside the folders this worker may read/);
        outcomes.push('refused');
      }
    }
    swapper.kill('SIGKILL');
    swapper = undefined;
    const versions = fs.existsSync(env.store.path('datasets', 'raced', 'versions')) ? fs.readdirSync(env.store.path('datasets', 'raced', 'versions')) : [];
    const db = await openDuckDb();
    try {
      const conn = await db.connect();
      for (const version of versions) {
        const [row] = await queryRows<{ rows: number; secret: number }>(
          conn,
          `SELECT count(*) AS rows, count(*) FILTER (WHERE secret) AS secret FROM read_parquet('${env.store.path('datasets', 'raced', 'versions', version, 'data.parquet')}')`,
        );
        expect(row, `version ${version} of ${JSON.stringify(outcomes)}`).toEqual({ rows: 2, secret: 0 });
      }
      // Raw copies are kept too: none may hold the outside file's bytes.
      for (const dir of fs.existsSync(env.store.path('raw', 'raced')) ? fs.readdirSync(env.store.path('raw', 'raced')) : []) {
        const copy = fs.readFileSync(env.store.path('raw', 'raced', dir, 'part-0000.csv'), 'utf8');
        expect(copy).not.toContain('true');
      }
    } finally {
      db.closeSync();
    }
    // Both outcomes happened, so the race was really run.
    expect(outcomes.filter((o) => o.startsWith('version')).length, JSON.stringify(outcomes)).toBeGreaterThan(0);
    expect(outcomes, 'the swapper never had the symlink in place').toContain('refused');
    console.log(`30 raced ingests: ${outcomes.filter((o) => o === 'refused').length} refused, the rest the inside version`);
    expect(versions.length).toBeLessThanOrEqual(1);
  });

  it('reads late labels only from what it checked', async () => {
    await ingest(env.client, env.config, { dataset: 'labelled', source: path.join(allowed, 'inside.csv'), contract });
    const racy = path.join(allowed, 'labels.csv');
    fs.linkSync(path.join(allowed, 'inside.csv'), racy);
    swapper = startSwapping(racy, path.join(allowed, 'inside.csv'), path.join(outside, 'secret.csv'));
    for (let i = 0; i < 20; i++) {
      try {
        const batch = await (await startLabels(env.client, env.config, { dataset: 'labelled', source: racy, label: 'secret' })).result();
        expect(batch.rows).toBe(2);
      } catch (err) {
        expect(rootApplicationFailure(err)?.message, String(err)).toMatch(/is outside the folders this worker may read/);
      }
    }
    swapper.kill('SIGKILL');
    swapper = undefined;
    const db = await openDuckDb();
    try {
      const conn = await db.connect();
      const [row] = await queryRows<{ secret: number }>(
        conn,
        `SELECT count(*) FILTER (WHERE label = 'true') AS secret FROM read_parquet('${env.store.path('labels', 'labelled')}/*.parquet')`,
      );
      expect(row?.secret).toBe(0);
    } finally {
      db.closeSync();
    }
  });
});
