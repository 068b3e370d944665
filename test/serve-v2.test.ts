import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPromotion } from '../src/client/promote';
import { startTraining } from '../src/client/train';
import { startModelServer, type ModelServer } from '../src/serving/http';
import { createPredictor, type PredictorEvent } from '../src/serving/predictor';
import { float32Number } from '../src/serving/v2';
import { quoteString } from '../src/sql/quote';
import { ingestChurnData } from './helpers/churn';
import { type TestEnv, startTestEnv } from './helpers/env';
import { until } from './helpers/wait';
import { sql } from './helpers/sql';

/** The Open Inference Protocol (v2) endpoint of `mlops serve`: columns in and out, JSON or binary. */
let env: TestEnv;
let server: ModelServer;
let version: string;
const MODEL = 'online-v2';
const TOKEN = 'v2-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const events: PredictorEvent[] = [];

interface Row {
  id: number;
  x1: number | null;
  x2: number | null;
  color: string;
}

const jsonInputs = (rows: readonly Row[]) => [
  { name: 'id', datatype: 'INT64', shape: [rows.length], data: rows.map((r) => r.id) },
  { name: 'x1', datatype: 'FP64', shape: [rows.length, 1], data: rows.map((r) => r.x1) },
  { name: 'x2', datatype: 'FP64', shape: [rows.length], data: rows.map((r) => r.x2) },
  { name: 'color', datatype: 'BYTES', shape: [rows.length], data: rows.map((r) => r.color) },
];

function bytesOf(values: string[]): Buffer {
  return Buffer.concat(values.flatMap((v) => [Buffer.from(Uint32Array.of(Buffer.byteLength(v)).buffer), Buffer.from(v)]));
}

/** The binary tensor extension: a JSON header, then each input's raw bytes (NaN for a missing float). */
function binaryBody(rows: readonly Row[], header: Record<string, unknown> = {}): { body: Buffer; headerLength: number } {
  const n = rows.length;
  const tensors: Array<[string, string, Buffer]> = [
    ['id', 'INT64', Buffer.from(BigInt64Array.from(rows, (r) => BigInt(r.id)).buffer)],
    ['x1', 'FP32', Buffer.from(Float32Array.from(rows, (r) => r.x1 ?? Number.NaN).buffer)],
    ['x2', 'FP32', Buffer.from(Float32Array.from(rows, (r) => r.x2 ?? Number.NaN).buffer)],
    ['color', 'BYTES', bytesOf(rows.map((r) => r.color))],
  ];
  const json = Buffer.from(
    JSON.stringify({
      inputs: tensors.map(([name, datatype, bytes]) => ({ name, datatype, shape: [n, 1], parameters: { binary_data_size: bytes.length } })),
      ...header,
    }),
  );
  return { body: Buffer.concat([json, ...tensors.map((t) => t[2])]), headerLength: json.length };
}

async function infer(
  body: unknown,
  headers: Record<string, string> = {},
  path = `/v2/models/${MODEL}/infer`,
): Promise<{ status: number; json: any; raw: Buffer; headers: Headers }> {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': Buffer.isBuffer(body) ? 'application/octet-stream' : 'application/json', ...AUTH, ...headers },
    body: Buffer.isBuffer(body) ? new Uint8Array(body) : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const raw = Buffer.from(await res.arrayBuffer());
  const headerLength = res.headers.get('inference-header-content-length');
  const json = JSON.parse(raw.subarray(0, headerLength ? Number(headerLength) : raw.length).toString('utf8'));
  return { status: res.status, json, raw: raw.subarray(headerLength ? Number(headerLength) : raw.length), headers: res.headers };
}

/** Binary outputs, in the order of the response header's outputs. */
function binaryOutputs(json: any, raw: Buffer): Record<string, Float32Array | string[]> {
  const out: Record<string, Float32Array | string[]> = {};
  let at = 0;
  for (const o of json.outputs) {
    const size = o.parameters.binary_data_size as number;
    const bytes = raw.subarray(at, at + size);
    at += size;
    if (o.datatype === 'FP32') out[o.name] = new Float32Array(new Uint8Array(bytes).buffer);
    else {
      const strings: string[] = [];
      for (let i = 0; i < bytes.length;) {
        const length = bytes.readUInt32LE(i);
        strings.push(bytes.toString('utf8', i + 4, i + 4 + length));
        i += 4 + length;
      }
      out[o.name] = strings;
    }
  }
  expect(at).toBe(raw.length);
  return out;
}

beforeAll(async () => {
  env = await startTestEnv('serve-v2');
  await ingestChurnData(env, { dataset: 'churn-train', rows: 4000 });
  const trained = await (await startTraining(env.client, env.config, { model: MODEL, dataset: 'churn-train', trainer: { kind: 'logistic', params: {} } })).result();
  version = trained.summary.version;
  const promoted = await (await startPromotion(env.client, env.config, { model: MODEL, gates: { thresholds: { rocAuc: { min: 0.5 } } } })).result();
  expect(promoted.phase).toBe('promoted');
  const predictor = await createPredictor({
    model: MODEL,
    store: env.store,
    client: env.client,
    taskQueue: env.config.taskQueue,
    alerts: false,
    log: { flushIntervalMs: 100 },
    onEvent: (e) => events.push(e),
  });
  server = await startModelServer({ predictor, model: MODEL, port: 0, token: TOKEN, bodyLimit: 64 * 1024 });
}, 180_000);
afterAll(async () => {
  await server?.close();
  await env?.shutdown();
});

describe('mlops serve: the Open Inference Protocol (v2)', () => {
  it('answers columns as the rows API does, in JSON at float32 precision and as binary tensors, and logs them', async () => {
    const live = await ingestChurnData(env, { dataset: 'churn-live', rows: 120, idOffset: 50_000, outliers: 4, unlabeled: true });
    const rows = (await sql<Row>(`SELECT id, x1, x2, color FROM read_parquet(${quoteString(live.snapshotUri)}) ORDER BY file_row_number`)).map((r) => ({
      ...r,
      id: Number(r.id),
    }));
    rows[5] = { ...rows[5]!, x1: null }; // a missing value: null in JSON, NaN in a binary tensor
    const byRows = await fetch(`${server.url}/v1/models/${MODEL}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...AUTH },
      body: JSON.stringify(rows),
    });
    const expected = ((await byRows.json()) as any).predictions as any[];

    const json = await infer({ id: 'req-json-1', inputs: jsonInputs(rows) });
    expect(json.status, JSON.stringify(json.json)).toBe(200);
    expect(json.json).toMatchObject({ model_name: MODEL, model_version: version, id: 'req-json-1' });
    const outputs = Object.fromEntries(json.json.outputs.map((o: any) => [o.name, o]));
    expect(Object.keys(outputs).sort()).toEqual(['contributions', 'flag', 'key', 'output', 'predicted_label', 'probabilities']);
    expect(outputs.probabilities.shape).toEqual([rows.length, 2]);
    const classes = JSON.parse(outputs.probabilities.parameters.classes) as string[];
    const columns = JSON.parse(outputs.contributions.parameters.columns) as string[];
    expect(outputs.contributions.shape).toEqual([rows.length, columns.length]);
    expect(expected.filter((p) => p.flag !== null).length).toBeGreaterThanOrEqual(4);
    expected.forEach((p, r) => {
      expect(outputs.key.data[r]).toBe(p.key);
      // float32 printed at float32 precision: the same float32 as the rows API's 17-digit double.
      expect(Math.fround(outputs.output.data[r])).toBe(p.output);
      expect(String(outputs.output.data[r]).replace(/^-?0\./, '').length).toBeLessThanOrEqual(12);
      expect(outputs.flag.data[r]).toBe(p.flag ?? '');
      expect(outputs.predicted_label.data[r]).toBe(p.predictedLabel);
      classes.forEach((c, k) => expect(Math.fround(outputs.probabilities.data[r * 2 + k])).toBe(p.probabilities[c]));
      columns.forEach((c, j) => expect(Math.fround(outputs.contributions.data[r * columns.length + j])).toBe(p.contributions[c]));
    });

    // The same rows as binary tensors, every output binary: the same float32 values, bit for bit.
    const { body, headerLength } = binaryBody(rows, { id: 'req-bin-1', parameters: { binary_data_output: true } });
    const binary = await infer(body, { 'inference-header-content-length': String(headerLength) });
    expect(binary.status, JSON.stringify(binary.json)).toBe(200);
    expect(binary.headers.get('content-type')).toMatch(/application\/octet-stream/);
    const decoded = binaryOutputs(binary.json, binary.raw);
    expect(decoded.key).toEqual(expected.map((p) => p.key));
    expect(Array.from(decoded.output as Float32Array)).toEqual(expected.map((p) => p.output));
    expect(decoded.flag).toEqual(expected.map((p) => p.flag ?? ''));
    expect(Array.from(decoded.contributions as Float32Array)).toEqual(expected.flatMap((p) => columns.map((c) => p.contributions[c])));

    // Only the outputs asked for, each in the form asked for.
    const some = await infer({ inputs: jsonInputs(rows.slice(0, 3)), outputs: [{ name: 'output' }, { name: 'key', parameters: { binary_data: true } }] });
    expect(some.json.outputs.map((o: any) => [o.name, o.data ? 'json' : 'binary'])).toEqual([
      ['output', 'json'],
      ['key', 'binary'],
    ]);
    expect(binaryOutputs({ outputs: some.json.outputs.filter((o: any) => !o.data) }, some.raw).key).toEqual(expected.slice(0, 3).map((p) => p.key));

    // Rows without their key columns are keyed by request id and index, in the answer and the log.
    const keyless = await infer({ id: 'req-nokey', inputs: jsonInputs(rows.slice(0, 2)).filter((i) => i.name !== 'id') });
    expect(keyless.json.outputs.find((o: any) => o.name === 'key').data).toEqual(['req-nokey/0', 'req-nokey/1']);

    // Every v2 prediction is in the online log, under its request id, with its key column.
    await until('the v2 requests in the online log', async () => ((server.predictor.status().log?.written ?? 0) >= rows.length * 3 + 5 ? true : undefined), {
      timeoutMs: 20_000,
    });
    expect(events.filter((e) => e.kind === 'log-failed')).toEqual([]);
    const dir = server.predictor.status().log!.dir;
    const logged = await sql<{ request_id: string; n: bigint; keys: bigint }>(
      `SELECT request_id, count(*) AS n, count(DISTINCT key) AS keys FROM read_parquet(${quoteString(`${dir}/*.parquet`)}) WHERE request_id LIKE 'req-%' GROUP BY request_id ORDER BY request_id`,
    );
    expect(logged.map((l) => [l.request_id, Number(l.n), Number(l.keys)])).toEqual([
      ['req-bin-1', rows.length, rows.length],
      ['req-json-1', rows.length, rows.length],
      ['req-nokey', 2, 2],
    ]);
    // The log holds what was answered: key, output, label, flag and the features as fed (NULL where missing).
    const binaryLog = await sql<{ key: string; output: number; predicted_label: string; flag: string | null; features: Record<string, unknown> }>(
      `SELECT key, output, predicted_label, flag, features FROM read_parquet(${quoteString(`${dir}/*.parquet`)}) WHERE request_id IN ('req-bin-1', 'req-nokey') ORDER BY row_number`,
    );
    expect(binaryLog.map((l) => [l.key, l.output, l.predicted_label, l.flag])).toEqual([
      ...expected.map((p) => [p.key, p.output, p.predictedLabel, p.flag]),
      ...expected.slice(0, 2).map((p, i) => [`req-nokey/${i}`, p.output, p.predictedLabel, p.flag]),
    ]);
    expect(binaryLog[5]!.features).toEqual({ x1: null, x2: Math.fround(rows[5]!.x2!), color: rows[5]!.color });
  });

  it('names every bad tensor and value with a 400 in the protocol’s error shape; misaddressed, unauthorized and oversized requests clearly', async () => {
    const rows: Row[] = [
      { id: 1, x1: 0.5, x2: 1, color: 'red' },
      { id: 2, x1: 0.1, x2: -1, color: 'red' },
    ];
    const inputs = jsonInputs(rows);
    const bad = await infer({
      inputs: [
        { ...inputs[0]! },
        { name: 'x1', datatype: 'FP64', shape: [2], data: [0.5, 'high'] },
        { name: 'colour', datatype: 'BYTES', shape: [2], data: ['red', 'red'] },
        { name: 'x2', datatype: 'FP64', shape: [2], data: [1, 2] },
      ],
    });
    expect(bad.status).toBe(400);
    expect(typeof bad.json.error).toBe('string');
    expect(bad.json.type).toBe('InvalidInput');
    expect(bad.json.issues).toEqual(
      expect.arrayContaining([
        { row: 0, field: 'colour', problem: expect.stringContaining('did you mean "color"') },
        { row: 0, field: 'color', problem: expect.stringMatching(/^missing/) },
        { row: 1, field: 'x1', problem: 'expected a number, got the string "high"' },
      ]),
    );
    // A binary tensor: NaN is a missing value, Infinity is refused, and so is a category never trained on.
    const hostile = binaryBody([
      { id: 1, x1: Number.POSITIVE_INFINITY, x2: 0, color: 'red' },
      { id: 2, x1: 0, x2: 0, color: 'purple' },
    ]);
    const refused = await infer(hostile.body, { 'inference-header-content-length': String(hostile.headerLength) });
    expect(refused.status).toBe(400);
    expect(refused.json.issues).toEqual([
      { row: 0, field: 'x1', problem: expect.stringContaining('finite number') },
      { row: 1, field: 'color', problem: expect.stringContaining('"purple" is not a category the model was trained on') },
    ]);

    const problems: Array<[unknown, Record<string, string>, RegExp]> = [
      ['{"inputs": [', {}, /not valid JSON/],
      [{ inputs: [] }, {}, /"inputs": one tensor per feature column/],
      [{ inputs: [{ ...inputs[0]!, shape: [2, 2] }] }, {}, /shape \[2,2\]: a feature column is \[rows\] or \[rows, 1\]/],
      [{ inputs: [inputs[0], { ...inputs[1]!, shape: [3] }] }, {}, /has 3 rows, the others 2/],
      [{ inputs: [inputs[0], inputs[0]] }, {}, /sent twice/],
      [{ inputs: inputs.map((i) => ({ ...i, shape: [0], data: [] })) }, {}, /no rows/],
      [{ inputs: [{ name: 'x1', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 8 } }] }, {}, /does not fit the 0 binary bytes/],
      [{ inputs, outputs: [{ name: 'shap' }] }, {}, /Output "shap" does not exist for this model; it has key, output/],
      [{ id: '../../etc', inputs }, {}, /request id/],
      [{ inputs: [{ name: 'x1', datatype: '__proto__', shape: [2], parameters: { binary_data_size: 0 } }] }, {}, /datatype __proto__ is not one of/],
      [{ inputs }, { 'inference-header-content-length': '99999' }, /Inference-Header-Content-Length is 99999/],
    ];
    for (const [body, headers, message] of problems) {
      const res = await infer(body, headers);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error).toMatch(message);
    }
    const fp16 = binaryBody(rows);
    const wrongType = Buffer.from(fp16.body.toString('latin1').replace('"FP32"', '"FP16"'), 'latin1');
    expect((await infer(wrongType, { 'inference-header-content-length': String(fp16.headerLength) })).json.error).toMatch(/datatype FP16 is not one of/);
    const wrongSize = binaryBody(rows);
    expect((await infer(wrongSize.body.subarray(0, wrongSize.body.length - 1), { 'inference-header-content-length': String(wrongSize.headerLength) })).json.error).toMatch(
      /length-prefixed strings|does not fit/,
    );

    expect((await infer({ inputs }, {}, `/v2/models/other/infer`)).status).toBe(404);
    const otherVersion = await infer({ inputs }, {}, `/v2/models/${MODEL}/versions/nope/infer`);
    expect(otherVersion.status).toBe(404);
    expect(otherVersion.json).toMatchObject({ type: 'VersionNotServed', error: expect.stringContaining(`production ${version} does`) });
    expect((await infer({ inputs }, {}, `/v2/models/${MODEL}/versions/${version}/infer`)).status).toBe(200);
    expect((await infer({ inputs }, { authorization: 'Bearer wrong' })).status).toBe(401);
    const big = await infer({ inputs: [{ name: 'x1', datatype: 'FP64', shape: [20_000], data: new Array(20_000).fill(0.123456) }] });
    expect(big.status).toBe(413);
    expect(big.json.error).toMatch(/larger than this server's limit/);

    // An INT64 id beyond 2^53 would be rounded into another row's key: refused.
    const huge = binaryBody(rows);
    const at = huge.body.indexOf(Buffer.from(BigInt64Array.of(1n).buffer), huge.headerLength);
    huge.body.writeBigInt64LE(2n ** 53n + 1n, at);
    expect((await infer(huge.body, { 'inference-header-content-length': String(huge.headerLength) })).json.error).toMatch(/row 0: 9007199254740993 is beyond ±2\^53/);

    // Probes are open (with a query string too); metadata names the tensors a client must send and gets back.
    expect(await (await fetch(`${server.url}/v2/health/live`)).json()).toEqual({ live: true });
    expect((await fetch(`${server.url}/v2/health/ready?verbose=1`)).status).toBe(200);
    expect(await (await fetch(`${server.url}/v2`, { headers: AUTH })).json()).toMatchObject({
      name: 'mlops serve',
      version: expect.any(String),
      extensions: ['binary_tensor_data'],
    });
    expect((await fetch(`${server.url}/v2/models/${MODEL}/versions/${version}/ready`, { headers: AUTH })).status).toBe(200);
    expect((await fetch(`${server.url}/v2/models/${MODEL}/versions/other/ready`, { headers: AUTH })).status).toBe(503);
    expect((await fetch(`${server.url}/v2/models/${MODEL}/versions/other`, { headers: AUTH })).status).toBe(404);
    expect(await (await fetch(`${server.url}/v2/health/ready`)).json()).toEqual({ ready: true });
    const metadata = (await (await fetch(`${server.url}/v2/models/${MODEL}`, { headers: AUTH })).json()) as any;
    expect(metadata).toMatchObject({ name: MODEL, versions: [version], platform: 'onnxruntime_onnx' });
    expect(metadata.inputs.map((i: any) => [i.name, i.datatype])).toEqual(
      expect.arrayContaining([
        ['x1', 'FP32'],
        ['color', 'BYTES'],
      ]),
    );
    expect(metadata.outputs.map((o: any) => o.name)).toContain('contributions');
    // The key columns are optional inputs, typed as the contract types them.
    expect(JSON.parse(metadata.parameters.optional_inputs)).toEqual([{ name: 'id', datatype: 'INT64', shape: [-1, 1] }]);
    expect(await (await fetch(`${server.url}/v2/models/${MODEL}/versions/${version}`, { headers: AUTH })).json()).toEqual(metadata);
  });

  it('logs a request that only partly fits the full log under the keys its answer gave', async () => {
    const predictor = await createPredictor({ model: MODEL, store: env.store, client: env.client, taskQueue: env.config.taskQueue, alerts: false, log: { maxBufferedRows: 1 } });
    const small = await startModelServer({ predictor, model: MODEL, port: 0 });
    try {
      const res = await fetch(`${small.url}/v2/models/${MODEL}/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          id: 'req-partial',
          inputs: jsonInputs([
            { id: 1, x1: 0.1, x2: 0.2, color: 'red' },
            { id: 2, x1: 0.3, x2: 0.4, color: 'red' },
            { id: 3, x1: 0.5, x2: 0.6, color: 'red' },
          ]).filter((i) => i.name !== 'id'),
        }),
      });
      expect(res.status).toBe(200);
      await small.close(); // flushes what the log holds
      const status = predictor.status().log!;
      expect([status.written, status.dropped]).toEqual([1, 2]);
      const logged = await sql<{ key: string }>(`SELECT key FROM read_parquet(${quoteString(`${status.dir}/*.parquet`)}) ORDER BY row_number`);
      expect(logged.map((l) => l.key)).toEqual(['req-partial/0']); // not 'req-partial': its answer had 3 rows
    } finally {
      await small.close().catch(() => undefined);
    }
  });

  it('prints each float32 with the fewest digits that read back as the same float32', () => {
    for (const v of [0.1, 1 / 3, 123456.789, 1e-30, -2.5e10, 0.49999997]) {
      const f = Math.fround(v);
      const printed = float32Number(f)!;
      expect(Math.fround(printed)).toBe(f);
      expect(Number(printed.toPrecision(9))).toBe(printed); // at most 9 significant digits
    }
    expect(float32Number(Math.fround(0.1))).toBe(0.1);
    expect(float32Number(Number.NaN)).toBeNull();
  });
});
