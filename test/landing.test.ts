import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LandedStatus, landedStatusQuery } from '../src/api/landing';
import { answerLandedChain } from '../src/client/landed';
import { retrainWorkflowId } from '../src/api/retrain';
import { listPending, startPromotion } from '../src/client/promote';
import { startTraining } from '../src/client/train';
import { listVersions } from '../src/datasets/catalog';
import type { ScanLandingRequestInput } from '../src/landing/request';
import type { ScanLandingResult } from '../src/workflows/landing';
import { type Cli, cliFor } from './helpers/cli';
import { type TestEnv, startTestEnv } from './helpers/env';
import { rootFailure } from './helpers/failures';
import { CHURN_CONTRACT, churnCsv, ingestChurn } from './helpers/training';
import { until } from './helpers/wait';

/**
 * New files in a landing folder start the pipeline by themselves: each complete file once, by the
 * hash of its bytes, through its own chain (ingest → score → monitor, or → retraining request),
 * on the real server, store and engines. Scans run as the landing schedule would run them.
 */
let env: TestEnv;
let rows: string[];
let cli: Cli;
beforeAll(async () => {
  env = await startTestEnv('landing');
  cli = cliFor(env.config);
  await ingestChurn(env, 3000);
  for (const model of ['land', 'land-train']) {
    await (await startTraining(env.client, env.config, { model, dataset: 'churn', trainer: { kind: 'logistic', params: {} } })).result();
    expect((await (await startPromotion(env.client, env.config, { model, gates: { thresholds: { rocAuc: { min: 0.5 } } } })).result()).phase).toBe('promoted');
  }
  rows = fs.readFileSync(churnCsv(env, 3000), 'utf8').trim().split('\n');
});
afterAll(async () => {
  await env?.shutdown();
});

/** A CSV of some churn rows, written with an old modification time unless `fresh`. */
function land(dir: string, name: string, from: number, to: number, options: { fresh?: boolean } = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, `${[rows[0], ...rows.slice(1 + from, 1 + to)].join('\n')}\n`);
  if (!options.fresh) fs.utimesSync(file, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
  return file;
}

/** The chain's status once it waits for a person (a failed step). */
function waitingForAPerson(workflowId: string): Promise<LandedStatus> {
  return until('the chain to wait for a person', async () => {
    const status = await env.client.workflow.getHandle(workflowId).query(landedStatusQuery);
    return status.phase === 'waiting-for-a-person' ? status : undefined;
  });
}

function scan(request: ScanLandingRequestInput): Promise<ScanLandingResult> {
  return env.client.workflow.execute('scanLanding', { args: [request], taskQueue: env.config.taskQueue, workflowId: `landing-scan-test-${randomBytes(4).toString('hex')}` });
}

describe('a live dataset landing folder', () => {
  it('takes each complete file once, by content, scores it with production and monitors it; a broken file waits for a person, naming it', async () => {
    const dir = path.join(env.inputDir, 'landing-live');
    const request: ScanLandingRequestInput = {
      model: 'land',
      dataset: 'land-live',
      role: 'live',
      landing: { path: dir, pattern: '*.csv', ready: { stableFor: '10m' } },
      ingest: { contract: CHURN_CONTRACT },
      monitoring: { retrainOnTrigger: false },
    };
    land(dir, 'a.csv', 0, 400, { fresh: true });
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a csv');
    // Still being written (modified just now): not taken.
    expect((await scan(request)).started).toEqual([]);

    land(dir, 'a.csv', 0, 400);
    // Two scans at once start one chain.
    const [one, two] = await Promise.all([scan(request), scan(request)]);
    expect([...one.started, ...two.started]).toHaveLength(1);
    const id = [...one.started, ...two.started][0]!;
    const done = await env.client.workflow.getHandle<() => Promise<LandedStatus>>(id).result();
    expect(done).toMatchObject({ phase: 'done', dataset: 'land-live', file: path.join(dir, 'a.csv') });
    expect((await listVersions(env.store, 'land-live')).map((v) => v.version)).toEqual([done.version]);
    const scored = await env.client.workflow.getHandle(done.scoringWorkflowId!).result();
    expect(scored).toMatchObject({ phase: 'done', dataset: { name: 'land-live', version: done.version }, run: { rows: 400 } });
    const monitored = await env.client.workflow.getHandle(done.monitoringWorkflowId!).result();
    expect(monitored).toMatchObject({ dataset: 'land-live', datasetVersion: done.version });
    expect(fs.existsSync((monitored as { reportUri: string }).reportUri)).toBe(true);

    // The same bytes under another name, and a rescan: nothing new.
    fs.copyFileSync(path.join(dir, 'a.csv'), path.join(dir, 'a-copy.csv'));
    fs.utimesSync(path.join(dir, 'a-copy.csv'), new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    expect((await scan(request)).started).toEqual([]);

    // A file that breaks the contract: its chain raises a flag naming the file and the step, and waits.
    const bad = path.join(dir, 'broken.csv');
    fs.writeFileSync(bad, 'id,x1\n1,oops\n');
    fs.utimesSync(bad, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    const [badId] = (await scan(request)).started;
    expect(badId).toBeDefined();
    const waiting = await waitingForAPerson(badId!);
    expect(waiting.failure).toMatchObject({ step: 'ingest' });
    expect((await listPending(env.client)).map((p) => p.workflowId)).toContain(badId);
    const listed = await cli.run(['landed', 'list', 'land']);
    expect(listed.stdout).toContain(badId);
    expect(listed.stdout).toMatch(/waiting for a person: the ingest step failed/);
    // Taken once: the next scan does not start it again.
    expect((await scan(request)).started).toEqual([]);
    // A person gives up on it: the chain ends dismissed, the failure on record, the flag lowered.
    const dismissed = await cli.run(['landed', 'dismiss', badId!, '--reason', 'sender resends fixed data', '--by', 'ana']);
    expect(dismissed.stdout).toContain(`dismiss sent to ${badId}: dismissed`);
    const ended = await env.client.workflow.getHandle<() => Promise<LandedStatus>>(badId!).result();
    expect(ended).toMatchObject({ phase: 'dismissed', failure: { step: 'ingest' }, answer: { by: 'ana', reason: 'sender resends fixed data' } });
    expect((await listPending(env.client)).map((p) => p.workflowId)).not.toContain(badId);
    // Answering a chain that does not wait is refused, with the reason.
    const again = await cli.run(['landed', 'retry', badId!, '--reason', 'late']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/No landing chain .* is running|not waiting for a person/);
  });

  it('waits for a person when a step cannot run yet, and a retry after the fix finishes the chain', async () => {
    const dir = path.join(env.inputDir, 'landing-unready');
    const request: ScanLandingRequestInput = {
      model: 'land-later',
      dataset: 'land-later-live',
      role: 'live',
      landing: { path: dir },
      ingest: { contract: CHURN_CONTRACT },
      monitoring: { retrainOnTrigger: false },
    };
    land(dir, 'first.csv', 0, 300);
    const [id] = (await scan(request)).started;
    // No model land-later yet: the file is ingested, then scoring fails and the chain waits.
    const waiting = await waitingForAPerson(id!);
    expect(waiting.failure).toMatchObject({ step: 'score', phase: 'scoring' });
    expect(waiting.failure!.message).toContain('land-later');
    expect(waiting.version).toBeDefined();
    await expect(answerLandedChain(env.client, id!, 'retry', { by: '', reason: 'x' })).rejects.toThrow(/retry refused: by must be a non-empty text/);

    await (await startTraining(env.client, env.config, { model: 'land-later', dataset: 'churn', trainer: { kind: 'logistic', params: {} } })).result();
    expect((await (await startPromotion(env.client, env.config, { model: 'land-later', gates: { thresholds: { rocAuc: { min: 0.5 } } } })).result()).phase).toBe('promoted');
    // The answer says what runs again: the failed step, not the chain from its start.
    expect(await answerLandedChain(env.client, id!, 'retry', { by: 'ana', reason: 'model promoted' })).toMatchObject({ phase: 'scoring', retries: 1 });
    const done = await env.client.workflow.getHandle<() => Promise<LandedStatus>>(id!).result();
    // The same version goes on from the failed step: ingested once, then scored and monitored.
    expect(done).toMatchObject({ phase: 'done', version: waiting.version, retries: 1, failure: { step: 'score' } });
    expect((await listVersions(env.store, 'land-later-live')).map((v) => v.version)).toEqual([waiting.version]);
    expect(await env.client.workflow.getHandle(done.scoringWorkflowId!).result()).toMatchObject({ phase: 'done', run: { rows: 300 } });
  });

  it('with a marker, waits for it: data.csv is taken only once data.csv.done is there', async () => {
    const dir = path.join(env.inputDir, 'landing-marker');
    const request: ScanLandingRequestInput = {
      model: 'land',
      dataset: 'land-marked',
      role: 'live',
      landing: { path: dir, ready: { marker: '.done' } },
      ingest: { contract: CHURN_CONTRACT },
      monitoring: { retrainOnTrigger: false },
    };
    land(dir, 'data.csv', 400, 700, { fresh: true });
    expect((await scan(request)).started).toEqual([]);
    fs.writeFileSync(path.join(dir, 'data.csv.done'), '');
    const { started } = await scan(request);
    expect(started).toHaveLength(1);
    expect(await env.client.workflow.getHandle<() => Promise<LandedStatus>>(started[0]!).result()).toMatchObject({ phase: 'done' });
  });

  it('says which folder cannot be read', async () => {
    const failure = await rootFailure(scan({ model: 'land', dataset: 'nowhere', role: 'live', landing: { path: path.join(env.inputDir, 'missing') } }));
    expect(failure.message).toMatch(/Landing folder .*missing of dataset nowhere cannot be read \(ENOENT\)/);
  });
});

describe('a training dataset landing folder', () => {
  it('ingests the file as a new version and asks the retraining loop to run on it', async () => {
    const dir = path.join(env.inputDir, 'landing-train');
    const file = land(dir, 'more.csv', 0, 2000);
    const { started } = await scan({
      model: 'land-train',
      dataset: 'churn',
      role: 'training',
      landing: { path: dir },
      ingest: { contract: CHURN_CONTRACT },
      retrain: { maxAttempts: 1 },
    });
    expect(started).toHaveLength(1);
    const done = await env.client.workflow.getHandle<() => Promise<LandedStatus>>(started[0]!).result();
    expect(done).toMatchObject({ phase: 'done', file, retrainWorkflowId: retrainWorkflowId('land-train') });
    expect((await listVersions(env.store, 'churn')).map((v) => v.version)).toContain(done.version);
    const loop = await env.client.workflow.getHandle(retrainWorkflowId('land-train')).describe();
    expect(loop.type).toBe('retrainUntilImproved');
    await env.client.workflow.getHandle(retrainWorkflowId('land-train')).terminate('test over');
  });
});
