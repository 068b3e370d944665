import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentStatus } from '../src/client/deploy';
import { retentionScheduleId } from '../src/client/schedules';
import type { Contract } from '../src/contract/schema';
import type { DatasetManifest, DatasetVersionRef } from '../src/datasets/manifest';
import { scoreStatusQuery } from '../src/api/score';
import { type Cli, cliFor, documentedCommands, type LongRunning } from './helpers/cli';
import { people, writePeopleCsv } from './helpers/data';
import { type TestEnv, startTestEnv } from './helpers/env';
import { until } from './helpers/wait';

let env: TestEnv;
let mlops: Cli;
let worker: LongRunning;
beforeAll(async () => {
  // No worker in this process: every workflow and activity of this file runs in `mlops worker`.
  env = await startTestEnv('cli', {}, { worker: false });
  mlops = cliFor(env.config);
  worker = mlops.spawn(['worker']);
  await worker.waitFor(/mlops worker polling task queue/);
});
afterAll(async () => {
  const code = await worker?.stop();
  await env?.shutdown();
  // SIGTERM is how a deploy stops a worker: it drains and exits cleanly.
  expect(code, worker?.output()).toBe(0);
});

describe('mlops CLI', () => {
  it('`mlops worker` starts from bin/mlops.cjs and polls the task queue', async () => {
    expect(worker.output()).toContain(`mlops worker polling task queue "${env.config.taskQueue}" on ${env.config.temporalAddress}`);
    const pollers = await until('the worker to poll', async () => {
      const { pollers } = await env.client.workflowService.describeTaskQueue({
        namespace: env.config.namespace,
        taskQueue: { name: env.config.taskQueue },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      return pollers?.length ? pollers : undefined;
    });
    expect(pollers[0]!.identity).toContain(String(worker.child.pid));
  });

  it('infers a contract, ingests with it, and shows the result', async () => {
    const data = path.join(env.inputDir, 'people.csv');
    writePeopleCsv(data, people(300, 4));
    const contractFile = path.join(env.inputDir, 'contract.json');

    const infer = await mlops('contract', 'infer', data, '--key', 'id', '--label', 'active', '--out', contractFile);
    expect(infer.code, infer.stderr).toBe(0);
    const contract = JSON.parse(fs.readFileSync(contractFile, 'utf8')) as Contract;
    expect(contract.key).toEqual(['id']);
    expect(contract.label).toBe('active');
    expect(contract.columns.find((c) => c.name === 'city')!.allowed).toHaveLength(5);

    const run = await mlops('ingest', 'people', data, '--contract', contractFile, '--retention-days', '3', '--json');
    expect(run.code, run.stderr).toBe(0);
    const ref = JSON.parse(run.stdout) as DatasetVersionRef;
    expect(ref.rows).toEqual({ read: 300, accepted: 300, rejected: 0 });

    const list = await mlops('datasets', 'list', '--json');
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ dataset: 'people', versions: 1, latest: ref.version, rows: 300 })]);

    const show = await mlops('datasets', 'show', `people@${ref.version.slice(0, 6)}`, '--json');
    const manifest = JSON.parse(show.stdout) as DatasetManifest;
    expect(manifest.version).toBe(ref.version);
    expect(manifest.contractInferred).toBe(false);

    const text = await mlops('datasets', 'show', 'people@latest');
    expect(text.stdout).toContain(`people@${ref.version}`);
    expect(text.stdout).toMatch(/city\s+string/);

    // A damaged snapshot: refused, with the command that repairs it; that command works.
    const bytes = fs.readFileSync(ref.snapshotUri);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    fs.writeFileSync(ref.snapshotUri, bytes);
    const refused = await mlops('train', 'people-model', '--dataset', 'people');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`with \`mlops datasets repair people@${ref.version}\``);
    const repaired = await mlops('datasets', 'repair', `people@${ref.version}`);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(repaired.stdout).toMatch(new RegExp(`^repaired people@${ref.version}: its snapshot changed after it was recorded .*; rebuilt from the raw copy`));
    expect((await mlops('datasets', 'repair', 'people')).stdout).toBe(`people@${ref.version}: the snapshot is the recorded file; nothing to repair\n`);
    expect((await mlops('datasets', 'show', 'people@latest')).stdout).toMatch(/repaired: +\S+ from the raw copy/);
  });

  it('trains a model on the ingested dataset and shows the registry', async () => {
    const train = await mlops('train', 'people-model', '--dataset', 'people@latest', '--trainer', 'gbdt', '--params', '{"nEstimators": 20}', '--json');
    expect(train.code, train.stderr).toBe(0);
    const summary = JSON.parse(train.stdout) as { version: string; trainer: { kind: string; params: Record<string, number> }; rows: unknown };
    expect(summary.trainer).toMatchObject({ kind: 'gbdt', params: { nEstimators: 20, maxDepth: 6 } });
    expect(summary.rows).toEqual({ dataset: 300, used: 300, dropped: [] });

    // `models list` reads Temporal visibility, which is eventually consistent: allow it a moment.
    // Other test files share the namespace, so other models may be listed too.
    const expected = { model: 'people-model', versions: 1, production: '-', candidate: summary.version };
    let listed: unknown[] = [];
    for (let attempt = 0; attempt < 20 && !listed.some((m) => JSON.stringify(m) === JSON.stringify(expected)); attempt++) {
      if (attempt) await new Promise((r) => setTimeout(r, 500));
      listed = JSON.parse((await mlops('models', 'list', '--json')).stdout) as unknown[];
    }
    expect(listed).toContainEqual(expected);
    const show = await mlops('models', 'show', 'people-model');
    expect(show.stdout).toMatch(new RegExp(`${summary.version}\\s+candidate\\s+gbdt`));

    const noCommand = await mlops('train', 'people-model', '--dataset', 'people', '--trainer', 'command');
    expect(noCommand.code).toBe(1);
    expect(noCommand.stderr).toContain('--trainer command needs --command');

    const badParams = await mlops('train', 'people-model', '--dataset', 'people', '--params', '{"C": "high"}');
    expect(badParams.code).toBe(1);
    expect(badParams.stderr).toContain('Invalid train request');
  });

  it("promotes with a person's approval, lists what is pending, and explains refusals", async () => {
    const version = JSON.parse((await mlops('models', 'show', 'people-model', '--json')).stdout).aliases.candidate as string;
    const started = await mlops('promote', 'people-model', '--policy', 'manual', '--slices', 'city', '--no-wait', '--json');
    expect(started.code, started.stderr).toBe(0);
    const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };
    expect(workflowId).toBe(`promote:people-model:${version}`);

    let pending: Array<{ workflowId: string; type: string; model: string }> = [];
    for (let attempt = 0; attempt < 40 && !pending.some((p) => p.workflowId === workflowId); attempt++) {
      if (attempt) await new Promise((r) => setTimeout(r, 250));
      pending = JSON.parse((await mlops('pending', '--json')).stdout) as typeof pending;
    }
    expect(pending).toContainEqual(expect.objectContaining({ workflowId, type: 'promoteModel', model: 'people-model' }));

    const wrong = await mlops('approve', 'people-model', version, '--reason', '');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('approve refused: reason must be a non-empty text');
    const approve = await mlops('approve', 'people-model', version, '--reason', 'first model, report reviewed', '--by', 'tester');
    expect(approve.code, approve.stderr).toBe(0);
    // What the approval produced, not that it was sent.
    expect(approve.stdout).toBe(`promoted people-model@${version} by tester: approved: first model, report reviewed (all gates passed)\n`);
    const status = await env.client.workflow.getHandle(workflowId).result();
    expect(status).toMatchObject({ phase: 'promoted', decision: { by: 'tester' } });
    expect(fs.readFileSync(status.evaluation.markdownUri, 'utf8')).toMatch(/## Slices \(rocAuc\)[\s\S]*\| city \|/);

    const glance = JSON.parse((await mlops('status', 'people-model', '--json')).stdout) as {
      production: { version: string };
      candidate?: unknown;
      evaluations: Array<{ candidate: string; passed: boolean; baseline: string | null }>;
      flags: unknown[];
      decisions: Array<{ action: string; by: string }>;
    };
    expect(glance.production.version).toBe(version);
    expect(glance.candidate).toBeUndefined();
    expect(glance.evaluations[0]).toMatchObject({ candidate: version, passed: true, baseline: null });
    expect(glance.flags).toEqual([]);
    expect(glance.decisions.at(-1)).toMatchObject({ action: 'set-alias', by: 'tester' });
    expect((await mlops('status', 'people-model')).stdout).toMatch(
      /people-model: production [0-9a-f]{16}, candidate \(none\)\nmodel page: mlops report people-model --open.*\n\nlatest evaluations/,
    );
    // The pages: the evaluation's beside its JSON, the model page with its decision log.
    const evaluationPage = await mlops('report', 'people-model', '--evaluation', path.basename(status.evaluation.reportUri, '.json'));
    expect(evaluationPage.code, evaluationPage.stderr).toBe(0);
    expect(evaluationPage.stdout.trim()).toBe(status.evaluation.reportUri.replace(/\.json$/, '.html'));
    const modelPage = await mlops('report', 'people-model');
    expect(modelPage.code, modelPage.stderr).toBe(0);
    expect(fs.readFileSync(modelPage.stdout.trim(), 'utf8')).toContain('first model, report reviewed');

    const itself = await mlops('evaluate', 'people-model', '--version', version);
    expect(itself.code).toBe(1);
    expect(itself.stderr).toContain('is production itself; choose another baseline');
    const rollback = await mlops('rollback', 'people-model', '--reason', 'test');
    expect(rollback.code).toBe(1);
    expect(rollback.stderr).toContain('has no earlier production version to roll back to');
    const badGates = await mlops('promote', 'people-model', '--gates', '{"maxLatencyRatio": 0}');
    expect(badGates.code).toBe(1);
    expect(badGates.stderr).toMatch(/Invalid promotion request:[\s\S]*gates\.maxLatencyRatio/);
  });

  it('says "no" with exit 3; shows a review in progress; rejects and rolls back, printing the outcome', async () => {
    const version = JSON.parse((await mlops('models', 'show', 'people-model', '--json')).stdout).aliases.production as string;
    // A "no" is an answer, not an error: exit 3, so scripts can tell it from success and failure.
    const second = JSON.parse((await mlops('train', 'people-model', '--dataset', 'people', '--trainer', 'logistic', '--json')).stdout) as { version: string };
    const impossible = '{"thresholds": {"rocAuc": {"min": 0.9999}}}';
    const failing = await mlops('evaluate', 'people-model', '--version', second.version, '--gates', impossible);
    expect(failing.code, failing.stderr).toBe(3);
    expect(failing.stdout).toMatch(/^FAILED: rocAuc/);
    const passing = await mlops('evaluate', 'people-model', '--version', second.version, '--gates', '{"minImprovement": -1}', '--json');
    expect(passing.code, passing.stderr).toBe(0);
    expect(JSON.parse(passing.stdout)).toMatchObject({ passed: true });
    const rejected = await mlops('promote', 'people-model', '--version', second.version, '--gates', impossible);
    expect(rejected.code, rejected.stderr).toBe(3);
    expect(rejected.stdout).toMatch(new RegExp(`rejected people-model@${second.version}`));

    // The rejection released the candidate alias; a person is asked about the version anyway.
    const review = await mlops('promote', 'people-model', '--version', second.version, '--policy', 'manual', '--no-wait');
    expect(review.code, review.stderr).toBe(0);
    const inReview = await until('the review to be listed', async () => {
      const s = await mlops('status', 'people-model');
      return s.stdout.includes('in review:') ? s : undefined;
    });
    expect(inReview.stdout).toContain(
      `candidate (none)\nin review: people-model@${second.version} — answer with \`mlops approve|reject people-model ${second.version} --reason …\``,
    );
    const reject = await mlops('reject', 'people-model', second.version, '--reason', 'slower, no better', '--by', 'tester');
    expect(reject.code, reject.stderr).toBe(0);
    expect(reject.stdout).toBe(`rejected people-model@${second.version} by tester: slower, no better\n`);

    // Promoted after all (a tolerated loss), then rolled back: production is the first version again.
    const tolerated = await mlops('promote', 'people-model', '--version', second.version, '--gates', '{"minImprovement": -1}');
    expect(tolerated.code, tolerated.stderr).toBe(0);
    expect(tolerated.stdout).toMatch(new RegExp(`promoted people-model@${second.version}`));
    const back = await mlops('rollback', 'people-model', '--reason', 'cli test', '--by', 'tester');
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toBe(`people-model: production is ${version} again\n`);
  });

  it('runs a canary promotion and steers it: pause, advance, abort; refuses canary flags with another policy and steps out of order', async () => {
    const third = JSON.parse((await mlops('train', 'people-model', '--dataset', 'people', '--trainer', 'logistic', '--params', '{"C": 0.3}', '--json')).stdout) as {
      version: string;
    };
    const wrongPolicy = await mlops('promote', 'people-model', '--version', third.version, '--canary-hold', '1m');
    expect(wrongPolicy.code).toBe(1);
    expect(wrongPolicy.stderr).toContain('--canary-hold apply to --policy canary only (the policy is auto)');
    const falling = await mlops('promote', 'people-model', '--version', third.version, '--policy', 'canary', '--canary-steps', '50,10,100');
    expect(falling.code).toBe(1);
    expect(falling.stderr).toContain('steps must rise');
    const nothing = await mlops('canary', 'pause', 'people-model', '--reason', 'early');
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toMatch(/No promotion of "people-model" is running/);
    const gates = '{"minImprovement": -1, "maxSliceRegression": 1}';
    const started = await mlops('promote', 'people-model', '--version', third.version, '--policy', 'canary', '--canary-hold', '1h', '--gates', gates, '--no-wait');
    expect(started.code, started.stderr).toBe(0);
    await until('the canary', async () => {
      const paused = await mlops('canary', 'pause', 'people-model', '--reason', 'watching', '--by', 'tester');
      return paused.code === 0 ? paused : undefined;
    });
    const again = await mlops('canary', 'pause', 'people-model', '--reason', 'watching');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('canary pause refused: the canary is already paused at 5 %');
    const advanced = await mlops('canary', 'advance', 'people-model', '--reason', 'fine', '--by', 'tester');
    expect(advanced.code, advanced.stderr).toBe(0);
    expect(advanced.stdout).toContain(`advance sent to promote:people-model:${third.version}`);
    const aborted = await mlops('canary', 'abort', 'people-model', '--version', third.version, '--reason', 'enough', '--by', 'tester', '--json');
    expect(aborted.code, aborted.stderr).toBe(0);
    expect(JSON.parse(aborted.stdout).workflowId).toBe(`promote:people-model:${third.version}`);
  });

  it('scores with production; an alert is printed with its answer, and --wait waits for it', async () => {
    const score = await mlops('score', 'people-model', 'people', '--run-id', 'cli-1', '--retention-days', '3', '--max-flagged-share', '1', '--json');
    expect(score.code, score.stderr).toBe(0);
    const scored = JSON.parse(score.stdout) as { phase: string; run: { rows: number; logUri: string } };
    expect(scored).toMatchObject({ phase: 'done', run: { rows: 300 } });
    const runs = JSON.parse((await mlops('runs', 'people-model', '--json')).stdout) as Array<{ runId: string }>;
    expect(runs.map((r) => r.runId)).toEqual(['cli-1']);
    expect((await mlops('runs', 'people-model')).stdout).toMatch(/cli-1\s+\S+\s+[0-9a-f]{16}\s+people@/);

    // An alert: the command prints the run and how to answer it, and returns; the run waits.
    const alerted = await mlops('score', 'people-model', 'people', '--run-id', 'cli-alert', '--range', '0.999:1', '--retention-days', '30');
    expect(alerted.code, alerted.stderr).toBe(3);
    expect(alerted.stderr).toBe('scoring (workflow score:people-model:cli-alert) …\n');
    expect(alerted.stdout).toMatch(/^scored 300 rows of people@[0-9a-f]{16} with people-model@[0-9a-f]{16}/);
    expect(alerted.stdout).toContain('ALERT: ');
    expect(alerted.stdout).toContain('the run waits for a person (MlopsNeedsAttention): answer with `mlops acknowledge people-model cli-alert --reason …`');
    const waiting = await env.client.workflow.getHandle('score:people-model:cli-alert').describe();
    expect(waiting.status.name).toBe('RUNNING');
    const ack = await mlops('acknowledge', 'people-model', 'cli-alert', '--reason', 'range set by the test', '--by', 'tester');
    expect(ack.code, ack.stderr).toBe(0);
    expect(ack.stdout).toBe('people-model run cli-alert: done; alert acknowledged by tester: range set by the test\n');

    // --wait: the old behaviour, until the alert is answered.
    const patient = mlops.spawn(['score', 'people-model', 'people', '--run-id', 'cli-wait', '--range', '0.999:1', '--retention-days', '30', '--wait']);
    await until('the patient run to raise its alert', async () => {
      const s = await env.client.workflow
        .getHandle('score:people-model:cli-wait')
        .query(scoreStatusQuery)
        .catch(() => undefined);
      return s?.phase === 'waiting-for-acknowledgement' ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(patient.child.exitCode).toBeNull();
    expect((await mlops('acknowledge', 'people-model', 'cli-wait', '--reason', 'seen')).code).toBe(0);
    await until('the patient run to return', async () => (patient.child.exitCode !== null ? true : undefined));
    expect(patient.child.exitCode, patient.output()).toBe(3);
    expect(patient.output()).toMatch(/acknowledged by \S+: seen/);
  });

  it('records late labels and monitors; a scored file keeps the key labels join by', async () => {
    const labels = await mlops('labels', 'people', path.join(env.inputDir, 'people.csv'), '--json');
    expect(labels.code, labels.stderr).toBe(0);
    expect(JSON.parse(labels.stdout)).toMatchObject({ rows: 300, rejected: 0 });
    const monitor = await mlops('monitor', 'people-model', '--dataset', 'people', '--no-retrain', '--json');
    expect(monitor.code, monitor.stderr).toBe(0);
    const report = JSON.parse(monitor.stdout) as { live: { rows: number }; retrain?: unknown };
    expect(report.live.rows).toBe(300);
    expect(report.retrain).toBeUndefined();

    // A file scored into a new dataset keeps the key late labels join by; the next file of that
    // dataset reuses its contract.
    const liveFile = (name: string, n: number, seed: number) => {
      const file = path.join(env.inputDir, name);
      writePeopleCsv(file, people(n, seed));
      return file;
    };
    const firstLive = await mlops(
      'score',
      'people-model',
      'people-live',
      '--file',
      liveFile('live-1.csv', 120, 7),
      '--key',
      'id',
      '--run-id',
      'live-1',
      '--max-flagged-share',
      '1',
      '--retention-days',
      '30',
    );
    expect(firstLive.code, firstLive.stderr).toBe(0);
    const secondLive = await mlops(
      'score',
      'people-model',
      'people-live',
      '--file',
      liveFile('live-2.csv', 80, 8),
      '--run-id',
      'live-2',
      '--max-flagged-share',
      '1',
      '--retention-days',
      '30',
    );
    expect(secondLive.code, secondLive.stderr).toBe(0);
    const liveVersions = JSON.parse((await mlops('datasets', 'show', 'people-live', '--json')).stdout) as DatasetManifest[];
    expect(liveVersions.map((m) => m.contract.key)).toEqual([['id'], ['id']]);
    expect(liveVersions[1]!.contractFrom).toBe(`people-live@${liveVersions[0]!.version}`);
    const liveLabels = await mlops('labels', 'people-live', liveFile('live-2-labels.csv', 80, 8), '--label', 'active', '--json');
    expect(liveLabels.code, liveLabels.stderr).toBe(0);
    expect(JSON.parse(liveLabels.stdout)).toMatchObject({ rows: 80, rejected: 0 });
  });

  it('runs the retraining loop until it asks a person, and prints what a decision did', async () => {
    const noLoop = await mlops('retrain-status', 'people-model');
    expect(noLoop.code).toBe(1);
    expect(noLoop.stderr).toContain('has no retraining loop (start one with `mlops retrain people-model`)');
    const badDecision = await mlops('decide', 'people-model', 'maybe', '--reason', 'x');
    expect(badDecision.code).toBe(1);
    expect(badDecision.stderr).toContain('decision must be one of retry, accept-current, force-promote, abort');
    const badRange = await mlops('score', 'people-model', 'people', '--range', 'low:high');
    expect(badRange.code).toBe(1);
    expect(badRange.stderr).toContain('--range must be a number');

    // The retraining loop: the same data cannot beat production, so after one attempt it asks a person.
    const loop = await mlops('retrain', 'people-model', '--reason', 'cli test', '--max-attempts', '1');
    expect(loop.code, loop.stderr).toBe(0);
    expect(loop.stdout).toBe('retraining loop retrain:people-model (follow with `mlops retrain-status people-model`)\n');
    const escalated = await until(
      'the loop to ask a person',
      async () => {
        const s = JSON.parse((await mlops('retrain-status', 'people-model', '--json')).stdout) as { phase: string; production: string };
        return s.phase === 'escalated' ? s : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 1000 },
    );
    const asking = await mlops('retrain-status', 'people-model');
    expect(asking.stdout).toContain('WAITING FOR A PERSON: no improvement after 1 attempt(s)');
    const abort = await mlops('decide', 'people-model', 'abort', '--reason', 'cli test over', '--by', 'tester');
    expect(abort.code, abort.stderr).toBe(0);
    // The state the decision produced, not the one the update saw.
    expect(abort.stdout).toBe(`people-model: the retraining loop ended aborted (abort by tester: cli test over); production ${escalated.production}\n`);
  });

  it('answers lineage and prediction questions in SQL, and schedules recurring work', async () => {
    const sql = (query: string) => mlops('sql', query, '--json').then((r) => ({ ...r, rows: r.code === 0 ? (JSON.parse(r.stdout) as Array<Record<string, unknown>>) : [] }));
    const logged = await sql("SELECT count(*) AS n, count(DISTINCT key) AS keys FROM predictions WHERE run_id = 'cli-1'");
    expect(logged.rows, logged.stderr).toEqual([{ n: 300, keys: 300 }]);
    const joined = await sql("SELECT count(*) AS n FROM predictions p JOIN labels l USING (dataset, key) WHERE run_id = 'cli-1'");
    expect(joined.rows).toEqual([{ n: 300 }]);
    const lineage = await sql(
      "SELECT m.trainer, d.rows_accepted, e.passed FROM models m JOIN datasets d ON d.dataset = m.dataset AND d.version = m.dataset_version JOIN evaluations e ON e.candidate = m.version WHERE m.model = 'people-model' ORDER BY e.created_at",
    );
    // Production's evaluation first, then the second version's (failed gates, passed, rejected, reviewed).
    expect(lineage.rows[0], lineage.stderr).toEqual({ trainer: 'gbdt', rows_accepted: 300, passed: true });
    expect(lineage.rows.slice(1, 3)).toEqual([
      { trainer: 'logistic', rows_accepted: 300, passed: false },
      { trainer: 'logistic', rows_accepted: 300, passed: true },
    ]);
    expect((await sql("SELECT count(*) AS n FROM monitoring WHERE model = 'people-model'")).rows).toEqual([{ n: 1 }]);
    const badSql = await mlops('sql', 'SELECT * FROM nope');
    expect(badSql.code).toBe(1);
    expect(badSql.stderr).toMatch(/Table with name nope does not exist/);

    const schedule = await mlops('schedule', 'monitor', 'people-model', '--every', '1d');
    expect(schedule.code, schedule.stderr).toBe(0);
    expect(schedule.stdout).toContain('schedule mlops-monitor-people-model: monitor people-model every 1d');
    const schedules = JSON.parse((await mlops('schedule', 'list', '--json')).stdout) as Array<Record<string, unknown>>;
    expect(schedules).toContainEqual(expect.objectContaining({ schedule: 'mlops-monitor-people-model', starts: 'monitorModel', every: '24h', paused: false }));
    await env.client.schedule.getHandle('mlops-monitor-people-model').delete();
    const weekly = await mlops('schedule', 'retrain', 'people-model', '--every', '7d');
    expect(weekly.stdout).toContain('schedule mlops-retrain-people-model: retrain people-model every 7d');
    await env.client.schedule.getHandle('mlops-retrain-people-model').delete();
    const sweeps = await mlops('schedule', 'retention', '--every', '1d');
    expect(sweeps.stdout).toBe(`schedule ${retentionScheduleId(env.config.taskQueue)}: retention sweep every 1d\n`);
    await env.client.schedule.getHandle(retentionScheduleId(env.config.taskQueue)).delete();
  });

  it('applies, prints and deletes a spec (test/apply.test.ts has the reconciling in full)', async () => {
    const specFile = path.join(env.inputDir, 'people-model.yaml');
    fs.writeFileSync(specFile, 'apiVersion: mlops/v1\nkind: Model\nname: people-model\nmonitoring: { every: 1d }\n');
    const applied = await mlops('apply', '-f', specFile);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('+ schedule mlops-monitor-people-model: monitorModel every 1d');
    expect((await mlops('get', 'people-model')).stdout).toContain('every: 1d');
    expect((await mlops('delete', 'people-model')).stdout).toContain('- schedule mlops-monitor-people-model: the spec is deleted');
  });

  it('lists landing chains and answers one waiting for a person, and the flags sent about it (test/landing.test.ts, test/notify.test.ts have them in full)', async () => {
    const workflowId = `landed:people-model:people-landed:${randomBytes(8).toString('hex')}`;
    const hook = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const specFile = path.join(env.inputDir, 'people-notify.yaml');
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    fs.writeFileSync(specFile, `apiVersion: mlops/v1\nkind: Model\nname: people-model\nnotify:\n  - { kind: webhook, url: '${hookUrl}' }\n`);
    expect((await mlops('apply', '-f', specFile)).code).toBe(0);
    // A file outside the folders the worker may read: the ingest step fails and the chain waits.
    const landed = { file: '/etc/hostname', name: 'hostname', sha256: randomBytes(32).toString('hex'), size: 1, mtimeMs: 0 };
    await env.client.workflow.start('landedFile', {
      args: [{ model: 'people-model', dataset: 'people-landed', role: 'live', landing: { path: '/etc' }, landed }],
      taskQueue: env.config.taskQueue,
      workflowId,
    });
    const listed = await until('the chain waiting', async () => {
      const r = await mlops('landed', 'list', 'people-model');
      return r.stdout.includes('waiting for a person: the ingest step failed') ? r : undefined;
    });
    expect(listed.stdout).toContain(workflowId);
    const retried = await mlops('landed', 'retry', workflowId, '--reason', 'try again', '--by', 'ana');
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toContain(`retry sent to ${workflowId}`);
    await until('the step failed again', async () => ((await mlops('landed', 'list', '--json')).stdout.includes('"retries": 1') ? true : undefined));
    await until('the chain waiting again', async () => ((await mlops('landed', 'list')).stdout.includes('waiting for a person') ? true : undefined));
    const dismissed = await mlops('landed', 'dismiss', workflowId, '--reason', 'not ours', '--by', 'ana');
    expect(dismissed.code, dismissed.stderr).toBe(0);
    expect(dismissed.stdout).toContain(`dismiss sent to ${workflowId}: dismissed`);
    const refused = await mlops('landed', 'retry', 'score:people-model:x', '--reason', 'x');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('is not a landing chain');
    // Both failures of the chain were flags: one message each, listed by delivery id.
    const sent = await until('both flags delivered', async () => {
      const r = await mlops('notifications');
      return r.stdout.includes(`${workflowId}/landing-chain-failed/2`) ? r : undefined;
    });
    expect(sent.stdout).toContain(`${workflowId}/landing-chain-failed/1`);
    expect((await mlops('notifications', '--failed')).stdout).not.toContain(workflowId);
    expect((await mlops('delete', 'people-model')).code).toBe(0);
    hook.close();
  });

  it('fails with exit code 1 and an actionable message (2 for a usage error)', async () => {
    const missing = await mlops('datasets', 'show', 'nothing-here');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Dataset "nothing-here" has no published versions');

    const badJson = path.join(env.inputDir, 'bad.json');
    fs.writeFileSync(badJson, '{ not json');
    const bad = await mlops('ingest', 'x', badJson, '--contract', badJson);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/contract .*bad\.json is not valid JSON/);

    const traversal = await mlops('ingest', '../../etc', badJson);
    expect(traversal.code).toBe(1);
    expect(traversal.stderr).toContain('Invalid ingest request');

    const usage = await mlops('ingest');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("missing required argument 'dataset'");
  });

  it('runs a retention sweep through a workflow', async () => {
    const future = new Date(Date.now() + 10 * 86_400_000).toISOString();
    const sweep = await mlops('retention', 'sweep', '--as-of', future, '--json');
    expect(sweep.code, sweep.stderr).toBe(0);
    const swept = JSON.parse(sweep.stdout) as { deleted: unknown[]; predictionLogs: Array<{ model: string; runId: string }> };
    // The ingested copy, and the labeled production rows the retraining loop derived (their raw
    // copy expires at once: the lineage's sources are what stays).
    const deleted = (swept.deleted as Array<{ dataset: string }>).map((d) => d.dataset).sort();
    expect(deleted).toEqual(['people', 'people-model.production']);
    // The prediction log kept for 3 days is past its retention too.
    expect(swept.predictionLogs).toEqual([expect.objectContaining({ model: 'people-model', runId: 'cli-1' })]);
    expect(fs.existsSync(env.store.path('predictions', 'people-model', 'cli-1'))).toBe(false);
  });

  it('serves online predictions until stopped; the log is flushed on shutdown, and a kill -9 loses only rows not yet written', async () => {
    const logRows = async (dir: string) => {
      const parts = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
      expect(parts.filter((f) => !/^part-\d{5}\.parquet$/.test(f))).toEqual([]); // no half-written part is ever visible
      const r = await mlops('sql', `SELECT count(*) AS n FROM read_parquet('${dir}/part-*.parquet')`, '--json');
      return parts.length ? (JSON.parse(r.stdout) as Array<{ n: number }>)[0]!.n : 0;
    };
    const predictRows = async (url: string, n: number) => {
      const status = await fetch(`${url}/readyz`).then((r) => r.json() as Promise<{ version: string }>);
      for (let i = 0; i < n; i++) {
        const r = await fetch(`${url}/v1/models/people-model/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ age: 30 + i, income: null, city: 'Lima' }),
        });
        expect(r.status, await r.clone().text()).toBe(200);
        expect(((await r.json()) as { modelVersion: string }).modelVersion).toBe(status.version);
      }
    };
    const start = async (flush: string) => {
      const server = mlops.spawn(['serve', 'people-model', '--port', '0', '--log-flush-interval', flush]);
      await server.waitFor(/online prediction log: \S+/);
      return { server, url: /on (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output())![1]!, dir: /online prediction log: (\S+)/.exec(server.output())![1]! };
    };
    // A flush interval of an hour: only the shutdown writes the rows.
    const calm = await start('1h');
    await predictRows(calm.url, 12);
    expect(await logRows(calm.dir)).toBe(0);
    expect(await calm.server.stop()).toBe(0);
    expect(await logRows(calm.dir)).toBe(12);
    // kill -9: rows written at the last flush survive; what a crash loses is what waited since.
    const crashing = await start('200ms');
    await predictRows(crashing.url, 15);
    await until('the rows written', async () =>
      (await fetch(`${crashing.url}/readyz`).then((r) => r.json() as Promise<{ log: { written: number } }>)).log.written === 15 ? true : undefined,
    );
    crashing.server.child.kill('SIGKILL');
    await crashing.server.stop();
    expect(await logRows(crashing.dir)).toBe(15);
  });

  it('serves the payload codec until stopped', async () => {
    const key = randomBytes(32).toString('base64');
    const server = mlops.spawn(['codec-server', '--port', '0'], { env: { MLOPS_PAYLOAD_KEY: key } });
    try {
      await server.waitFor(/codec server on http:\/\/127\.0\.0\.1:\d+/);
      const url = /codec server on (\S+)/.exec(server.output())![1]!;
      const plain = { payloads: [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('"hello"').toString('base64') }] };
      const post = (route: string, body: unknown) => fetch(`${url}/${route}`, { method: 'POST', body: JSON.stringify(body) }).then((r) => r.json() as Promise<typeof plain>);
      const encoded = await post('encode', plain);
      expect(encoded.payloads[0]!.data).not.toBe(plain.payloads[0]!.data);
      expect(await post('decode', encoded)).toEqual(plain);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe('mlops deploy', () => {
  it('gates, switches, ramps and rolls back worker builds (test/deploy.test.ts has two incompatible builds in full)', async () => {
    // Two builds of the same code on a queue of their own, so the file's worker is untouched.
    const deployment = `cli-${randomBytes(3).toString('hex')}`;
    const queue = `${env.config.taskQueue}-deploy`;
    const as = (build?: string) => ({ env: { MLOPS_TASK_QUEUE: queue, MLOPS_DEPLOYMENT_NAME: deployment, ...(build ? { MLOPS_BUILD_ID: build } : {}) } });
    const fixtures = path.join(__dirname, 'fixtures', 'histories');
    const one = mlops.spawn(['worker'], as('1.0.0-one'));
    const two = mlops.spawn(['worker'], as('1.0.0-two'));
    try {
      await one.waitFor(new RegExp(`deployment ${deployment}, build 1\\.0\\.0-one`));
      await two.waitFor(/build 1\.0\.0-two/);
      const status = async () => JSON.parse((await mlops.run(['deploy', 'status', '--json'], as())).stdout) as DeploymentStatus;
      await until('both builds to poll', async () => ((await status()).versions.filter((v) => v.pollers > 0).length === 2 ? true : undefined), {
        timeoutMs: 60_000,
        retryErrors: true,
      });

      const refused = await mlops.run(['deploy', 'set-current', '1.0.0-one'], as());
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/Build "1\.0\.0-one" has no replay check: run `mlops deploy check`/);
      const failing = await mlops.run(
        ['deploy', 'check', '--histories', fixtures, '--open', 'none', '--workflows', path.join(__dirname, 'fixtures', 'workflows-v2', 'index.ts'), '--build', '1.0.0-one'],
        as(),
      );
      expect(failing.code, failing.stderr).toBe(1);
      expect(failing.stdout).toMatch(/^FAIL promoteModel .*promoteModel\.json\): .*[Nn]ondetermin/m);
      expect(failing.stdout).toMatch(/^FAIL retrainUntilImproved /m);
      expect(failing.stdout).toMatch(/replay check FAILED: \d+ histories, 4 failing; recorded on cli-\w+ build 1\.0\.0-one/);
      expect((await mlops.run(['deploy', 'set-current', '1.0.0-one'], as())).stderr).toMatch(/failed its replay check .*promoteModel/);
      for (const build of ['1.0.0-one', '1.0.0-two']) {
        const check = await mlops.run(['deploy', 'check', '--histories', fixtures], as(build));
        expect(check.code, check.stdout + check.stderr).toBe(0);
        expect(check.stdout).toMatch(new RegExp(`replay check passed: \\d+ histories, 0 failing; recorded on ${deployment} build ${build.replace(/\./g, '\\.')}`));
      }
      const first = await mlops.run(['deploy', 'set-current', '1.0.0-one'], as());
      expect(first.stdout, first.stderr).toContain('build 1.0.0-one is current (was none)');
      expect((await mlops.run(['deploy', 'rollback'], as())).stderr).toMatch(/was current before "1\.0\.0-one": nothing to roll back to/);

      const tooMuch = await mlops.run(['deploy', 'ramp', '1.0.0-two', '150'], as());
      expect(tooMuch.code).toBe(1);
      expect(tooMuch.stderr).toMatch(/from 0 to 100 \(percent\), not 150/);
      expect((await mlops.run(['deploy', 'ramp', '1.0.0-two', 'half'], as())).stderr).toMatch(/not "half"/);
      expect((await mlops.run(['deploy', 'ramp', '1.0.0-two', '25'], as())).stdout).toContain('build 1.0.0-two takes 25% of new workflows');
      expect(await status()).toMatchObject({ current: '1.0.0-one', ramping: { buildId: '1.0.0-two', percentage: 25 } });
      const text = await mlops.run(['deploy', 'status'], as());
      expect(text.stdout).toMatch(new RegExp(`deployment ${deployment} on task queue ${queue}: current 1\\.0\\.0-one; ramping 1\\.0\\.0-two at 25%`));
      expect(text.stdout).toMatch(/1\.0\.0-two\s+ramping\s+1\s+passed/);

      expect((await mlops.run(['deploy', 'set-current', '1.0.0-two'], as())).stdout).toContain('build 1.0.0-two is current (was 1.0.0-one)');
      expect((await mlops.run(['deploy', 'set-current', '9.9.9'], as())).stderr).toMatch(
        /Build "9\.9\.9" is not a version of deployment .*known builds: (1\.0\.0-one, 1\.0\.0-two|1\.0\.0-two, 1\.0\.0-one)\)/,
      );
      const back = await mlops.run(['deploy', 'rollback'], as());
      expect(back.stdout, back.stderr).toContain('build 1.0.0-one is current again (was 1.0.0-two)');
      expect((await status()).current).toBe('1.0.0-one');
      expect((await mlops.run(['deploy', 'status'], { env: { MLOPS_TASK_QUEUE: queue } })).stderr).toMatch(/MLOPS_DEPLOYMENT_NAME is not set/);
    } finally {
      expect(await two.stop(), two.output()).toBe(0);
      expect(await one.stop(), one.output()).toBe(0);
    }
  }, 300_000);
});

describe('the CLI reference', () => {
  it('every command the README documents ran through bin/mlops.cjs in this file', () => {
    const documented = documentedCommands();
    expect(documented.length).toBeGreaterThan(25);
    // `worker` ran all along; it exits (0) only in afterAll.
    const ran = new Set([...mlops.covered, 'worker']);
    expect(documented.filter((c) => !ran.has(c))).toEqual([]);
  });
});
