import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notifySpecSchema, type NotifyChannel } from '../src/notifications/channels';
import { DELIVERY_ID_HEADER, FlagDeliveryError, SIGNATURE_HEADER, deliverFlagTo, listFailedDeliveries, recordFailedDelivery, signBody } from '../src/notifications/deliver';
import { FLAG_SCHEMA, answerCommands, flagPayload, type FlagPayload } from '../src/notifications/flags';
import { parseSpec } from '../src/spec/load';
import { ArtifactStore } from '../src/store/artifact-store';
import { applySpec } from '../src/client/apply';
import { reviewPromotion, startPromotion } from '../src/client/promote';
import { decideRetrain, requestRetrain, startMonitor } from '../src/client/retrain';
import { acknowledgeAlert, startScoring } from '../src/client/score';
import { startTraining } from '../src/client/train';
import { ingestChurnData } from './helpers/churn';
import { cliFor } from './helpers/cli';
import { promotionReviewFlag } from './helpers/flags';
import { startTestEnv, type TestEnv } from './helpers/env';

/**
 * Flags that reach people: real HTTP receivers on 127.0.0.1 (a webhook that checks the HMAC
 * signature, a Slack-format receiver), a real local store for the dedupe markers.
 */
interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const SECRET = 'test-secret-123';

class Receiver {
  readonly received: Received[] = [];
  /** Per path: how many more requests to refuse with 503. */
  readonly failures = new Map<string, number>();
  /** Per path: how long to take before answering (a slow receiver). */
  readonly delays = new Map<string, number>();
  /** The paths of the requests that came in, answered or not yet. */
  readonly arrived: string[] = [];
  private server!: http.Server;
  url = '';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      this.arrived.push(req.url ?? '/');
      req.on('end', () => setTimeout(answer, this.delays.get(req.url ?? '/') ?? 0));
      const answer = () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const p = req.url ?? '/';
        const left = this.failures.get(p) ?? 0;
        if (left > 0) {
          this.failures.set(p, left - 1);
          res.writeHead(503).end('try later');
          return;
        }
        // A signed webhook: the receiver recomputes the HMAC of the raw body and refuses a mismatch.
        if (p.startsWith('/signed') && req.headers[SIGNATURE_HEADER.toLowerCase()] !== signBody(SECRET, body)) {
          res.writeHead(401).end('bad signature');
          return;
        }
        if (p.startsWith('/slack')) {
          const msg = JSON.parse(body) as { text?: unknown; blocks?: unknown };
          if (typeof msg.text !== 'string' || !Array.isArray(msg.blocks)) {
            res.writeHead(400).end('invalid_payload');
            return;
          }
        }
        this.received.push({ path: p, headers: req.headers, body });
        res.writeHead(200).end('ok');
      };
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  at(p: string): Received[] {
    return this.received.filter((r) => r.path === p);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const receiver = new Receiver();
let dir: string;
let store: ArtifactStore;
let episode = 0;

function promotionFlag(): FlagPayload {
  episode += 1;
  return promotionReviewFlag(episode);
}

beforeAll(async () => {
  await receiver.start();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-notify-'));
  store = new ArtifactStore(dir);
});

afterAll(async () => {
  await receiver.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('flag delivery', () => {
  it('sends a promotion review to a signed webhook and to Slack, with the approve command and the Web UI link', async () => {
    const channels: NotifyChannel[] = [
      { kind: 'webhook', url: `${receiver.url}/signed/a`, secretEnv: 'MLOPS_TEST_HOOK_SECRET' },
      { kind: 'slack', url: `${receiver.url}/slack/a` },
    ];
    const flag = promotionFlag();
    const result = await deliverFlagTo(store, channels, flag, { env: { MLOPS_TEST_HOOK_SECRET: SECRET } });
    expect(result.channels.map((c) => c.outcome)).toEqual(['sent', 'sent']);

    expect(receiver.at('/signed/a')).toHaveLength(1);
    const hook = receiver.at('/signed/a')[0]!;
    expect(hook.headers[DELIVERY_ID_HEADER.toLowerCase()]).toBe(flag.deliveryId);
    const payload = JSON.parse(hook.body) as FlagPayload;
    expect(payload).toMatchObject({ schema: FLAG_SCHEMA, kind: 'promotion-review', deliveryId: 'promote:churn:v7/promotion-review/1' });
    expect(payload.commands).toContain('mlops approve churn v7 --reason "…"');
    expect(payload.webUiUrl).toBe('http://localhost:8233/namespaces/default/workflows/promote%3Achurn%3Av7');

    const slack = receiver.at('/slack/a');
    expect(slack).toHaveLength(1);
    expect(slack[0]!.body).toContain('mlops approve churn v7');
    expect(slack[0]!.body).toContain('http://localhost:8233/namespaces/default/workflows/promote%3Achurn%3Av7');
  });

  it('a receiver that fails the first times gets exactly one message in the end; channels that took it are not resent', async () => {
    const channels: NotifyChannel[] = [
      { kind: 'webhook', url: `${receiver.url}/flaky` },
      { kind: 'slack', url: `${receiver.url}/slack/b` },
    ];
    receiver.failures.set('/flaky', 2);
    const flag = promotionFlag();
    const attempts: string[][] = [];
    let delivered = false;
    // What the activity's retries do: the same delivery again until it goes through.
    for (let i = 0; i < 5 && !delivered; i++) {
      try {
        const r = await deliverFlagTo(store, channels, flag);
        attempts.push(r.channels.map((c) => c.outcome));
        delivered = true;
      } catch (err) {
        expect(err).toBeInstanceOf(FlagDeliveryError);
        attempts.push((err as FlagDeliveryError).result.channels.map((c) => c.outcome));
      }
    }
    expect(attempts).toEqual([
      ['failed', 'sent'],
      ['failed', 'already-sent'],
      ['sent', 'already-sent'],
    ]);
    expect(receiver.at('/flaky')).toHaveLength(1);
    expect(receiver.at('/slack/b')).toHaveLength(1);
    // A later retry of the same flag sends nothing more.
    await deliverFlagTo(store, channels, flag);
    expect(receiver.at('/flaky')).toHaveLength(1);
  });

  it('a bad signature is refused by the receiver and the delivery fails, naming the channel', async () => {
    const flag = promotionFlag();
    const channels: NotifyChannel[] = [{ kind: 'webhook', url: `${receiver.url}/signed/bad`, secretEnv: 'HOOK_SECRET' }];
    const err = await deliverFlagTo(store, channels, flag, { env: { HOOK_SECRET: 'not-the-secret' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlagDeliveryError);
    expect((err as Error).message).toMatch(/0-webhook \(HTTP 401 .*bad signature\)/);
    expect(receiver.at('/signed/bad')).toHaveLength(0);
  });

  it('a missing secret env var gives an error naming it, and nothing is sent unsigned', async () => {
    const flag = promotionFlag();
    const channels: NotifyChannel[] = [{ kind: 'webhook', url: `${receiver.url}/signed/nosecret`, secretEnv: 'MLOPS_MISSING_SECRET' }];
    const err = await deliverFlagTo(store, channels, flag, { env: {} }).catch((e: unknown) => e);
    expect((err as Error).message).toContain('secretEnv MLOPS_MISSING_SECRET is not set on the worker');
    expect(receiver.at('/signed/nosecret')).toHaveLength(0);
  });

  it('no channels: nothing to deliver, recorded as not configured', async () => {
    const result = await deliverFlagTo(store, undefined, promotionFlag());
    expect(result).toMatchObject({ configured: false, channels: [] });
  });

  it('a per-channel flags filter skips other kinds', async () => {
    const channels: NotifyChannel[] = [{ kind: 'slack', url: `${receiver.url}/slack/scoring-only`, flags: ['scoring-alert'] }];
    const skipped = await deliverFlagTo(store, channels, promotionFlag());
    expect(skipped.channels).toEqual([{ channel: '0-slack', outcome: 'skipped' }]);
    const scoring = flagPayload(
      {
        kind: 'scoring-alert',
        model: 'churn',
        workflowId: 'score:churn:run-1',
        episode: 1,
        summary: 'flagged share 0.05 above 0.02',
        commands: answerCommands.scoringAlert('churn', 'run-1'),
        raisedAt: new Date().toISOString(),
      },
      { webUi: 'http://ui.example:8080/', namespace: 'mlops' },
    );
    await deliverFlagTo(store, channels, scoring);
    const got = receiver.at('/slack/scoring-only');
    expect(got).toHaveLength(1);
    expect(got[0]!.body).toContain('mlops acknowledge churn run-1');
    expect(got[0]!.body).toContain('http://ui.example:8080/namespaces/mlops/workflows/score%3Achurn%3Arun-1');
  });

  it('failed deliveries are kept and listed', async () => {
    await recordFailedDelivery(store, {
      deliveryId: 'score:churn:r/scoring-alert/1',
      kind: 'scoring-alert',
      model: 'churn',
      workflowId: 'score:churn:r',
      error: 'HTTP 503',
      failedAt: '2026-12-03T05:00:00.000Z',
    });
    expect(await listFailedDeliveries(store)).toEqual([expect.objectContaining({ deliveryId: 'score:churn:r/scoring-alert/1', error: 'HTTP 503' })]);
  });
});

describe('the spec notify section', () => {
  it('takes webhook and slack channels and refuses a secret in the spec', () => {
    const spec = parseSpec(
      JSON.stringify({
        apiVersion: 'mlops/v1',
        kind: 'Model',
        name: 'm',
        notify: [
          { kind: 'webhook', url: 'https://hooks.example/mlops', secretEnv: 'MLOPS_HOOK_SECRET', flags: ['promotion-review'] },
          { kind: 'slack', url: 'https://hooks.slack.com/services/T/B/X' },
        ],
      }),
      'm.json',
    );
    expect(spec.notify).toHaveLength(2);
    expect(notifySpecSchema.safeParse([{ kind: 'webhook', url: 'https://h.example', secret: 'inline' }]).success).toBe(false);
    expect(notifySpecSchema.safeParse([{ kind: 'webhook', url: 'https://h.example', secretEnv: 'not a name' }]).success).toBe(false);
    expect(notifySpecSchema.safeParse([{ kind: 'slack', url: 'ftp://h.example' }]).success).toBe(false);
  });
});

/** Through real workflows on the run's Temporal server: the serving alert raises its flag with raiseFlag. */
describe('flags raised by workflows', () => {
  let env: TestEnv;
  const hooks = new Receiver();
  const SECRET_VAR = 'MLOPS_TEST_NOTIFY_SECRET';

  beforeAll(async () => {
    await hooks.start();
    // The in-process worker reads the secret from its environment at delivery time.
    process.env[SECRET_VAR] = SECRET;
    env = await startTestEnv('notify', { MLOPS_WEB_UI_URL: 'http://ui.test:8233' });
  });

  afterAll(async () => {
    await env?.shutdown();
    await hooks.stop();
    delete process.env[SECRET_VAR];
  });

  async function applyNotify(model: string, notify: unknown[]): Promise<void> {
    const text = JSON.stringify({ apiVersion: 'mlops/v1', kind: 'Model', name: model, notify });
    await applySpec(env.client, env.config, env.store, { spec: parseSpec(text, `${model}.json`), source: `${model}.json`, text, baseDir: env.inputDir });
  }

  async function raiseServingAlert(model: string, runId: string) {
    return env.client.workflow.start('servingAlert', {
      taskQueue: env.config.taskQueue,
      workflowId: `score:${model}:${runId}`,
      args: [{ model, runId, modelVersion: 'v1', alert: 'flagged share 0.4 above 0.1 in the last 200 predictions' }],
    });
  }

  async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 40_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = await probe();
      if (got !== undefined) return got;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('a serving alert reaches a signed webhook and Slack once, with the acknowledge command and the Web UI link', async () => {
    await applyNotify('notify-a', [
      { kind: 'webhook', url: `${hooks.url}/signed/wf`, secretEnv: SECRET_VAR },
      { kind: 'slack', url: `${hooks.url}/slack/wf` },
    ]);
    const handle = await raiseServingAlert('notify-a', 'online-1');
    const hook = await until('the webhook', () => hooks.at('/signed/wf')[0]);
    const payload = JSON.parse(hook.body) as FlagPayload;
    expect(payload).toMatchObject({ schema: FLAG_SCHEMA, kind: 'serving-alert', model: 'notify-a', workflowId: 'score:notify-a:online-1', episode: 1 });
    expect(payload.commands).toEqual(['mlops acknowledge notify-a online-1 --reason "…"']);
    expect(payload.webUiUrl).toBe('http://ui.test:8233/namespaces/default/workflows/score%3Anotify-a%3Aonline-1');
    expect(hook.headers[DELIVERY_ID_HEADER.toLowerCase()]).toBe('score:notify-a:online-1/serving-alert/1');
    await until('the Slack message', () => hooks.at('/slack/wf')[0]);
    await acknowledgeAlert(env.client, { model: 'notify-a', runId: 'online-1', by: 'ana', reason: 'seen' });
    expect(await handle.result()).toMatchObject({ phase: 'done' });
    expect(hooks.at('/signed/wf')).toHaveLength(1);
    expect(hooks.at('/slack/wf')).toHaveLength(1);
    // No secret in the history: only the env var's name travels.
    expect(JSON.stringify(await handle.fetchHistory())).not.toContain(SECRET);
  });

  it('a receiver that always fails leaves the workflow to complete normally, the failure on record', async () => {
    await applyNotify('notify-b', [{ kind: 'webhook', url: `${hooks.url}/down` }]);
    hooks.failures.set('/down', 1_000);
    const handle = await raiseServingAlert('notify-b', 'online-2');
    const failed = await until('the failed-delivery record', async () => (await listFailedDeliveries(env.store)).find((f) => f.workflowId === 'score:notify-b:online-2'));
    expect(failed).toMatchObject({ kind: 'serving-alert', deliveryId: 'score:notify-b:online-2/serving-alert/1' });
    expect(failed.error).toContain('HTTP 503');
    const cli = cliFor(env.config);
    const listed = await cli('notifications', '--failed', '--json');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ deliveryId: 'score:notify-b:online-2/serving-alert/1' })]));
    const sent = await cli('notifications', '--json');
    expect(JSON.parse(sent.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ deliveryId: 'score:notify-a:online-1/serving-alert/1', channel: '1-slack' })]));
    await acknowledgeAlert(env.client, { model: 'notify-b', runId: 'online-2', by: 'ana', reason: 'seen' });
    expect(await handle.result()).toMatchObject({ phase: 'done' });
  }, 60_000);

  it('a monitoring crossing, which waits for nobody, is delivered before its workflow ends', async () => {
    await ingestChurnData(env, { dataset: 'notify-train', rows: 3000 });
    await (await startTraining(env.client, env.config, { model: 'notify-m', dataset: 'notify-train' })).result();
    await (await startPromotion(env.client, env.config, { model: 'notify-m', gates: { thresholds: { rocAuc: { min: 0.5 } } } })).result();
    await applyNotify('notify-m', [{ kind: 'webhook', url: `${hooks.url}/signed/monitor`, secretEnv: SECRET_VAR }]);
    await ingestChurnData(env, { dataset: 'notify-live', rows: 3000, idOffset: 100_000, seed: 8, x2Shift: 1.5, unlabeled: true });
    await (await startScoring(env.client, env.config, { model: 'notify-m', dataset: 'notify-live', runId: 'shifted', maxFlaggedShare: 1 })).result();
    const result = await (await startMonitor(env.client, env.config, { model: 'notify-m', dataset: 'notify-live', runId: 'shifted', retrainOnTrigger: false })).result();
    expect(result.triggered).toBe(true);
    // The workflow has completed: its message is already there, not on its way.
    const received = hooks.at('/signed/monitor');
    expect(received).toHaveLength(1);
    const payload = JSON.parse(received[0]!.body) as FlagPayload;
    expect(payload).toMatchObject({
      kind: 'monitoring-crossing',
      model: 'notify-m',
      workflowId: 'monitor:notify-m:shifted',
      details: { runId: 'shifted', dataset: 'notify-live' },
    });
    expect(payload.summary).toMatch(/crossed a threshold: .*feature drift in x2.*retrainOnTrigger: false/);
    expect(payload.commands).toEqual(['mlops report notify-m --monitoring shifted --open', 'mlops retrain notify-m --reason "…"']);
  }, 120_000);

  it('a promotion review, a scoring alert and an escalated retraining loop each send one message with the commands that answer them', async () => {
    const model = 'notify-w';
    const url = '/signed/waits';
    await ingestChurnData(env, { dataset: 'notify-w-train', rows: 2000, seed: 3 });
    await applyNotify(model, [{ kind: 'webhook', url: `${hooks.url}${url}`, secretEnv: SECRET_VAR }]);
    await (await startTraining(env.client, env.config, { model, dataset: 'notify-w-train' })).result();
    const message = (kind: string) =>
      until(`the ${kind} message`, () =>
        hooks
          .at(url)
          .map((r) => JSON.parse(r.body) as FlagPayload)
          .find((p) => p.kind === kind),
      );

    // A promotion waiting for review.
    const promotion = await startPromotion(env.client, env.config, { model, policy: 'manual', gates: { thresholds: { rocAuc: { min: 0.5 } } } });
    const review = await message('promotion-review');
    const version = review.details!.candidate as string;
    expect(review).toMatchObject({ workflowId: promotion.workflowId, deliveryId: `${promotion.workflowId}/promotion-review/1` });
    expect(review.commands).toEqual(answerCommands.promotionReview(model, version));
    await reviewPromotion(env.client, 'approve', { model, version, by: 'ana', reason: 'looks right' });
    expect(await promotion.result()).toMatchObject({ phase: 'promoted' });

    // A scoring run with too many rows out of range.
    await ingestChurnData(env, { dataset: 'notify-w-odd', rows: 1000, idOffset: 300_000, outliers: 100, unlabeled: true });
    const scoring = await startScoring(env.client, env.config, { model, dataset: 'notify-w-odd', runId: 'odd' });
    const alert = await message('scoring-alert');
    expect(alert).toMatchObject({ workflowId: scoring.workflowId, details: { runId: 'odd' } });
    expect(alert.summary).toMatch(/outside the acceptable range/);
    expect(alert.commands).toEqual(answerCommands.scoringAlert(model, 'odd'));
    await acknowledgeAlert(env.client, { model, runId: 'odd', by: 'ana', reason: 'known outliers' });
    await scoring.result();

    // A retraining loop that cannot beat production with a color-only model asks a person.
    const loop = await requestRetrain(
      env.client,
      env.config.taskQueue,
      { model, strategies: [{ features: ['color'] }], maxAttempts: 1, gates: { minImprovement: 0.005 }, baselineProof: { enabled: false } },
      { reason: 'test', by: 'tester' },
    );
    const escalated = await message('retrain-escalated');
    expect(escalated).toMatchObject({ workflowId: loop.workflowId, model });
    expect(escalated.summary).toMatch(/no improvement after 1 attempt/);
    expect(escalated.commands).toEqual(answerCommands.retrainEscalated(model));
    await decideRetrain(env.client, { model, decision: 'abort', by: 'ana', reason: 'keep production' });
    expect(await loop.result()).toMatchObject({ outcome: 'aborted' });
    // One message per flag, all signed.
    expect(hooks.at(url).map((r) => (JSON.parse(r.body) as FlagPayload).kind)).toEqual(['promotion-review', 'scoring-alert', 'retrain-escalated']);
  }, 180_000);

  it('a flag answered while its message is still on its way: the workflow ends only after the delivery', async () => {
    await applyNotify('notify-slow', [{ kind: 'webhook', url: `${hooks.url}/slow` }]);
    hooks.delays.set('/slow', 2_000);
    const handle = await raiseServingAlert('notify-slow', 'online-4');
    await until('the delivery under way', () => (hooks.arrived.includes('/slow') ? true : undefined));
    expect(hooks.at('/slow')).toHaveLength(0);
    // The answer comes first; ending the workflow now would drop the message (and, with the
    // delivery completing meanwhile, fail the task that carries the update).
    await acknowledgeAlert(env.client, { model: 'notify-slow', runId: 'online-4', by: 'ana', reason: 'seen before the message' });
    expect(await handle.result()).toMatchObject({ phase: 'done' });
    expect(hooks.at('/slow')).toHaveLength(1);
    const events = (await handle.fetchHistory()).events!;
    const delivered = events.findIndex((e) => e.activityTaskCompletedEventAttributes);
    expect(delivered).toBeGreaterThan(0);
    expect(delivered).toBeLessThan(events.findIndex((e) => e.workflowExecutionCompletedEventAttributes));
    expect(events.some((e) => e.workflowTaskFailedEventAttributes)).toBe(false);
  });

  it('no spec: the delivery runs and sends nothing, recorded as not configured', async () => {
    const handle = await raiseServingAlert('notify-none', 'online-3');
    const history = await until('the delivery', async () => {
      const h = await handle.fetchHistory();
      return h.events?.some((e) => e.activityTaskCompletedEventAttributes) ? h : undefined;
    });
    const completed = history.events!.find((e) => e.activityTaskCompletedEventAttributes)!;
    const result = JSON.parse(Buffer.from(completed.activityTaskCompletedEventAttributes!.result!.payloads![0]!.data!).toString('utf8')) as { configured: boolean };
    expect(result).toMatchObject({ configured: false, channels: [] });
    await acknowledgeAlert(env.client, { model: 'notify-none', runId: 'online-3', by: 'ana', reason: 'seen' });
    await handle.result();
  });
});
