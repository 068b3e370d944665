import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySpec } from '../src/client/apply';
import { acknowledgeAlert } from '../src/client/score';
import { notifySpecSchema, type NotifyChannel } from '../src/notifications/channels';
import { FlagDeliveryError, deliverFlagTo } from '../src/notifications/deliver';
import type { FlagPayload } from '../src/notifications/flags';
import { parseSpec } from '../src/spec/load';
import { ArtifactStore } from '../src/store/artifact-store';
import { startTestEnv, type TestEnv } from './helpers/env';
import { promotionReviewFlag } from './helpers/flags';
import { LocalSmtpServer } from './helpers/smtp/local-smtp';
import { until } from './helpers/wait';

/**
 * The email channel against real SMTP servers (Python aiosmtpd on 127.0.0.1, one process each):
 * an open one, one that requires AUTH, one that refuses a recipient at RCPT. Messages are read
 * back as the server received them, decoded by Python's email parser.
 */
const USER = 'mlops-bot';
const PASSWORD = 'right-password-42';

const open = new LocalSmtpServer({ refuseRcptPrefix: 'nobody' });
const authed = new LocalSmtpServer({ auth: { user: USER, password: PASSWORD } });
let dir: string;
let store: ArtifactStore;
let episode = 0;

function promotionFlag(): FlagPayload {
  episode += 1;
  return promotionReviewFlag(episode, {
    summary: 'candidate churn@v7 waits for a review against v6 — the gates failed (rocAuc 0.68 < 0.7)',
    details: { candidate: 'v7', production: 'v6' },
  });
}

function emailTo(server: LocalSmtpServer, extra: Partial<Extract<NotifyChannel, { kind: 'email' }>> = {}): NotifyChannel {
  return { kind: 'email', smtp: server.url, from: 'mlops@example.test', to: ['ana@example.test', 'ops@example.test'], ...extra };
}

beforeAll(async () => {
  // The first run on a machine builds the aiosmtpd venv from PyPI.
  await Promise.all([open.start(), authed.start()]);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-notify-email-'));
  store = new ArtifactStore(dir);
}, 180_000);

afterAll(async () => {
  await Promise.all([open.stop(), authed.stop()]);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('the email channel', () => {
  it('a flag is one plain-text email with the summary as subject, the commands, the Web UI link and the delivery id header', async () => {
    const before = open.received().length;
    const flag = promotionFlag();
    const result = await deliverFlagTo(store, [emailTo(open)], flag);
    expect(result.channels).toEqual([{ channel: '0-email', outcome: 'sent' }]);

    const mails = open.received().slice(before);
    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    expect(mail.mailFrom).toBe('mlops@example.test');
    expect(mail.rcptTos).toEqual(['ana@example.test', 'ops@example.test']);
    expect(mail.subject).toBe('[promotion-review] churn: candidate churn@v7 waits for a review against v6 — the gates failed (rocAuc 0.68 < 0.7)');
    expect(mail.headers['x-mlops-delivery-id']).toBe(`promote:churn:v7/promotion-review/${episode}`);
    expect(mail.contentType).toBe('text/plain');
    const text = mail.text!;
    expect(text).toContain('mlops approve churn v7 --reason "…"');
    expect(text).toContain('mlops reject churn v7 --reason "…"');
    expect(text).toContain('http://localhost:8233/namespaces/default/workflows/promote%3Achurn%3Av7');
    expect(text).toContain(`Delivery id: promote:churn:v7/promotion-review/${episode}`);
    expect(text).toContain('candidate: v7');
  });

  it('AUTH with the credentials from the named env vars', async () => {
    const flag = promotionFlag();
    const channel = emailTo(authed, { usernameEnv: 'MLOPS_TEST_SMTP_USER', passwordEnv: 'MLOPS_TEST_SMTP_PASSWORD' });
    await deliverFlagTo(store, [channel], flag, { env: { MLOPS_TEST_SMTP_USER: USER, MLOPS_TEST_SMTP_PASSWORD: PASSWORD } });
    const got = authed.received().filter((m) => m.headers['x-mlops-delivery-id'] === flag.deliveryId);
    expect(got).toHaveLength(1);
  });

  it('a wrong password is refused by the server: the delivery fails naming the channel, nothing is sent', async () => {
    const before = authed.received().length;
    const channel = emailTo(authed, { usernameEnv: 'SMTP_USER', passwordEnv: 'SMTP_PASSWORD' });
    const err = await deliverFlagTo(store, [channel], promotionFlag(), { env: { SMTP_USER: USER, SMTP_PASSWORD: 'wrong' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlagDeliveryError);
    expect((err as Error).message).toMatch(new RegExp(`0-email \\(email ${authed.url.replace(/[.]/g, '\\.')}: .*535`));
    expect((err as FlagDeliveryError).result.channels).toEqual([expect.objectContaining({ channel: '0-email', outcome: 'failed' })]);
    expect(authed.received()).toHaveLength(before);
  });

  it('AUTH required but no credentials configured: the server refuses, the delivery fails', async () => {
    const err = await deliverFlagTo(store, [emailTo(authed)], promotionFlag()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlagDeliveryError);
    expect((err as Error).message).toMatch(/0-email \(email smtp:\/\/127\.0\.0\.1:\d+: .*530/);
  });

  it('a recipient refused at RCPT (550) fails the delivery with the server’s answer', async () => {
    const before = open.received().length;
    const channel = emailTo(open, { to: ['nobody@example.test'] });
    const err = await deliverFlagTo(store, [channel], promotionFlag()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlagDeliveryError);
    expect((err as Error).message).toMatch(/0-email \(email smtp:\/\/127\.0\.0\.1:\d+: .*550/);
    expect(open.received()).toHaveLength(before);
  });

  it('a server that refuses one recipient but takes the others: sent to those, with a warning naming the refused one', async () => {
    const before = open.received().length;
    const flag = promotionFlag();
    const result = await deliverFlagTo(store, [emailTo(open, { to: ['ana@example.test', 'nobody@example.test'] })], flag);
    expect(result.channels).toEqual([{ channel: '0-email', outcome: 'sent', warning: `email ${open.url} refused nobody@example.test` }]);
    const got = open.received().slice(before);
    expect(got).toHaveLength(1);
    expect(got[0]!.rcptTos).toEqual(['ana@example.test']);
  });

  it('a retried delivery does not send a second email once the email channel took it; the failed channel is retried alone', async () => {
    const before = open.received().length;
    const flag = promotionFlag();
    // The webhook points at a port nobody listens on: it fails every time, the email goes through once.
    const channels: NotifyChannel[] = [emailTo(open), { kind: 'webhook', url: 'http://127.0.0.1:9/hook' }];
    const outcomes: string[][] = [];
    for (let i = 0; i < 3; i++) {
      const err = await deliverFlagTo(store, channels, flag, { timeoutMs: 2_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FlagDeliveryError);
      outcomes.push((err as FlagDeliveryError).result.channels.map((c) => c.outcome));
    }
    expect(outcomes).toEqual([
      ['sent', 'failed'],
      ['already-sent', 'failed'],
      ['already-sent', 'failed'],
    ]);
    expect(
      open
        .received()
        .slice(before)
        .filter((m) => m.headers['x-mlops-delivery-id'] === flag.deliveryId),
    ).toHaveLength(1);
  });

  it('starttls: true against a server that offers no STARTTLS: refused before anything is sent in the clear', async () => {
    const before = open.received().length;
    const err = await deliverFlagTo(store, [emailTo(open, { starttls: true })], promotionFlag()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlagDeliveryError);
    expect((err as Error).message).toMatch(/0-email \(email smtp:\/\/127\.0\.0\.1:\d+: .*STARTTLS/i);
    expect(open.received()).toHaveLength(before);
  });

  it('a missing password env var gives an error naming it, and no connection is made', async () => {
    const before = authed.received().length;
    const channel = emailTo(authed, { usernameEnv: 'SMTP_USER', passwordEnv: 'MLOPS_MISSING_SMTP_PASSWORD' });
    const err = await deliverFlagTo(store, [channel], promotionFlag(), { env: { SMTP_USER: USER } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlagDeliveryError);
    expect((err as Error).message).toContain('passwordEnv MLOPS_MISSING_SMTP_PASSWORD is not set on the worker');
    expect(authed.received()).toHaveLength(before);
  });
});

describe('the email channel in the spec', () => {
  const base = { kind: 'email', smtp: 'smtp://mail.example.com:587', from: 'mlops@example.com', to: ['ana@example.com'] };

  it('takes smtp:// and smtps:// servers, credentials by env var name, starttls and a flags filter', () => {
    expect(notifySpecSchema.parse([{ ...base, usernameEnv: 'SMTP_USER', passwordEnv: 'SMTP_PASSWORD', starttls: true, flags: ['promotion-review'] }])).toHaveLength(1);
    expect(notifySpecSchema.safeParse([{ ...base, smtp: 'smtps://mail.example.com:465' }]).success).toBe(true);
  });

  it('refuses credentials in the spec or the URL, half the credentials, starttls with smtps, a bad address', () => {
    const refused = (channel: object) => notifySpecSchema.safeParse([{ ...base, ...channel }]);
    expect(refused({ password: 'inline' }).success).toBe(false);
    expect(refused({ smtp: 'smtp://user:pass@mail.example.com:587' }).success).toBe(false);
    expect(refused({ smtp: 'http://mail.example.com' }).success).toBe(false);
    const half = refused({ usernameEnv: 'SMTP_USER' });
    expect(half.success).toBe(false);
    expect(half.error!.message).toContain('usernameEnv and passwordEnv go together');
    expect(refused({ smtp: 'smtps://mail.example.com', starttls: true }).error!.message).toContain('starttls applies to smtp:// only');
    expect(refused({ to: ['not an address'] }).success).toBe(false);
    expect(refused({ to: [] }).success).toBe(false);
  });
});

/** Through a real workflow on the run's Temporal server: the serving alert's flag reaches the SMTP server with AUTH. */
describe('an email flag raised by a workflow', () => {
  let env: TestEnv;
  const USER_VAR = 'MLOPS_TEST_WF_SMTP_USER';
  const PASSWORD_VAR = 'MLOPS_TEST_WF_SMTP_PASSWORD';

  beforeAll(async () => {
    // The in-process worker reads the credentials from its environment at delivery time.
    process.env[USER_VAR] = USER;
    process.env[PASSWORD_VAR] = PASSWORD;
    env = await startTestEnv('notify-email', { MLOPS_WEB_UI_URL: 'http://ui.test:8233' });
  });

  afterAll(async () => {
    await env?.shutdown();
    delete process.env[USER_VAR];
    delete process.env[PASSWORD_VAR];
  });

  it('a serving alert is one email with the acknowledge command and the link; the password is in no history', async () => {
    const model = 'notify-mail';
    const notify = [{ kind: 'email', smtp: authed.url, from: 'mlops@example.test', to: ['ana@example.test'], usernameEnv: USER_VAR, passwordEnv: PASSWORD_VAR }];
    const text = JSON.stringify({ apiVersion: 'mlops/v1', kind: 'Model', name: model, notify });
    await applySpec(env.client, env.config, env.store, { spec: parseSpec(text, `${model}.json`), source: `${model}.json`, text, baseDir: env.inputDir });
    const handle = await env.client.workflow.start('servingAlert', {
      taskQueue: env.config.taskQueue,
      workflowId: `score:${model}:online-1`,
      args: [{ model, runId: 'online-1', modelVersion: 'v1', alert: 'flagged share 0.4 above 0.1 in the last 200 predictions' }],
    });
    const deliveryId = `score:${model}:online-1/serving-alert/1`;
    const mine = () => authed.received().filter((m) => m.headers['x-mlops-delivery-id'] === deliveryId);
    const mail = await until('the email', async () => mine()[0], { timeoutMs: 40_000 });
    expect(mail.subject).toContain(`[serving-alert] ${model}:`);
    expect(mail.text).toContain(`mlops acknowledge ${model} online-1 --reason "…"`);
    expect(mail.text).toContain(`http://ui.test:8233/namespaces/default/workflows/score%3A${model}%3Aonline-1`);
    await acknowledgeAlert(env.client, { model, runId: 'online-1', by: 'ana', reason: 'seen' });
    expect(await handle.result()).toMatchObject({ phase: 'done' });
    expect(mine()).toHaveLength(1);
    expect(JSON.stringify(await handle.fetchHistory())).not.toContain(PASSWORD);
  }, 60_000);
});
