import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTraining } from '../src/client/train';
import { ConfigError, loadConfig } from '../src/config';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, parsePayloadKey } from '../src/temporal/codec';
import { type CodecServer, startCodecServer } from '../src/temporal/codec-server';
import { CANARY_SECRET, type TestEnv, startTestEnv } from './helpers/env';
import { rootFailure } from './helpers/failures';
import { payloadsOf } from './helpers/histories';
import { ingestChurn } from './helpers/training';

const newKey = () => randomBytes(32).toString('base64');
const KEY = newKey();
const UI = 'http://localhost:8233';
const json = (value: unknown): Payload => ({
  metadata: { encoding: new TextEncoder().encode('json/plain') },
  data: new TextEncoder().encode(JSON.stringify(value)),
});
const text = (b: Uint8Array | null | undefined) => new TextDecoder().decode(b ?? new Uint8Array());
const CORE_MARKER_DETAILS = /^\{"id":"[a-z0-9-]+","deprecated":(true|false)\}$|^\{"seq":\d+,"attempt":\d+,"activity_id":"\d+","activity_type":"[A-Za-z]+","complete_time":/;

describe('AES-256-GCM payload codec', () => {
  const codec = new AesGcmPayloadCodec(parsePayloadKey(KEY));

  it('round-trips payloads, hiding data and metadata, with a fresh IV each time', async () => {
    const original = json({ dataset: 'churn', columns: ['secret_column'] });
    const [a] = await codec.encode([original]);
    const [b] = await codec.encode([original]);
    expect(text(a!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(a!.data!).toString('latin1')).not.toContain('secret_column');
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
    const [decoded] = await codec.decode([a!]);
    expect(text(decoded!.data)).toBe(text(original.data));
    expect(text(decoded!.metadata!.encoding)).toBe('json/plain');
  });

  it('refuses altered, truncated or foreign-key payloads with a clear error; passes plain ones through', async () => {
    const [sealed] = await codec.encode([json({ a: 1 })]);
    const altered = { ...sealed!, data: Uint8Array.from(sealed!.data!, (v, i) => (i === 20 ? v ^ 1 : v)) };
    await expect(codec.decode([altered])).rejects.toThrow(/failed authentication: it was altered or corrupted/);
    await expect(codec.decode([{ ...sealed!, data: sealed!.data!.subarray(0, 10) }])).rejects.toThrow(/truncated/);
    const other = new AesGcmPayloadCodec(parsePayloadKey(newKey()));
    await expect(other.decode([sealed!])).rejects.toThrow(/encrypted with key [0-9a-f]{16}, which is neither MLOPS_PAYLOAD_KEY/);
    const plain = json({ written: 'before encryption was switched on' });
    expect(await codec.decode([plain])).toEqual([plain]);
  });

  it('keeps decoding after a key rotation through the previous keys', async () => {
    const [old] = await codec.encode([json({ v: 1 })]);
    const rotated = new AesGcmPayloadCodec(parsePayloadKey(newKey()), [parsePayloadKey(KEY)]);
    expect(text((await rotated.decode([old!]))[0]!.data)).toBe('{"v":1}');
    const config = loadConfig({ MLOPS_PAYLOAD_KEY: newKey(), MLOPS_PAYLOAD_PREVIOUS_KEYS: `${KEY},${newKey()}` });
    expect(config.payloadEncryption?.previousKeys).toHaveLength(2);
  });

  it('rejects bad key settings at startup, naming the variable and how to make a key', () => {
    expect(() => loadConfig({ MLOPS_PAYLOAD_KEY: 'short' })).toThrow(ConfigError);
    expect(() => loadConfig({ MLOPS_PAYLOAD_KEY: randomBytes(16).toString('base64') })).toThrow(/MLOPS_PAYLOAD_KEY must be 32 random bytes.*openssl rand -base64 32/);
    expect(() => loadConfig({ MLOPS_PAYLOAD_KEY: KEY, MLOPS_PAYLOAD_PREVIOUS_KEYS: 'nope' })).toThrow(/MLOPS_PAYLOAD_PREVIOUS_KEYS\[0\]/);
    expect(() => loadConfig({ MLOPS_PAYLOAD_PREVIOUS_KEYS: KEY })).toThrow(/without MLOPS_PAYLOAD_KEY/);
    expect(loadConfig({}).payloadEncryption).toBeUndefined();
  });
});

describe("the codec server's access rules", () => {
  const codec = new AesGcmPayloadCodec(parsePayloadKey(KEY));
  const decode = (url: string, headers: Record<string, string> = {}) =>
    fetch(`${url}/decode`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify({ payloads: [] }) });

  it('refuses to listen beyond loopback without a token', async () => {
    for (const ip of ['0.0.0.0', '::']) {
      await expect(startCodecServer({ codec, ip, port: 0, allowedOrigins: [UI] })).rejects.toThrow(
        new RegExp(`Refusing to serve the codec on ${ip.replace(/\./g, '\\.')} without a token: anyone who reaches it can decrypt every payload\\. Set MLOPS_CODEC_TOKEN`),
      );
    }
    // With a token it may: every request must then carry it.
    const open = await startCodecServer({ codec, ip: '0.0.0.0', port: 0, allowedOrigins: [UI], token: 'a-long-enough-token' });
    try {
      const port = new URL(open.url).port;
      expect((await decode(`http://127.0.0.1:${port}`)).status).toBe(401);
      expect((await decode(`http://127.0.0.1:${port}`, { Authorization: 'Bearer a-long-enough-token' })).status).toBe(200);
    } finally {
      await open.close();
    }
  });

  it('asks every request for the token when one is set, with or without an Origin', async () => {
    const server = await startCodecServer({ codec, port: 0, allowedOrigins: [UI], token: 'the-token-123' });
    try {
      expect((await decode(server.url)).status).toBe(401);
      expect((await decode(server.url, { Origin: UI })).status).toBe(401);
      expect((await decode(server.url, { Authorization: 'Bearer the-token-123' })).status).toBe(200);
      expect((await decode(server.url, { Origin: UI, Authorization: 'Bearer the-token-123' })).status).toBe(200);
      expect((await decode(server.url, { Origin: 'http://evil.example', Authorization: 'Bearer the-token-123' })).status).toBe(403);
    } finally {
      await server.close();
    }
  });

  it('on loopback without a token, answers local programs and the allowed Web UI origins only', async () => {
    const server = await startCodecServer({ codec, port: 0, allowedOrigins: [UI] });
    try {
      expect((await decode(server.url)).status).toBe(200);
      expect((await decode(server.url, { Origin: UI })).status).toBe(200);
      // A page elsewhere (or a DNS-rebinding one) is a browser with its own Origin.
      expect((await decode(server.url, { Origin: 'http://evil.example' })).status).toBe(403);
    } finally {
      await server.close();
    }
  });
});

describe('an encrypted deployment', () => {
  let env: TestEnv;
  let rawClient: Client;
  let server: CodecServer;
  const token = randomBytes(16).toString('hex');

  beforeAll(async () => {
    // As a deployed worker holds it: in its environment (this file runs in its own process).
    process.env.MLOPS_PAYLOAD_KEY = KEY;
    env = await startTestEnv('codec', { MLOPS_PAYLOAD_KEY: KEY, MLOPS_TRAINER_COMMANDS: 'sh' });
    // What the server, its database and a Web UI without the codec see.
    rawClient = new Client({ connection: await Connection.connect({ address: inject('temporalAddress') }) });
    const { key, previousKeys } = env.config.payloadEncryption!;
    server = await startCodecServer({ codec: new AesGcmPayloadCodec(key, previousKeys), allowedOrigins: [UI], token });
  });
  afterAll(async () => {
    await server?.close();
    await rawClient?.connection.close();
    await env?.shutdown();
  });

  it('runs ingest and training with only ciphertext in the stored histories', async () => {
    const ref = await ingestChurn(env);
    expect(ref.rows.accepted).toBe(4000);
    const trained = await (await startTraining(env.client, env.config, { model: 'sealed', dataset: 'churn', trainer: { kind: 'logistic', params: {} } })).result();
    expect(trained.summary.model).toBe('sealed');

    let checked = 0;
    for await (const wf of rawClient.workflow.list({ query: `TaskQueue = "${env.config.taskQueue}"` })) {
      const history = await rawClient.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      for (const payload of payloadsOf(history)) {
        checked++;
        // The SDK's core writes some marker details itself, past the codec: a patch's name (`patched()`)
        // and a local activity's bookkeeping (type, attempt, times); its result is encrypted like any payload.
        if (text(payload.metadata?.encoding) === 'json/plain' && CORE_MARKER_DETAILS.test(text(payload.data))) continue;
        expect(text(payload.metadata?.encoding), `${wf.workflowId}`).toBe(ENCRYPTED_ENCODING);
        // The label column's name is in the ingest and training inputs, never readable at rest.
        expect(Buffer.from(payload.data!).toString('latin1')).not.toContain('churned');
      }
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('serves the codec protocol to the Web UI: CORS for its origin, bearer token, clear errors', async () => {
    let ingestId = '';
    for await (const wf of rawClient.workflow.list({ query: `TaskQueue = "${env.config.taskQueue}" AND WorkflowType = "ingestDataset"` })) ingestId = wf.workflowId;
    const history = await rawClient.workflow.getHandle(ingestId).fetchHistory();
    const started = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads!;
    const body = JSON.stringify({
      payloads: started.map((p) => ({
        metadata: Object.fromEntries(Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
        data: Buffer.from(p.data!).toString('base64'),
      })),
    });
    const post = (route: string, init: { origin?: string; auth?: string; body?: string } = {}) =>
      fetch(`${server.url}${route}`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-Namespace': 'default',
          ...(init.origin ? { Origin: init.origin } : {}),
          ...(init.auth ? { Authorization: init.auth } : {}),
        },
        body: init.body ?? body,
      });

    const preflight = await fetch(`${server.url}/decode`, { method: 'OPTIONS', headers: { Origin: UI, 'Access-Control-Request-Method': 'POST' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(UI);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/);

    const decoded = await post('/decode', { origin: UI, auth: `Bearer ${token}` });
    expect(decoded.status).toBe(200);
    expect(decoded.headers.get('access-control-allow-origin')).toBe(UI);
    const [input] = ((await decoded.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> }).payloads;
    expect(Buffer.from(input!.metadata.encoding!, 'base64').toString()).toBe('json/plain');
    expect(JSON.parse(Buffer.from(input!.data, 'base64').toString())).toMatchObject({ dataset: 'churn', contract: { label: 'churned' } });

    // The CLI's templated form, and encode back to ciphertext.
    const reencoded = await post('/default/encode', { auth: `Bearer ${token}`, body: JSON.stringify({ payloads: [input] }) });
    const [sealed] = ((await reencoded.json()) as { payloads: Array<{ metadata: Record<string, string> }> }).payloads;
    expect(Buffer.from(sealed!.metadata.encoding!, 'base64').toString()).toBe(ENCRYPTED_ENCODING);

    expect((await post('/decode', { origin: 'http://evil.example', auth: `Bearer ${token}` })).status).toBe(403);
    expect((await post('/decode', { origin: UI })).status).toBe(401);
    expect((await post('/decode', { auth: 'Bearer wrong-token-of-same-len' })).status).toBe(401);
    const bad = await post('/decode', { auth: `Bearer ${token}`, body: '{"payloads":' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/not JSON/);
    expect((await post('/nope', { auth: `Bearer ${token}` })).status).toBe(404);
    expect((await fetch(`${server.url}/decode`)).status).toBe(405);
  });

  it('keeps worker secrets out of an external trainer and masks secret-looking values in its output', async () => {
    const failure = await rootFailure(
      (
        await startTraining(env.client, env.config, {
          model: 'leaky',
          dataset: 'churn',
          trainer: { kind: 'command', command: ['sh', '-c', 'echo "token=$MLOPS_TEST_CANARY_TOKEN key=[$MLOPS_PAYLOAD_KEY]"; exit 3'] },
        })
      ).result(),
    );
    expect(failure.type).toBe('TrainerFailed');
    expect(failure.message).toContain('token=*** key=[]');
    expect(failure.message).not.toContain(CANARY_SECRET);

    // The client decoded that message; at rest it is encrypted like any payload.
    let failed = 0;
    for await (const wf of rawClient.workflow.list({ query: `TaskQueue = "${env.config.taskQueue}" AND WorkflowId STARTS_WITH "train:leaky:"` })) {
      const history = await rawClient.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      const failures = history.events!.flatMap((e) => e.activityTaskFailedEventAttributes?.failure ?? e.workflowExecutionFailedEventAttributes?.failure ?? []);
      for (const f of failures) {
        failed++;
        expect(f.message).toBe('Encoded failure');
        expect(JSON.stringify(f)).not.toContain('exited with code 3');
      }
    }
    expect(failed).toBeGreaterThan(0);
  });
});
