import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { cliFor } from './helpers/cli';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-infer-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** `mlops contract infer` as a user runs it; it needs no Temporal server. */
const infer = (file: string) => cliFor(loadConfig({ MLOPS_DATA_DIR: path.join(dir, 'store') }))('contract', 'infer', file);

describe('mlops contract infer', () => {
  it('refuses an empty file instead of inventing a column0 contract', async () => {
    const empty = path.join(dir, 'empty.csv');
    fs.writeFileSync(empty, '');
    const run = await infer(empty);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/EmptySource: .*empty\.csv is empty \(0 bytes\); there is nothing to infer a contract from/);
  });

  it('still drafts a contract from a file with rows', async () => {
    const file = path.join(dir, 'ok.csv');
    fs.writeFileSync(file, 'id,x\n1,0.5\n2,1.5\n');
    const run = await infer(file);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).columns.map((c: { name: string }) => c.name)).toEqual(['id', 'x']);
  });
});
