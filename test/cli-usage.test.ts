import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type Cli, cliEnvironment, cliFor } from './helpers/cli';
import { people, writePeopleCsv } from './helpers/data';
import { type TestEnv, startTestEnv } from './helpers/env';

/**
 * How the `mlops` command behaves around its commands: in a shell pipeline, with no worker
 * listening, with mistyped names. No worker runs for this file's task queue, on purpose.
 */
let env: TestEnv;
let mlops: Cli;
beforeAll(async () => {
  env = await startTestEnv('cli-usage', {}, { worker: false });
  mlops = cliFor(env.config);
});
afterAll(async () => {
  await env?.shutdown();
});

/** `mlops <args> | head -n <lines>` in a real shell; the exit status of mlops itself, and its stderr. */
function pipedIntoHead(args: string[], lines = 1): Promise<{ status: number; head: string; stderr: string }> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `${quoted} 2>"$MLOPS_TEST_STDERR_FILE" | head -n ${lines}; echo "status=\${PIPESTATUS[0]}"; cat "$MLOPS_TEST_STDERR_FILE"`], {
      env: { ...cliEnvironment(env.config), MLOPS_TEST_STDERR_FILE: `${env.inputDir}/stderr-${Date.now()}.txt` },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      const match = /^([\s\S]*?)status=(\d+)\n([\s\S]*)$/.exec(out);
      if (!match) return reject(new Error(`unexpected shell output: ${out}`));
      resolve({ head: match[1]!, status: Number(match[2]), stderr: match[3]! });
    });
  });
}

describe('mlops in a pipeline', () => {
  it('stops quietly when the reader goes away (| head)', async () => {
    const table = await pipedIntoHead(['sql', 'SELECT * FROM range(100000)']);
    expect(table.head).toBe('range\n');
    expect(table.stderr).toBe('');
    expect(table.status).toBe(0);

    const json = await pipedIntoHead(['sql', 'SELECT * FROM range(100000)', '--json'], 2);
    expect(json.head).toBe('[\n  {\n');
    expect(json.stderr).toBe('');
    expect(json.status).toBe(0);
  });
});

describe('mlops with no worker polling the task queue', () => {
  it('says so within seconds, names the queue and the server, and how to start a worker', async () => {
    const data = path.join(env.inputDir, 'nobody.csv');
    writePeopleCsv(data, people(50, 1));
    const started = Date.now();
    const run = await mlops('ingest', 'nobody', data);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `mlops: NoWorker: no worker is polling task queue "${env.config.taskQueue}" on ${env.config.temporalAddress} — start one with \`npx mlops worker\``,
    );
    expect(run.stderr).toContain('--wait-for-worker');
    // A few seconds of grace, then the check: far from "forever" (the bound is loose for a busy machine).
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('keeps waiting with --wait-for-worker, and finishes once a worker starts', async () => {
    const data = path.join(env.inputDir, 'later.csv');
    writePeopleCsv(data, people(50, 2));
    const waiting = mlops.spawn(['ingest', 'later', data, '--json', '--wait-for-worker']);
    await waiting.waitFor(/no worker is polling .* waiting for one/);
    const worker = mlops.spawn(['worker']);
    try {
      await worker.waitFor(/mlops worker polling task queue/);
      const code = await new Promise<number | null>((resolve) => waiting.child.once('exit', resolve));
      expect(code, waiting.output()).toBe(0);
      expect(waiting.output()).toMatch(/"rows": \{\s*"read": 50,\s*"accepted": 50/);
    } finally {
      await waiting.stop();
      expect(await worker.stop()).toBe(0);
    }
  });
});

describe('mlops with mistyped names', () => {
  it('names the close matches and what is valid: models, columns, parameters, datasets', async () => {
    const unknownModel = await mlops('promote', 'no-such-model');
    expect(unknownModel.code).toBe(1);
    expect(unknownModel.stderr).toMatch(/^mlops: InvalidInput: No model named "no-such-model"/);
    expect(unknownModel.stderr).not.toContain('workflow not found');

    const penguins = path.join(env.inputDir, 'penguins.csv');
    fs.writeFileSync(penguins, 'Species,Island,body_mass_g\nAdelie,Torgersen,3750\nGentoo,Biscoe,5000\n');
    const label = await mlops('contract', 'infer', penguins, '--label', 'species');
    expect(label.code).toBe(1);
    expect(label.stderr).toContain('label refers to unknown column "species"; did you mean "Species"? (columns: Species, Island, body_mass_g)');

    const param = await mlops('train', 'm', '--dataset', 'penguins', '--trainer', 'gbdt', '--params', '{"nEstimator": 50}');
    expect(param.code).toBe(1);
    expect(param.stderr).toContain('unknown key "nEstimator"; did you mean "nEstimators"? (valid: nEstimators, learningRate, maxDepth');

    // "later" was ingested above; "nobody" too if the worker took up that waiting workflow before it
    // was stopped, which is a race this test does not decide.
    const dataset = await mlops('datasets', 'show', 'latter');
    expect(dataset.code).toBe(1);
    expect(dataset.stderr).toMatch(/Dataset "latter" has no published versions; did you mean "later"\? \(datasets: later(, nobody)?\)/);
  });
});
