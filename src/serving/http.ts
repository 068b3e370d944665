import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { PredictionInputError } from './input';
import { ServingMetrics } from './metrics';
import { type Predictor, ServingError } from './predictor';
import { registerInferenceProtocol, V2_OPEN_PATHS } from './v2';

/**
 * `mlops serve`'s HTTP layer over a Predictor: routing, auth, body limits and error shapes only.
 *
 *   POST /v1/models/<model>/predict   a JSON object (one row) or an array of them (many rows)
 *   GET  /healthz                     the process answers
 *   GET  /readyz                      200 only with a loaded, sha256-verified production version
 *   GET  /metrics                     Prometheus text format
 *   /v2/...                           the Open Inference Protocol (v2.ts): columns in and out, JSON or binary
 *
 * `X-Request-Id` names the request in the log; `X-Routing-Key` (a customer id) picks the side of
 * a running canary when the rows carry no key columns.
 *
 * Errors are JSON `{ error, message, issues? }`: 400 bad rows (each bad field named), 401 a
 * missing or wrong token, 404 another model, 413 an oversized body, 415 not JSON, 503 not ready.
 */
export interface ModelServerOptions {
  predictor: Predictor;
  model: string;
  host?: string;
  port?: number;
  /** Required as `Authorization: Bearer <token>` on predict and metrics (probes stay open). */
  token?: string;
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Most rows in one request (default 10 000). */
  maxRows?: number;
}

export interface ModelServer {
  url: string;
  app: FastifyInstance;
  predictor: Predictor;
  /** Stops accepting, lets running requests finish, then closes the predictor (flushing its log). */
  close(): Promise<void>;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export async function startModelServer(options: ModelServerOptions): Promise<ModelServer> {
  const { predictor, model } = options;
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const maxRows = options.maxRows ?? 10_000;
  const metrics = new ServingMetrics(predictor);
  const app = Fastify({ bodyLimit, logger: false, return503OnClosing: true });
  const token = options.token ? Buffer.from(`Bearer ${options.token}`) : undefined;
  const authorized = (header: string | undefined) => {
    if (!token) return true;
    const given = Buffer.from(header ?? '');
    return given.length === token.length && timingSafeEqual(given, token);
  };
  const predictPath = `/v1/models/${encodeURIComponent(model)}/predict`;

  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0]!;
    const open = path === '/healthz' || path === '/readyz' || V2_OPEN_PATHS.has(path);
    if (!open && !authorized(request.headers.authorization)) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'Unauthorized', message: 'Send the server\'s token as "Authorization: Bearer <token>"' });
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: FastifyError, _request, reply) => {
    if (err instanceof PredictionInputError) return reply.code(400).send({ error: err.type, message: err.message, issues: err.issues });
    if (err instanceof ServingError) return reply.code(err.status).send({ error: err.type, message: err.message });
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({
        error: 'PayloadTooLarge',
        message: `The request body is larger than this server's limit of ${bodyLimit} bytes; send fewer rows per request, or start the server with a larger --body-limit`,
      });
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      return reply.code(415).send({ error: 'UnsupportedMediaType', message: 'Send the rows as JSON (Content-Type: application/json)' });
    if (err.statusCode && err.statusCode < 500) return reply.code(err.statusCode).send({ error: 'BadRequest', message: `The request body is not valid JSON: ${err.message}` });
    return reply.code(500).send({ error: 'InternalError', message: err.message });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const status = predictor.status();
    return reply.code(status.ready ? 200 : 503).send(status);
  });
  app.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));

  app.post('/v1/models/:model/predict', async (request, reply) => {
    const asked = (request.params as { model: string }).model;
    if (asked !== model) return reply.code(404).send({ error: 'ModelNotServed', message: `This server serves model "${model}" (POST ${predictPath}), not "${asked}"` });
    const body = request.body;
    const single = typeof body === 'object' && body !== null && !Array.isArray(body);
    if (!single && !Array.isArray(body)) {
      throw new PredictionInputError([{ row: 0, field: '(body)', problem: 'send one row as a JSON object, or many as a JSON array of objects' }]);
    }
    const rows = single ? [body] : (body as unknown[]);
    if (rows.length === 0) throw new PredictionInputError([{ row: 0, field: '(body)', problem: 'the array has no rows' }]);
    if (rows.length > maxRows)
      throw new PredictionInputError([{ row: maxRows, field: '(body)', problem: `at most ${maxRows} rows per request (${rows.length} sent); split the request` }]);
    const header = request.headers['x-request-id'];
    const requestId = typeof header === 'string' && /^[\w.:-]{1,100}$/.test(header) ? header : undefined;
    // Which side of a canary answers: the caller's customer id, when the rows carry no key columns.
    const routing = request.headers['x-routing-key'];
    const routingKey = typeof routing === 'string' && routing.length > 0 && routing.length <= 200 ? routing : undefined;
    const { batch, ...meta } = await predictor.predictBatch(rows, { ...(requestId ? { requestId } : {}), ...(routingKey ? { routingKey } : {}) });
    metrics.observePredictions(meta.modelVersion, batch);
    const predictions = batch.toRows();
    return single ? { ...meta, prediction: predictions[0] } : { ...meta, predictions };
  });

  registerInferenceProtocol(app, { predictor, model, maxRows, metrics });

  const address = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 8080 });
  return {
    url: address,
    app,
    predictor,
    async close() {
      await app.close();
      await predictor.close();
    },
  };
}
