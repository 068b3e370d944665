import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTraining } from '../src/client/train';
import { LineMasker, redactSecrets, secretValues } from '../src/secrets';
import { type TestEnv, startTestEnv } from './helpers/env';
import { rootFailure } from './helpers/failures';
import { auditHistories } from './helpers/histories';
import { ingestChurn } from './helpers/training';
import { spawnWorker, stopWorker } from './helpers/worker-process';

/**
 * Secrets masked by value, wherever output is kept: a password inside a URL in a variable whose
 * name looks harmless reached plaintext histories, worker logs and the server's database, and a
 * kept trainer.log held an AWS-style secret unmasked.
 */
const python = inject('sklearnPython');
const TRAIN_PY = path.resolve(__dirname, '..', 'examples', 'sklearn-trainer', 'train.py');
const DB_PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
const AWS_SECRET = randomBytes(30).toString('base64').slice(0, 40);
const UPSTREAM_PASSWORD = `hunter-${randomBytes(5).toString('hex')}`;
const SECRET_ENV = {
  DB_URL_WITH_PASS: `postgres://u:${DB_PASSWORD}@db.example:5432/x`,
  AWS_SECRET_ACCESS_KEY: AWS_SECRET,
  // A harmless name: only the URL's shape gives the password away.
  UPSTREAM: `https://svc:${UPSTREAM_PASSWORD}@api.example/v1`,
};
const SECRETS = [DB_PASSWORD, AWS_SECRET, UPSTREAM_PASSWORD];

describe('masking by value and by shape', () => {
  const env = {
    PATH: '/usr/bin',
    HOME: '/root',
    PWD: '/work/project',
    OLDPWD: '/work',
    SSH_AUTH_SOCK: '/tmp/ssh-x/agent.1',
    TEMPORAL_TLS_KEY_PATH: '/etc/tls/client.key',
    ...SECRET_ENV,
    SHORT_TOKEN: 'abc',
    MODE_PASS: 'enabled',
  };

  it('finds the values to mask in the environment', () => {
    const values = secretValues(env);
    expect(values).toEqual(expect.arrayContaining([SECRET_ENV.DB_URL_WITH_PASS, DB_PASSWORD, AWS_SECRET, UPSTREAM_PASSWORD, 'enabled']));
    // Where things are is not a secret: masking cwd or a key's path would garble every message.
    for (const place of ['/root', '/work/project', '/work', '/tmp/ssh-x/agent.1', '/etc/tls/client.key']) expect(values).not.toContain(place);
    expect(values).not.toContain('abc'); // too short to mask without masking ordinary words
  });

  it('masks URL credentials, known secret shapes and env values in any text, and leaves the rest', () => {
    const text = [
      `connecting to postgres://u:${DB_PASSWORD}@db.example:5432/x`,
      `aws ${AWS_SECRET}`,
      'key id AKIAIOSFODNN7EXAMPLE',
      'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
      'DB_PASSWORD=s3cr3t-value and token: abcd1234efgh',
      'ghp_0123456789abcdefghijklmnopqrstuvwxyz01 xoxb-1234567890-abcdefghij',
      '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabcdef\n-----END RSA PRIVATE KEY-----',
      'plain https://example.com/a@b and epoch 3 loss 0.25, user@example.com',
    ].join('\n');
    const masked = redactSecrets(text, env);
    for (const secret of [
      DB_PASSWORD,
      AWS_SECRET,
      'AKIAIOSFODNN7EXAMPLE',
      'wJalrXUtnFEMI',
      'eyJhbGci',
      's3cr3t-value',
      'abcd1234efgh',
      'ghp_0123',
      'xoxb-1234',
      'MIIEowIBAAKCAQEA',
      'abcdef',
    ]) {
      expect(masked, secret).not.toContain(secret);
    }
    // The whole value of a variable whose name looks secret; a password in any other URL.
    expect(masked).toContain('connecting to ***\n');
    expect(redactSecrets('see postgres://app:letmein99@db/x', env)).toBe('see postgres://app:***@db/x');
    expect(redactSecrets('raw redis://:p@ss@cache:6379 and mail to a@b.example', env)).toBe('raw redis://:***@cache:6379 and mail to a@b.example');
    expect(masked).toContain('-----BEGIN RSA PRIVATE KEY-----***-----END RSA PRIVATE KEY-----');
    expect(masked).toContain('plain https://example.com/a@b and epoch 3 loss 0.25, user@example.com');
  });

  it('masks a private key spread over lines of a stream', () => {
    const masker = new LineMasker(env);
    const lines = ['start', '-----BEGIN PRIVATE KEY-----', 'MIIEvQIBADANBgkq', 'hkiG9w0BAQEFAASC', '-----END PRIVATE KEY-----', 'after'].map((l) => masker.line(l));
    expect(lines).toEqual(['start', '-----BEGIN PRIVATE KEY-----***', '***', '***', '***-----END PRIVATE KEY-----', 'after']);
  });
});

describe("secrets in a worker's environment", () => {
  let env: TestEnv;
  const saved: Record<string, string | undefined> = {};
  beforeAll(async () => {
    // As a deployed worker holds them: in its environment (this file runs in its own process).
    for (const [k, v] of Object.entries(SECRET_ENV)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    env = await startTestEnv('secrets', { MLOPS_TRAINER_COMMANDS: `${python}:sh` });
    await ingestChurn(env);
  });
  afterAll(async () => {
    await env?.shutdown();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  const leaky = `echo "db=$DB_URL_WITH_PASS upstream=$UPSTREAM"; echo "aws=$AWS_SECRET_ACCESS_KEY"`;

  it('never reach a failure message or a history', async () => {
    const failure = await rootFailure(
      (await startTraining(env.client, env.config, { model: 'leaky', dataset: 'churn', trainer: { kind: 'command', command: ['sh', '-c', `${leaky}; exit 3`] } })).result(),
    );
    expect(failure.type).toBe('TrainerFailed');
    expect(failure.message).toContain('db=*** upstream=https://svc:***@api.example/v1');
    expect(failure.message).toContain('aws=***');
    const audit = await auditHistories(env.client, env.config.taskQueue, SECRETS);
    expect(audit.workflows).toBeGreaterThan(0);
    expect(audit.problems).toEqual([]);
  });

  it('never reach a kept trainer.log', async () => {
    const trained = await (
      await startTraining(env.client, env.config, {
        model: 'logged',
        dataset: 'churn',
        trainer: { kind: 'command', command: ['sh', '-c', `${leaky}; exec '${python}' '${TRAIN_PY}'`] },
      })
    ).result();
    const log = fs.readFileSync(path.join(path.dirname(trained.summary.cardUri), 'trainer.log'), 'utf8');
    expect(log).toContain('aws=***');
    expect(log).toContain('db=*** upstream=https://svc:***@api.example/v1');
    for (const secret of SECRETS) expect(log).not.toContain(secret);
  });

  it('never reach the log of a worker process', async () => {
    const taskQueue = `secrets-${randomBytes(4).toString('hex')}`;
    const worker = spawnWorker({ ...env.config, taskQueue }, taskQueue, { MLOPS_TRAINER_COMMANDS: 'sh', ...SECRET_ENV });
    try {
      const failure = await rootFailure(
        (
          await startTraining(
            env.client,
            { ...env.config, taskQueue },
            { model: 'logged-worker', dataset: 'churn', trainer: { kind: 'command', command: ['sh', '-c', `${leaky}; exit 4`] } },
          )
        ).result(),
      );
      expect(failure.message).toContain('exited with code 4');
      // The worker logged the failed activity (that is where the secret used to show up).
      expect(worker.output()).toMatch(/exited with code 4/);
      for (const secret of SECRETS) expect(worker.output()).not.toContain(secret);
    } finally {
      await stopWorker(worker.child);
    }
  });
});
