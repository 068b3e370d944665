import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Contract } from '../contract/schema';
import type { ModelCard } from '../models/card';
import { type ColumnValues, PredictionInputError } from './input';
import type { ServingMetrics } from './metrics';
import { notReady, type Predictor, ServingError, versionNotServed } from './predictor';
import type { ScoredBatch } from './scored';

/**
 * The Open Inference Protocol (KServe v2, the protocol Triton, KServe, Seldon MLServer and
 * OpenVINO Model Server speak), on the same predictor as the rows API: columns in, columns out,
 * so many rows cost no object per row or field on either side.
 *
 *   GET  /v2/health/live, /v2/health/ready      probes (open without a token)
 *   GET  /v2/models/<model>                     metadata: input and output tensors
 *   GET  /v2/models/<model>/ready
 *   POST /v2/models/<model>[/versions/<v>]/infer
 *
 * Inputs: one tensor per feature column, shape [n] or [n, 1], values in `data` (JSON: numbers,
 * null for a missing value, strings for categoricals, true/false for booleans) or binary (the
 * protocol's binary tensor extension: `Inference-Header-Content-Length` bytes of JSON header,
 * then each input's raw little-endian bytes; NaN in a float tensor is a missing value, ±Infinity
 * is refused). Outputs: `key`, `output`, `flag` ('' when in range), `predicted_label` and
 * `probabilities` [n, classes] for classifiers, `contributions` [n, columns] when the model has
 * them. Floats in JSON are printed at float32 precision (what the model computes), not as
 * 17-digit doubles; `binary_data_output` (or `binary_data` per output) sends raw float32 instead.
 *
 * Errors follow the protocol: `{ "error": "<message>" }`, plus our `type` and `issues` (each bad
 * field named) for callers who read them.
 */
export interface InferenceProtocolOptions {
  predictor: Predictor;
  model: string;
  maxRows: number;
  metrics: ServingMetrics;
}

export const V2_OPEN_PATHS = new Set(['/v2/health/live', '/v2/health/ready']);
/** The server's version in `GET /v2`: this package's. */
const SERVER_VERSION: string = (require('../../package.json') as { version: string }).version;
const HEADER_LENGTH = 'inference-header-content-length';

interface TensorRequest {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: Record<string, unknown>;
  data?: unknown;
}

interface InferRequest {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: TensorRequest[];
  outputs?: Array<{ name: string; parameters?: Record<string, unknown> }>;
}

interface TensorResponse {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: Record<string, string | number | boolean>;
  data?: unknown[];
}

/** A bad request that is not about a row's value (malformed header, sizes, shapes): HTTP 400. */
class InferenceRequestError extends Error {
  readonly type = 'InvalidInferenceRequest';
}

const fail = (message: string): never => {
  throw new InferenceRequestError(message);
};

const ELEMENT_BYTES: Record<string, number> = { BOOL: 1, UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, UINT32: 4, INT32: 4, INT64: 8, FP32: 4, FP64: 8 };

export function registerInferenceProtocol(app: FastifyInstance, options: InferenceProtocolOptions): void {
  const { predictor, model, maxRows, metrics } = options;
  const modelPath = `/v2/models/${encodeURIComponent(model)}`;

  // Its own context: bodies arrive as bytes (JSON or the binary extension), errors in the protocol's shape.
  void app.register(async (v2) => {
    v2.removeAllContentTypeParsers();
    v2.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    v2.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _request, reply) => {
      const status =
        err instanceof PredictionInputError || err instanceof InferenceRequestError
          ? 400
          : err instanceof ServingError
            ? err.status
            : err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
              ? 413
              : (err.statusCode ?? 500);
      const type = (err as { type?: string }).type ?? (status === 413 ? 'PayloadTooLarge' : status < 500 ? 'BadRequest' : 'InternalError');
      const message =
        status === 413 ? "The request body is larger than this server's limit; send fewer rows per request, or start the server with a larger --body-limit" : err.message;
      return reply.code(status).send({ error: message, type, ...(err instanceof PredictionInputError ? { issues: err.issues } : {}) });
    });

    v2.get('/v2/health/live', async () => ({ live: true }));
    v2.get('/v2/health/ready', async (_request, reply) => {
      const ready = predictor.status().ready;
      return reply.code(ready ? 200 : 503).send({ ready });
    });
    v2.get('/v2', async () => ({ name: 'mlops serve', version: SERVER_VERSION, extensions: ['binary_tensor_data'] }));

    const served = (asked: string) => {
      if (asked !== model) throw Object.assign(new Error(`This server serves model "${model}" (${modelPath}), not "${asked}"`), { statusCode: 404, type: 'ModelNotServed' });
    };
    // With /versions/<v>: about that version, which is ready only while it is the one serving.
    const ready = async (request: FastifyRequest, reply: FastifyReply) => {
      const { model: asked, version } = request.params as { model: string; version?: string };
      served(asked);
      const serving = predictor.status().version;
      const isReady = serving !== null && (version === undefined || version === serving);
      return reply.code(isReady ? 200 : 503).send({ name: model, ...(version !== undefined ? { version } : {}), ready: isReady });
    };
    v2.get('/v2/models/:model/ready', ready);
    v2.get('/v2/models/:model/versions/:version/ready', ready);
    const metadata = async (request: FastifyRequest) => {
      const { model: asked, version } = request.params as { model: string; version?: string };
      served(asked);
      const serving = predictor.serving();
      if (!serving) throw notReady(`Model ${model} has no production version loaded yet`);
      if (version !== undefined && version !== serving.card.version) {
        throw versionNotServed(`Version ${version} of ${model} does not serve here; production ${serving.card.version} does`);
      }
      return modelMetadata(serving.card, serving.contract);
    };
    v2.get('/v2/models/:model', metadata);
    v2.get('/v2/models/:model/versions/:version', metadata);

    const infer = async (request: FastifyRequest, reply: FastifyReply) => {
      const params = request.params as { model: string; version?: string };
      served(params.model);
      const body = Buffer.isBuffer(request.body) ? request.body : fail('Send the request as JSON, or as the binary tensor extension (Inference-Header-Content-Length)');
      const { header, binary } = splitBody(body, request.headers[HEADER_LENGTH]);
      const parsed = parseHeader(header);
      const { rows, columns } = decodeInputs(parsed, binary, maxRows);
      const requestId = requestIdOf(parsed.id, request.headers['x-request-id']);
      const routing = typeof parsed.parameters?.routing_key === 'string' ? parsed.parameters.routing_key : request.headers['x-routing-key'];
      const routingKey = typeof routing === 'string' && routing.length > 0 && routing.length <= 200 ? routing : undefined;
      const {
        batch,
        modelVersion,
        requestId: id,
      } = await predictor.predictBatch(
        { rows, columns },
        { ...(requestId ? { requestId } : {}), ...(routingKey ? { routingKey } : {}), ...(params.version !== undefined ? { version: params.version } : {}) },
      );
      metrics.observePredictions(modelVersion, batch);
      const outputs = selectOutputs(batch, parsed);
      const head = { model_name: model, model_version: modelVersion, id, outputs: outputs.map((o) => o.tensor) };
      const binaries = outputs.filter((o) => o.binary).map((o) => o.binary!);
      if (binaries.length === 0) return head;
      const json = Buffer.from(JSON.stringify(head));
      reply.header('Inference-Header-Content-Length', String(json.length));
      reply.type('application/octet-stream');
      return Buffer.concat([json, ...binaries]);
    };
    v2.post('/v2/models/:model/infer', infer);
    v2.post('/v2/models/:model/versions/:version/infer', infer);
  });
}

function splitBody(body: Buffer, headerLength: unknown): { header: Buffer; binary: Buffer } {
  if (headerLength === undefined) return { header: body, binary: body.subarray(body.length) };
  const n = Number(headerLength);
  if (!Number.isInteger(n) || n < 0 || n > body.length)
    fail(`Inference-Header-Content-Length is ${String(headerLength)}: it must be the JSON header's length in bytes (0 to ${body.length})`);
  return { header: body.subarray(0, n), binary: body.subarray(n) };
}

function parseHeader(header: Buffer): InferRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(header.toString('utf8'));
  } catch (err) {
    fail(`The inference request is not valid JSON: ${(err as Error).message}`);
  }
  const request = parsed as InferRequest;
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray(request.inputs) || request.inputs.length === 0) {
    fail('An inference request is a JSON object with "inputs": one tensor per feature column ({ "name", "shape", "datatype", "data" })');
  }
  if (request.outputs !== undefined && !Array.isArray(request.outputs)) fail('"outputs", when given, is an array of { "name" }');
  return request;
}

function requestIdOf(id: unknown, header: unknown): string | undefined {
  const given = id ?? header;
  if (given === undefined) return undefined;
  if (typeof given !== 'string' || !/^[\w.:-]{1,100}$/.test(given)) fail('The request id ("id" or X-Request-Id) is 1 to 100 letters, digits, "_", ".", ":" or "-"');
  return given as string;
}

/** Every input tensor as a column of `rows` values; binary ones taken from `binary` in order. */
function decodeInputs(request: InferRequest, binary: Buffer, maxRows: number): { rows: number; columns: Map<string, ColumnValues> } {
  const columns = new Map<string, ColumnValues>();
  let rows: number | undefined;
  let at = 0;
  for (const tensor of request.inputs) {
    const name = typeof tensor?.name === 'string' ? tensor.name : fail('Every input tensor needs a "name" (the feature column)');
    if (columns.has(name)) fail(`Input "${name}" is sent twice`);
    const shape = tensor.shape;
    if (!Array.isArray(shape) || shape.length < 1 || shape.length > 2 || !shape.every((d) => Number.isInteger(d) && d >= 0) || (shape.length === 2 && shape[1] !== 1)) {
      fail(`Input "${name}" has shape ${JSON.stringify(shape)}: a feature column is [rows] or [rows, 1]`);
    }
    const n = shape[0]!;
    if (rows !== undefined && n !== rows) fail(`Input "${name}" has ${n} rows, the others ${rows}: every column needs one value per row`);
    rows = n;
    const datatype = tensor.datatype;
    const size = tensor.parameters?.binary_data_size;
    if (size !== undefined) {
      if (!Number.isInteger(size) || (size as number) < 0 || at + (size as number) > binary.length) {
        fail(`Input "${name}": binary_data_size ${String(size)} does not fit the ${binary.length - at} binary bytes left in the request`);
      }
      columns.set(name, decodeBinary(name, datatype, n, binary.subarray(at, at + (size as number))));
      at += size as number;
    } else {
      const data = Array.isArray(tensor.data) ? (tensor.data.flat(2) as unknown[]) : fail(`Input "${name}" has no "data" (nor parameters.binary_data_size)`);
      if (datatype === 'FP16') fail(`Input "${name}": FP16 is not supported; send FP32`);
      columns.set(name, data);
    }
  }
  if (at !== binary.length) fail(`The request has ${binary.length - at} binary bytes that no input's binary_data_size accounts for`);
  if (!rows) fail('The request has no rows (every input has shape [0])');
  if (rows! > maxRows) fail(`At most ${maxRows} rows per request (${rows} sent); split the request`);
  return { rows: rows!, columns };
}

function decodeBinary(name: string, datatype: string, n: number, bytes: Buffer): ColumnValues {
  if (datatype === 'BYTES') {
    const values: string[] = [];
    let at = 0;
    while (at < bytes.length) {
      if (at + 4 > bytes.length) break;
      const length = bytes.readUInt32LE(at);
      if (at + 4 + length > bytes.length) break;
      values.push(bytes.toString('utf8', at + 4, at + 4 + length));
      at += 4 + length;
    }
    if (at !== bytes.length || values.length !== n) fail(`Input "${name}": its BYTES data does not hold ${n} length-prefixed strings`);
    return values;
  }
  const width =
    (Object.hasOwn(ELEMENT_BYTES, datatype) ? ELEMENT_BYTES[datatype] : undefined) ??
    fail(`Input "${name}": datatype ${String(datatype)} is not one of ${Object.keys(ELEMENT_BYTES).join(', ')}, BYTES`);
  if (bytes.length !== n * width) fail(`Input "${name}": ${n} ${datatype} values are ${n * width} bytes, not ${bytes.length}`);
  // A copy: the slice of the body need not be aligned for a typed array view.
  const aligned = new Uint8Array(bytes).buffer;
  switch (datatype) {
    case 'FP32':
      return new Float32Array(aligned);
    case 'FP64':
      return new Float64Array(aligned);
    case 'INT8':
      return new Int8Array(aligned);
    case 'UINT8':
      return new Uint8Array(aligned);
    case 'INT16':
      return new Int16Array(aligned);
    case 'UINT16':
      return Array.from(new Uint16Array(aligned));
    case 'INT32':
      return new Int32Array(aligned);
    case 'UINT32':
      return Array.from(new Uint32Array(aligned));
    case 'INT64':
      return Array.from(new BigInt64Array(aligned), (v, r) => {
        // Beyond 2^53 a number is rounded, and two ids would become one key: refused.
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
          fail(`Input "${name}" row ${r}: ${v} is beyond ±2^53, which is exact as a number; send it as BYTES`);
        return Number(v);
      });
    default: // BOOL: true/false, so a boolean column's check sees booleans as in JSON
      return Array.from(new Uint8Array(aligned), (v) => v !== 0);
  }
}

/** The shortest decimal that reads back as the same float32: what the model computed, no more digits. */
export function float32Number(v: number): number | null {
  if (!Number.isFinite(v)) return null;
  for (let digits = 6; digits < 9; digits++) {
    const shorter = Number(v.toPrecision(digits));
    if (Math.fround(shorter) === v) return shorter;
  }
  return Number(v.toPrecision(9));
}

function bytesTensor(values: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const v of values) {
    const text = Buffer.from(v);
    const length = Buffer.alloc(4);
    length.writeUInt32LE(text.length);
    parts.push(length, text);
  }
  return Buffer.concat(parts);
}

const floatBytes = (values: Float32Array) => Buffer.from(values.buffer, values.byteOffset, values.byteLength);

interface OutputTensor {
  name: string;
  datatype: 'FP32' | 'BYTES';
  shape: number[];
  parameters?: Record<string, string>;
  floats?: Float32Array;
  strings?: string[];
}

function outputTensors(batch: ScoredBatch): OutputTensor[] {
  const { card, rows } = batch;
  const strings = (of: (r: number) => string) => Array.from({ length: rows }, (_, r) => of(r));
  const tensors: OutputTensor[] = [
    { name: 'key', datatype: 'BYTES', shape: [rows], strings: [...batch.keys] },
    { name: 'output', datatype: 'FP32', shape: [rows], floats: batch.outputTensor() },
    { name: 'flag', datatype: 'BYTES', shape: [rows], strings: strings((r) => batch.flag(r) ?? '') },
  ];
  const probabilities = batch.probabilitiesTensor();
  if (probabilities) {
    tensors.push({ name: 'predicted_label', datatype: 'BYTES', shape: [rows], strings: strings((r) => batch.predictedLabel(r) ?? '') });
    tensors.push({ name: 'probabilities', datatype: 'FP32', shape: [rows, batch.classes], parameters: { classes: JSON.stringify(card.classes) }, floats: probabilities });
  }
  const contributions = batch.contributionsTensor();
  if (contributions) {
    tensors.push({
      name: 'contributions',
      datatype: 'FP32',
      shape: [rows, batch.width],
      parameters: { columns: JSON.stringify(card.explanation!.columns) },
      floats: contributions,
    });
  }
  return tensors;
}

/** The outputs asked for (all by default), each as JSON data or as binary after the header. */
function selectOutputs(batch: ScoredBatch, request: InferRequest): Array<{ tensor: TensorResponse; binary?: Buffer }> {
  const all = outputTensors(batch);
  const binaryAll = request.parameters?.binary_data_output === true;
  const asked =
    request.outputs?.map((o) => {
      const tensor = all.find((t) => t.name === o?.name) ?? fail(`Output "${String(o?.name)}" does not exist for this model; it has ${all.map((t) => t.name).join(', ')}`);
      return { tensor, binary: o.parameters?.binary_data === true || (binaryAll && o.parameters?.binary_data !== false) };
    }) ?? all.map((tensor) => ({ tensor, binary: binaryAll }));
  return asked.map(({ tensor, binary }) => {
    const { floats, strings, ...meta } = tensor;
    if (binary) {
      const bytes = floats ? floatBytes(floats) : bytesTensor(strings!);
      return { tensor: { ...meta, parameters: { ...meta.parameters, binary_data_size: bytes.length } }, binary: bytes };
    }
    return { tensor: { ...meta, data: floats ? Array.from(floats, float32Number) : strings! } };
  });
}

/** The tensor datatype a column is sent as: BYTES for strings, BOOL for a boolean contract column, else FP32. */
function datatypeOf(card: ModelCard, contract: Contract | undefined, name: string): string {
  const column = contract?.columns.find((c) => c.name === name);
  if (card.features.find((f) => f.name === name)?.kind === 'categorical' || column?.type === 'string') return 'BYTES';
  if (column?.type === 'boolean') return 'BOOL';
  return column?.type === 'integer' ? 'INT64' : 'FP32';
}

function modelMetadata(card: ModelCard, contract: Contract | undefined) {
  const outputs = [
    { name: 'key', datatype: 'BYTES', shape: [-1] },
    { name: 'output', datatype: 'FP32', shape: [-1] },
    { name: 'flag', datatype: 'BYTES', shape: [-1] },
    ...(card.classes.length
      ? [
          { name: 'predicted_label', datatype: 'BYTES', shape: [-1] },
          { name: 'probabilities', datatype: 'FP32', shape: [-1, card.classes.length], parameters: { classes: JSON.stringify(card.classes) } },
        ]
      : []),
    ...(card.explanation
      ? [{ name: 'contributions', datatype: 'FP32', shape: [-1, card.explanation.columns.length], parameters: { columns: JSON.stringify(card.explanation.columns) } }]
      : []),
  ];
  return {
    name: card.model,
    versions: [card.version],
    platform: 'onnxruntime_onnx',
    inputs: card.onnx.inputs.map((i) => ({ name: i.name, datatype: datatypeOf(card, contract, i.name), shape: [-1, 1] })),
    // Optional: the contract's key columns name each row in the log (labels join on them).
    ...(contract?.key.length
      ? { parameters: { optional_inputs: JSON.stringify(contract.key.map((k) => ({ name: k, datatype: datatypeOf(card, contract, k), shape: [-1, 1] }))) } }
      : {}),
    outputs,
  };
}
