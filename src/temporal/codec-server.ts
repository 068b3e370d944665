import * as http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

/**
 * The Temporal codec server protocol, so the Web UI and `temporal workflow show --codec-endpoint`
 * can show encrypted payloads decoded: `POST /decode` and `POST /encode` (also under
 * `/{namespace}/…`), body and answer `{"payloads":[{"metadata":{k:base64},"data":base64}]}`.
 *
 * Whoever can reach it can decrypt. The rule:
 * - With a token, every POST must carry it (`Authorization: Bearer …`), whether or not it comes
 *   from a browser: an Origin header proves nothing about who sent it.
 * - Without a token it serves loopback only (startup refuses any other address), so only programs
 *   on this machine reach it: they may call without an Origin (the `temporal` CLI, curl).
 * - A request with an Origin (a browser) must also come from a listed Web UI origin, token or not:
 *   a page elsewhere, or one that rebinds its DNS name to 127.0.0.1, carries its own origin.
 */
export interface CodecServerOptions {
  codec: PayloadCodec;
  ip?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Exact origins of Web UIs allowed to call from a browser, e.g. http://localhost:8233. */
  allowedOrigins: readonly string[];
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  token?: string;
}

export interface CodecServer {
  url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;
const ROUTE = /^\/(?:[^/]+\/)?(encode|decode)$/;
const { Payloads } = temporal.api.common.v1;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const ip = options.ip ?? '127.0.0.1';
  if (!options.token && !isLoopback(ip)) {
    throw new Error(
      `Refusing to serve the codec on ${ip} without a token: anyone who reaches it can decrypt every payload. ` +
        'Set MLOPS_CODEC_TOKEN (and give the Web UI or `temporal --codec-auth` that bearer token), or listen on 127.0.0.1.',
    );
  }
  const server = http.createServer((req, res) => {
    handle(options, req, res).catch((err: Error) => {
      const status = err instanceof HttpError ? err.status : 422;
      if (!res.headersSent) res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: err.message }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, ip, resolve);
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://${ip.includes(':') ? `[${ip}]` : ip}:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function handle(options: CodecServerOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const origin = req.headers.origin;
  if (origin && options.allowedOrigins.includes(origin)) {
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    res.setHeader('Vary', 'Origin');
  }
  if (req.method === 'OPTIONS') {
    res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
    res.writeHead(origin && !options.allowedOrigins.includes(origin) ? 403 : 204).end();
    return;
  }
  const route = ROUTE.exec(new URL(req.url ?? '/', 'http://codec').pathname)?.[1];
  if (!route) throw new HttpError(404, 'Not found: the codec server answers POST /encode and POST /decode');
  if (req.method !== 'POST') throw new HttpError(405, `${req.method} not allowed: use POST`);
  if (origin && !options.allowedOrigins.includes(origin)) {
    throw new HttpError(403, `Origin ${origin} is not allowed; add it with --allow-origin`);
  }
  if (options.token && !bearerMatches(req.headers.authorization, options.token)) {
    throw new HttpError(401, 'Missing or wrong bearer token');
  }
  const payloads = parsePayloads(await readBody(req));
  const out = route === 'decode' ? await options.codec.decode(payloads) : await options.codec.encode(payloads);
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(Payloads.toObject(Payloads.create({ payloads: out }), { bytes: String })));
}

/** 127.0.0.0/8, ::1 and their IPv4-mapped form; "localhost" too. Everything else may be reachable from elsewhere. */
export function isLoopback(ip: string): boolean {
  const v4 = ip.replace(/^::ffff:/i, '');
  return ip === 'localhost' || ip === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.replace(/^Bearer\s+/i, '') ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `Request body above ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parsePayloads(body: string): Payload[] {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new HttpError(400, 'Body is not JSON: expected {"payloads":[{"metadata":{…},"data":"<base64>"}]}');
  }
  const list = (json as { payloads?: unknown } | null)?.payloads;
  if (!Array.isArray(list)) throw new HttpError(400, 'Body must be {"payloads":[…]}');
  try {
    return Payloads.fromObject({ payloads: list }).payloads;
  } catch (err) {
    throw new HttpError(400, `Malformed payloads: ${(err as Error).message}`);
  }
}
