import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cli, cliFor } from './helpers/cli';
import { type TestEnv, startTestEnv } from './helpers/env';

/**
 * `mlops apply -f spec.yaml` reconciling a real Temporal server's schedules with a spec file,
 * through the real CLI: create, no-op, update, dry run, take over, remove, delete.
 */
let env: TestEnv;
let mlops: Cli;
beforeAll(async () => {
  env = await startTestEnv('apply');
  mlops = cliFor(env.config);
});
afterAll(async () => {
  await env?.shutdown();
});

const SPEC_HEAD = ['apiVersion: mlops/v1', 'kind: Model', 'name: spec-model'];

function writeSpec(name: string, lines: string[]): string {
  const file = path.join(env.inputDir, name);
  fs.writeFileSync(file, [...SPEC_HEAD, ...lines, ''].join('\n'));
  return file;
}

async function scheduleArgs(client: Client, id: string): Promise<{ every: number; args: Record<string, unknown> } | undefined> {
  try {
    const d = await client.schedule.getHandle(id).describe();
    return { every: Number(d.spec.intervals?.[0]?.every), args: (d.action as { args: Array<Record<string, unknown>> }).args[0]! };
  } catch {
    return undefined;
  }
}

const MONITOR = 'mlops-monitor-spec-model';
const RETRAIN = 'mlops-retrain-spec-model';
const DAY = 86_400_000;

describe('mlops apply', () => {
  it('creates what the spec declares, changes nothing on a second run, updates what changed, and removes what a removed section created', async () => {
    const monitoring = ['monitoring:', '  every: 1d', '  drift: { psi: 0.3 }', '  maxMetricDrop: 0.02'];
    const retraining = ['retraining:', '  every: 7d', '  maxAttempts: 2', '  escalationTimeout: 3d'];
    const promotion = ['promotion:', '  policy: manual', '  approvalTimeout: 12h', '  gates: { minImprovement: 0.01 }'];
    const file = writeSpec('spec.yaml', [...promotion, ...monitoring, ...retraining]);

    const dry = await mlops('apply', '-f', file, '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`+ schedule ${MONITOR}: monitorModel every 1d`);
    expect(dry.stdout).toContain('2 to create, 0 to update, 0 to delete (dry run: nothing changed)');
    expect(await scheduleArgs(env.client, MONITOR)).toBeUndefined();
    expect((await mlops('get', 'spec-model')).code).toBe(1);

    const first = await mlops('apply', '-f', file);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`+ schedule ${RETRAIN}: scheduledRetrain every 7d`);
    expect(first.stdout).toContain('2 to create, 0 to update, 0 to delete (applied)');
    const monitor = await scheduleArgs(env.client, MONITOR);
    expect(monitor?.every).toBe(DAY);
    // The spec's thresholds, and the retraining loop the monitor starts on a crossing, with the promotion section in it.
    expect(monitor?.args).toMatchObject({
      model: 'spec-model',
      drift: { psi: 0.3 },
      maxMetricDrop: 0.02,
      retrain: { maxAttempts: 2, escalationTimeout: '3d', policy: 'manual', approvalTimeout: '12h', gates: { minImprovement: 0.01 } },
    });
    expect((await scheduleArgs(env.client, RETRAIN))?.every).toBe(7 * DAY);

    const again = await mlops('apply', '-f', file);
    expect(again.stdout).toContain(`= schedule ${MONITOR}: monitorModel every 1d (unchanged)`);
    expect(again.stdout).toContain('0 to create, 0 to update, 0 to delete (already applied: nothing changed)');

    const got = await mlops('get', 'spec-model', '-o', 'yaml');
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toMatch(/^# applied .* from .*spec\.yaml/);
    expect(got.stdout).toContain('policy: manual');
    expect(JSON.parse((await mlops('get', 'spec-model', '-o', 'json')).stdout)).toMatchObject({
      name: 'spec-model',
      monitoring: { every: '1d', drift: { psi: 0.3, pValue: 0.01 } },
    });
    expect(JSON.parse((await mlops('get', '-o', 'json')).stdout)).toContainEqual(expect.objectContaining({ model: 'spec-model' }));

    // A changed threshold updates the schedule in place; a removed section deletes its schedule.
    writeSpec('spec.yaml', [...promotion, 'monitoring:', '  every: 12h', '  drift: { psi: 0.3 }', '  maxMetricDrop: 0.02']);
    const changed = await mlops('apply', '-f', file);
    expect(changed.stdout).toContain(`~ schedule ${MONITOR}: monitorModel every 12h`);
    expect(changed.stdout).toContain(`- schedule ${RETRAIN}: no longer in the spec`);
    expect(changed.stdout).toContain('0 to create, 1 to update, 1 to delete (applied)');
    expect((await scheduleArgs(env.client, MONITOR))?.every).toBe(DAY / 2);
    expect(await scheduleArgs(env.client, RETRAIN)).toBeUndefined();
  });

  it('takes over a schedule made by hand when the spec declares it, and leaves the ones it does not own alone', async () => {
    const made = await mlops('schedule', 'retrain', 'spec-model', '--every', '2d');
    expect(made.code, made.stderr).toBe(0);
    const other = await mlops('schedule', 'monitor', 'hand-model', '--every', '1d');
    expect(other.code, other.stderr).toBe(0);
    const file = writeSpec('spec.yaml', ['retraining:', '  every: 7d']);
    const taken = await mlops('apply', '-f', file);
    expect(taken.stdout).toContain(`~ schedule ${RETRAIN}: scheduledRetrain every 7d`);
    expect(taken.stdout).toContain(`- schedule ${MONITOR}: no longer in the spec`);
    expect((await scheduleArgs(env.client, RETRAIN))?.every).toBe(7 * DAY);

    const dry = await mlops('delete', 'spec-model', '--dry-run');
    expect(dry.stdout).toContain(`- schedule ${RETRAIN}: the spec is deleted`);
    expect(await scheduleArgs(env.client, RETRAIN)).toBeDefined();
    const deleted = await mlops('delete', 'spec-model');
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(await scheduleArgs(env.client, RETRAIN)).toBeUndefined();
    expect(await scheduleArgs(env.client, 'mlops-monitor-hand-model')).toBeDefined();
    const gone = await mlops('get', 'spec-model');
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/No spec is applied for model "spec-model".*mlops apply -f/);
    await env.client.schedule.getHandle('mlops-monitor-hand-model').delete();
  });

  it('declares landing folders: one scan schedule per dataset, paths and contract taken from beside the spec', async () => {
    fs.writeFileSync(
      path.join(env.inputDir, 'live-contract.json'),
      JSON.stringify({
        columns: [
          { name: 'id', type: 'integer' },
          { name: 'x', type: 'double' },
        ],
        key: ['id'],
      }),
    );
    const file = writeSpec('landing.yaml', [
      'datasets:',
      '  spec-live:',
      '    role: live',
      '    contract: ./live-contract.json',
      '    landing: { path: ./drop/live, pattern: "*.csv", every: 5m, ready: { marker: .done } }',
      'scoring: { maxFlaggedShare: 0.2 }',
      // The schedule's pass looks at spec-live; a chain monitors the version it ingested instead.
      'monitoring: { every: 1d, dataset: spec-live, maxMetricDrop: 0.04 }',
    ]);
    const applied = await mlops('apply', '-f', file);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('+ schedule mlops-landing-spec-model-spec-live: scanLanding every 5m');
    const landing = await scheduleArgs(env.client, 'mlops-landing-spec-model-spec-live');
    expect(landing?.every).toBe(5 * 60_000);
    expect(landing?.args).toMatchObject({
      model: 'spec-model',
      dataset: 'spec-live',
      role: 'live',
      landing: { path: path.join(env.inputDir, 'drop/live'), pattern: '*.csv', ready: { marker: '.done' } },
      ingest: { contract: { key: ['id'] } },
      scoring: { maxFlaggedShare: 0.2 },
      monitoring: { maxMetricDrop: 0.04 },
    });
    expect(landing?.args.monitoring).not.toHaveProperty('dataset');
    expect(landing?.args.monitoring).not.toHaveProperty('datasetVersion');
    expect((await scheduleArgs(env.client, MONITOR))?.args).toMatchObject({ dataset: 'spec-live', datasetVersion: 'latest', maxMetricDrop: 0.04 });
    expect((await mlops('delete', 'spec-model')).stdout).toContain('- schedule mlops-landing-spec-model-spec-live: the spec is deleted');
  });

  it('declares an S3 landing prefix as given, and shows in the plan where each scan looks', async () => {
    const spec = (prefix: string) =>
      writeSpec('landing-s3.yaml', ['datasets:', '  spec-drop:', '    role: training', `    landing: { path: "${prefix}", pattern: "*.csv", ready: { marker: .done } }`]);
    const id = 'mlops-landing-spec-model-spec-drop';
    const dry = await mlops('apply', '-f', spec('s3://drop-bucket/team/in'), '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`+ schedule ${id}: scanLanding every 1m of s3://drop-bucket/team/in/`);
    expect((await mlops('apply', '-f', spec('s3://drop-bucket/team/in'))).code).toBe(0);
    expect((await scheduleArgs(env.client, id))?.args).toMatchObject({ role: 'training', landing: { path: 's3://drop-bucket/team/in/', ready: { marker: '.done' } } });
    const moved = await mlops('apply', '-f', spec('s3://drop-bucket/team/in2/'), '--dry-run');
    expect(moved.stdout).toContain(`~ schedule ${id}: scanLanding every 1m of s3://drop-bucket/team/in2/`);
    const bad = await mlops('apply', '-f', spec('s3://drop-bucket/team/../in/'));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/datasets\.spec-drop\.landing\.path: .*has an empty, "\." or "\.\." segment/);
    expect((await mlops('delete', 'spec-model')).code).toBe(0);
  });

  it('plans the example spec (examples/specs/churn.yaml): every section at once', async () => {
    const plan = await mlops('apply', '-f', path.resolve(__dirname, '../examples/specs/churn.yaml'), '--dry-run');
    expect(plan.code, plan.stderr).toBe(0);
    for (const id of ['mlops-monitor-churn', 'mlops-landing-churn-churn-live', 'mlops-landing-churn-churn']) expect(plan.stdout).toContain(`+ schedule ${id}: `);
    expect(plan.stdout).toContain('3 to create, 0 to update, 0 to delete (dry run: nothing changed)');
  });

  it('refuses an invalid spec naming the line and path, and changes nothing', async () => {
    const file = writeSpec('bad.yaml', ['monitoring:', '  every: often']);
    const bad = await mlops('apply', '-f', file);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/bad\.yaml:5 monitoring\.every: a duration such as/);
    expect(await scheduleArgs(env.client, MONITOR)).toBeUndefined();
  });
});
