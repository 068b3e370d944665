import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOnlineTrafficFiles } from '../src/activities/online';
import { emptyStats, judgeCanaryStep, LATENCY_BOUNDS_MS, type OnlineShadowSummary, type TrafficStats } from '../src/api/online';
import { type PromotionStatus, promoteWorkflowId, promotionStatusQuery } from '../src/api/promote';
import { listPending, reviewOutcome, startPromotion, steerCanary } from '../src/client/promote';
import { applySpec, deleteAppliedSpec } from '../src/client/apply';
import { startLabels } from '../src/client/retrain';
import { registryState, startTraining } from '../src/client/train';
import { type CanaryOptions, canarySchema, type PromoteRequestInput } from '../src/evaluation/request';
import { startModelServer, type ModelServer } from '../src/serving/http';
import { createPredictor } from '../src/serving/predictor';
import { routingBucket } from '../src/serving/promotion-traffic';
import { parseSpec } from '../src/spec/load';
import { ingestChurnData } from './helpers/churn';
import { type TestEnv, startTestEnv } from './helpers/env';
import { until } from './helpers/wait';

/**
 * Shadow and canary on live traffic: a real model server on loopback following real promotion
 * workflows, the counters going through the real store. Short holds keep it to seconds.
 */
let env: TestEnv;
let server: ModelServer;
const MODEL = 'canary';
let v1: string;

/** Gates any trained churn model passes: these tests are about live traffic, not model quality. */
const LENIENT = { thresholds: { rocAuc: { min: 0.5 } }, minImprovement: -1, maxSliceRegression: 1, maxLatencyRatio: 1000 };

async function train(C: number): Promise<string> {
  const trained = await (await startTraining(env.client, env.config, { model: MODEL, dataset: 'churn-train', trainer: { kind: 'logistic', params: { C } } })).result();
  return trained.summary.version;
}

async function promote(version: string, input: Partial<PromoteRequestInput> = {}) {
  return startPromotion(env.client, env.config, { model: MODEL, candidateVersion: version, gates: LENIENT, ...input });
}

const status = (version: string) => env.client.workflow.getHandle(promoteWorkflowId(MODEL, version)).query(promotionStatusQuery);

const row = (id: number, x1 = 0.5) => ({ id, x1, x2: -0.25, color: id % 3 ? 'red' : 'blue' });

async function post(body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.url}/v1/models/${MODEL}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

/** Requests of 4 rows with fresh keys from a few concurrent loops; every answer counted by version, every failure kept. */
function trafficLoop(x1 = 0.5) {
  const seen = new Map<string, number>();
  const failures: string[] = [];
  let stop = false;
  let next = 1_000_000 + Math.floor(Math.random() * 1_000_000) * 10;
  const loop = async () => {
    while (!stop) {
      const id = (next += 4);
      try {
        const r = await post([row(id, x1), row(id + 1, x1), row(id + 2, x1), row(id + 3, x1)]);
        if (r.status !== 200) failures.push(`${r.status} ${JSON.stringify(r.json)}`);
        else seen.set(r.json.modelVersion, (seen.get(r.json.modelVersion) ?? 0) + 1);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  const loops = [loop(), loop(), loop()];
  return {
    seen,
    failures,
    async stop() {
      stop = true;
      await Promise.all(loops);
    },
  };
}

/** Short holds; latency is not judged here (speed is measured in bench/, not asserted on a shared test machine). */
const fastCanary = (over: Partial<CanaryOptions> = {}): Partial<CanaryOptions> => ({ hold: '1s', checkEvery: '250ms', minRows: 8, maxLatencyRatio: 1e6, ...over });

beforeAll(async () => {
  env = await startTestEnv('canary');
  await ingestChurnData(env, { dataset: 'churn-train', rows: 4000 });
  v1 = await train(1);
  expect((await (await promote(v1)).result()).phase).toBe('promoted');
  const predictor = await createPredictor({
    model: MODEL,
    store: env.store,
    client: env.client,
    taskQueue: env.config.taskQueue,
    pollIntervalMs: 200,
    alerts: false,
    log: { flushIntervalMs: 200 },
    promotions: { reportIntervalMs: 200 },
  });
  server = await startModelServer({ predictor, model: MODEL, port: 0 });
});
afterAll(async () => {
  await server?.close();
  await env?.shutdown();
});

describe('shadow and canary on live traffic', () => {
  it('routes by a stable hash of the key: the same key always lands in the same bucket, and shares come out as asked', () => {
    expect(routingBucket('customer-42')).toBe(routingBucket('customer-42'));
    const buckets = Array.from({ length: 20_000 }, (_, i) => routingBucket(String(i)));
    const share = (pct: number) => buckets.filter((b) => b < pct * 100).length / buckets.length;
    expect(share(5)).toBeGreaterThan(0.04);
    expect(share(5)).toBeLessThan(0.06);
    expect(share(25)).toBeGreaterThan(0.23);
    expect(share(25)).toBeLessThan(0.27);
  });

  it('judges a step on its counters: nothing before minRows, then flag rate, failures and p99 latency (over enough requests)', () => {
    const options = canarySchema.parse({ minRows: 10 });
    const stats = (requests: number, rows: number, flagged: number, ms: number, errors = 0): TrafficStats => {
      const s = emptyStats();
      s.requests = requests;
      s.rows = rows;
      s.flagged = flagged;
      s.errors = errors;
      s.latency[LATENCY_BOUNDS_MS.findIndex((b) => ms <= b)] = requests;
      return s;
    };
    const step = (candidate: TrafficStats, production: TrafficStats) => judgeCanaryStep({ share: 5, candidate, production }, options, null);
    expect(step(stats(2, 9, 9, 1), stats(50, 200, 0, 1))).toMatchObject({ enough: false, failed: [] });
    expect(step(stats(200, 400, 4, 1), stats(200, 400, 0, 1))).toMatchObject({ enough: true, failed: [] });
    expect(step(stats(200, 400, 40, 1), stats(200, 400, 0, 1)).failed).toEqual([expect.stringMatching(/^flagged share 10\.00 % of 400 rows > 5\.00 %/)]);
    expect(step(stats(200, 400, 0, 1, 3), stats(200, 400, 0, 1)).failed).toEqual(['3 of 200 requests failed > 0.00 %']);
    expect(step(stats(200, 400, 0, 20), stats(200, 400, 0, 2)).failed).toEqual([expect.stringMatching(/^p99 latency [\d.]+ ms > 2 × production's [\d.]+ ms \+ 1 ms$/)]);
    // Too few requests for a p99: not judged on latency.
    expect(step(stats(20, 400, 0, 20), stats(200, 400, 0, 2)).failed).toEqual([]);
    // At 100 % production answers nothing: its p99 from an earlier step is the yardstick.
    expect(judgeCanaryStep({ share: 100, candidate: stats(200, 400, 0, 20), production: emptyStats() }, options, 2).failed).toHaveLength(1);
  });

  it('shadows a candidate under review on live requests and writes what it saw into the evaluation report', async () => {
    const v2 = await train(0.05);
    const handle = await promote(v2, { policy: 'manual' });
    await until('the review', async () => ((await status(v2)).phase === 'waiting-for-review' ? true : undefined));
    await until('the server shadowing v2', async () => {
      const p = server.predictor.status().promotion;
      return p?.mode === 'shadow' && p.candidate === v2 && p.candidateLoaded ? true : undefined;
    });
    for (let i = 0; i < 30; i++) {
      const r = await post([row(10 * i), row(10 * i + 1, -1), row(10 * i + 2, 2), row(10 * i + 3)]);
      expect(r.status).toBe(200);
      expect(r.json.modelVersion).toBe(v1); // production answers; the candidate only listens
    }
    await until('every request shadowed', async () => ((server.predictor.status().promotion?.shadowed ?? 0) >= 30 ? true : undefined));
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain(`mlops_serve_promotion_info{candidate="${v2}",mode="shadow"} 1`);
    expect(metrics).toContain('mlops_serve_shadow_requests{state="shadowed"} 30');
    expect(metrics).toContain('mlops_serve_shadow_requests{state="dropped"} 0');
    // Steering a canary that is not one is refused by the workflow's validator, with the reason.
    await expect(steerCanary(env.client, 'pause', { model: MODEL, by: 'ana', reason: 'try' })).rejects.toThrow(/not in a canary \(it is waiting-for-review\)/);
    const { runId } = await handle.describe();
    const traffic = await until('the shadow counters in the store', async () => {
      const t = await readOnlineTrafficFiles(env.store, { model: MODEL, candidate: v2, promotionRun: runId });
      return t.shadow?.rows === 120 ? t : undefined;
    });
    expect(traffic.servers).toBe(1);
    expect(traffic.shadow!.dropped).toBe(0);

    const done = await reviewOutcome(env.client, 'reject', { model: MODEL, version: v2, by: 'ana', reason: 'looked at the online shadow' });
    expect(done.phase).toBe('rejected');
    const shadow = done.onlineShadow!;
    expect(shadow).toMatchObject({ servers: 1, rows: 120, dropped: 0, production: { requests: 30, rows: 120 }, candidate: { requests: 30, rows: 120, errors: 0 } });
    expect(shadow.agreement).toBeGreaterThan(0.5);
    expect(shadow.agreement).toBeLessThanOrEqual(1);
    expect(shadow.meanAbsoluteDifference).toBeGreaterThan(0); // two different models
    expect(shadow.candidate.p99Ms).toBeGreaterThan(0);
    expect(shadow.outputs!.production.reduce((a, b) => a + b, 0)).toBe(120);
    const report = JSON.parse(fs.readFileSync(done.evaluation!.reportUri, 'utf8')) as { onlineShadow: OnlineShadowSummary };
    expect(report.onlineShadow).toEqual(shadow);
    const markdown = fs.readFileSync(done.evaluation!.markdownUri, 'utf8');
    expect(markdown).toContain('## Online shadow');
    expect(markdown).toMatch(/120 live rows from 1 model server/);
    expect(fs.readFileSync(done.evaluation!.htmlUri!, 'utf8')).toContain('<h2>Online shadow</h2>');
    await until('the server to stop shadowing', async () => (server.predictor.status().promotion === undefined ? true : undefined));
  });

  it('passes a canary 5 % → 25 % → 100 % under live traffic and makes the candidate production, without one failed request', async () => {
    const v3 = await train(0.3);
    const traffic = trafficLoop();
    try {
      const result = await (await promote(v3, { policy: 'canary', canary: fastCanary() })).result();
      expect(result.phase, JSON.stringify(result.decision)).toBe('promoted');
      expect(result.canary!.outcome).toBe('passed');
      expect(result.canary!.history.map((h) => [h.share, h.outcome])).toEqual([
        [5, 'passed'],
        [25, 'passed'],
        [100, 'passed'],
      ]);
      // Each step saw the candidate answer its share (and production the rest, until 100 %).
      for (const h of result.canary!.history) expect(h.candidate.rows).toBeGreaterThanOrEqual(8);
      expect(result.canary!.history[0]!.production.rows).toBeGreaterThan(result.canary!.history[0]!.candidate.rows);
      expect(result.decision!.reason).toContain('canary passed 5 % → 25 % → 100 %');
      expect((await registryState(env.client, MODEL)).aliases.production).toBe(v3);
      await until('the server serving v3 as production', async () => (server.predictor.status().version === v3 ? true : undefined));
      const before = traffic.seen.get(v3) ?? 0;
      await until('requests answered after the promotion', async () => ((traffic.seen.get(v3) ?? 0) > before + 10 ? true : undefined));
    } finally {
      await traffic.stop();
    }
    expect(traffic.failures).toEqual([]);
    expect(traffic.seen.get(v1)).toBeGreaterThan(0);
    expect(traffic.seen.get(v3)).toBeGreaterThan(0);
  });

  it('rolls back at once when a canary step fails a gate: the old production keeps serving, no request fails', async () => {
    const production = (await registryState(env.client, MODEL)).aliases.production!;
    const v4 = await train(3);
    // Whoever owns the model hears of the rollback: a webhook from the model's spec.
    const flags = await flagsToWebhook();
    // Far outside anything seen in training: every row of the candidate is flagged.
    const traffic = trafficLoop(500);
    let result: PromotionStatus;
    try {
      result = await (await promote(v4, { policy: 'canary', canary: fastCanary({ steps: [50, 100], hold: '1h', minRows: 12 }) })).result();
      await until('the server back on production alone', async () => (server.predictor.status().promotion === undefined ? true : undefined));
      await new Promise((r) => setTimeout(r, 100)); // requests routed before that are answered by now
      const after = new Map(traffic.seen);
      await until('requests after the rollback', async () => ((traffic.seen.get(production) ?? 0) > (after.get(production) ?? 0) + 10 ? true : undefined));
      // Only production answers once the canary is over.
      expect(traffic.seen.get(v4)).toBe(after.get(v4));
    } finally {
      await traffic.stop();
    }
    expect(result.phase).toBe('rejected');
    expect(result.decision).toMatchObject({ outcome: 'rejected', by: 'canary gates' });
    expect(result.decision!.reason).toMatch(/canary step 1 \(50 %\) failed: flagged share 100\.00 % of \d+ rows > 5\.00 %.*rolled back, production stays/);
    expect(result.canary).toMatchObject({ outcome: 'rolled-back', share: 0 });
    expect(result.canary!.history).toHaveLength(1);
    expect(traffic.failures).toEqual([]);
    expect(traffic.seen.get(v4)).toBeGreaterThan(0);
    const registry = await registryState(env.client, MODEL);
    expect(registry.aliases.production).toBe(production);
    expect(registry.decisions.at(-1)).toMatchObject({ action: 'reject', version: v4, by: 'canary gates' });
    // Sent before the promotion ended, once. (The spec goes too: later tests' flags are not for this receiver.)
    const messages = await flags.stop();
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ kind: 'canary-rollback', commands: [`mlops status ${MODEL}`, `mlops retrain ${MODEL} --reason "…"`] });
    expect(messages[0]!.summary).toMatch(new RegExp(`^${MODEL}@${v4}: canary step 1 \\(50 %\\) failed: .*rolled back`));
  });

  it('rolls back when labels arrive and the live metric of the canary is worse than production on the same days', async () => {
    const production = (await registryState(env.client, MODEL)).aliases.production!;
    const v6 = await train(0.1);
    const handle = await promote(v6, { policy: 'canary', canary: fastCanary({ steps: [50, 100], hold: '1h', checkEvery: '500ms', minLabeledRows: 20 }) });
    await until('the canary', async () => ((await status(v6)).phase === 'canary' ? true : undefined));
    await until('the server routing half to v6', async () => (server.predictor.status().promotion?.share === 50 ? true : undefined));
    const answers: Array<{ id: number; version: string; label: string }> = [];
    for (let i = 0; i < 100; i++) {
      const id = 7_000_000 + i;
      const r = await post(row(id, (i % 40) / 10 - 2));
      expect(r.status).toBe(200);
      answers.push({ id, version: r.json.modelVersion, label: r.json.prediction.predictedLabel });
    }
    expect(answers.filter((a) => a.version === v6).length).toBeGreaterThanOrEqual(20);
    expect(answers.filter((a) => a.version === production).length).toBeGreaterThanOrEqual(20);
    await until('the online log written', async () => (server.predictor.status().log!.buffered === 0 ? true : undefined));
    // The outcomes, later: production was right every time, the candidate wrong every time.
    const labels = `${env.inputDir}/canary-labels.csv`;
    fs.writeFileSync(labels, `id,churned\n${answers.map((a) => `${a.id},${a.version === v6 ? String(a.label !== 'true') : a.label}`).join('\n')}\n`);
    expect((await (await startLabels(env.client, env.config, { dataset: 'churn-train', source: labels })).result()).rows).toBe(100);
    const result = await handle.result();
    expect(result.phase).toBe('rejected');
    expect(result.decision!.by).toBe('canary gates');
    expect(result.decision!.reason).toMatch(/canary step 1 \(50 %\) failed: live rocAuc [\d.]+ on \d+ labeled rows vs production's [\d.]+ on \d+: worse by/);
    expect(result.canary!.history[0]!.outcome).toBe('failed');
    expect((await registryState(env.client, MODEL)).aliases.production).toBe(production);
  });

  it('promotes a first model without a canary: with no production there is no traffic to share', async () => {
    const trained = await (await startTraining(env.client, env.config, { model: 'canary-first', dataset: 'churn-train', trainer: { kind: 'logistic', params: {} } })).result();
    const result = await (await startPromotion(env.client, env.config, { model: 'canary-first', gates: LENIENT, policy: 'canary' })).result();
    expect(result.phase).toBe('promoted');
    expect(result.canary).toBeUndefined();
    expect(result.decision!.reason).toContain('no canary: there is no production version to share traffic with');
    expect((await registryState(env.client, 'canary-first')).aliases.production).toBe(trained.summary.version);
  });

  it('lets a person pause, advance and abort a canary, and refuses each where it does not fit', async () => {
    const v5 = await train(6);
    const flags = await flagsToWebhook();
    const handle = await promote(v5, { policy: 'canary', canary: { hold: '1h', checkEvery: '1s' } });
    await until('the canary', async () => ((await status(v5)).phase === 'canary' ? true : undefined));
    const who = { model: MODEL, by: 'ana', reason: 'watching the dashboards' };
    await expect(steerCanary(env.client, 'pause', { ...who, reason: ' ' })).rejects.toThrow(/canary pause refused: reason must be a non-empty text/);
    const paused = await steerCanary(env.client, 'pause', who);
    expect(paused.canary).toMatchObject({ step: 0, share: 5, paused: { by: 'ana' } });
    await expect(steerCanary(env.client, 'pause', who)).rejects.toThrow(/already paused at 5 %/);
    // A paused canary waits for a person: it is listed with everything else that does.
    await until('the paused canary listed', async () => ((await listPending(env.client)).some((p) => p.workflowId === handle.workflowId) ? true : undefined));
    // …and its owner is told, with the commands that answer it.
    const pausedFlag = await until('the canary-paused message', async () => flags.messages.find((m) => m.kind === 'canary-paused'));
    expect(pausedFlag.summary).toBe('canary paused at 5 % by ana: watching the dashboards');
    expect(pausedFlag.commands).toEqual([`mlops canary advance ${MODEL} --reason "…"`, `mlops canary abort ${MODEL} --reason "…"`]);
    await steerCanary(env.client, 'advance', { ...who, reason: 'dashboards fine' });
    const second = await until('the second step', async () => {
      const s = await status(v5);
      return s.canary?.step === 1 ? s : undefined;
    });
    expect(second.canary).toMatchObject({ share: 25, history: [{ share: 5, outcome: 'advanced', by: 'ana', detail: 'dashboards fine' }] });
    expect(second.canary!.paused).toBeUndefined();
    // The gates look at the (empty) counters meanwhile: no traffic, nothing to judge yet.
    const checked = await until('a check of the second step', async () => (await status(v5)).canary?.current);
    expect(checked).toMatchObject({ enough: false, failed: [], candidate: { rows: 0 } });
    // A request for the production version by name is answered by it, never by the canary's candidate.
    const production = (await registryState(env.client, MODEL)).aliases.production!;
    await until('the server in the 25 % step', async () => {
      const p = server.predictor.status().promotion;
      return p?.share === 25 && p.candidateLoaded ? true : undefined;
    });
    const keys = Array.from({ length: 40 }, (_, i) => `pinned-${i}`); // fixed keys: the same buckets every run
    const answeredBy = async (version?: string) =>
      new Set(
        await Promise.all(
          keys.map(async (routingKey, i) => (await server.predictor.predictBatch([row(9_000_000 + i)], { routingKey, ...(version ? { version } : {}) })).modelVersion),
        ),
      );
    expect(await answeredBy()).toContain(v5);
    expect([...(await answeredBy(production))]).toEqual([production]);
    await expect(server.predictor.predictBatch([row(9_000_100)], { version: v5 })).rejects.toThrow(/does not serve here; production .* does/);
    await steerCanary(env.client, 'abort', { ...who, reason: 'support tickets up' });
    const result = await handle.result();
    expect(result.phase).toBe('rejected');
    expect(result.decision).toMatchObject({ by: 'ana', reason: expect.stringContaining('canary aborted at 25 %: support tickets up') });
    expect(result.canary!.history.map((h) => h.outcome)).toEqual(['advanced', 'aborted']);
    await expect(steerCanary(env.client, 'advance', { ...who, version: v5 })).rejects.toThrow(/not in a canary|No promotion/);
    expect((await flags.stop()).map((m) => m.kind)).toEqual(['canary-paused']);
  });
});

/**
 * The flags sent about MODEL while it runs: a webhook receiver on 127.0.0.1 in the model's spec.
 * `stop` closes it and removes the spec, so a later test's flags are not sent here.
 */
async function flagsToWebhook() {
  const messages: Array<{ kind: string; summary: string; commands: string[] }> = [];
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      messages.push(JSON.parse(body) as (typeof messages)[number]);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const text = JSON.stringify({
    apiVersion: 'mlops/v1',
    kind: 'Model',
    name: MODEL,
    notify: [{ kind: 'webhook', url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` }],
  });
  await applySpec(env.client, env.config, env.store, { spec: parseSpec(text, 'canary.json'), source: 'canary.json', text, baseDir: env.inputDir });
  return {
    messages,
    async stop() {
      receiver.close();
      await deleteAppliedSpec(env.client, env.store, MODEL);
      return messages;
    },
  };
}
