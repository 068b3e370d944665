import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

/**
 * `mlops report … --open`: the store's report pages over HTTP on 127.0.0.1, so a browser on this
 * machine (or a tunnel a person sets up) can open them and follow their links. Only .html files
 * under the store root are served, read-only — no prediction logs, no datasets, nothing outside.
 */
export interface PageServer {
  /** http://127.0.0.1:<port>/ */
  url: string;
  /** The URL of a file under the root. */
  urlOf(file: string): string;
  close(): Promise<void>;
}

export async function servePages(root: string, port = 0): Promise<PageServer> {
  const realRoot = await fs.realpath(root);
  const server = http.createServer((req, res) => {
    void answer(realRoot, req.url ?? '/').then(
      (page) => {
        if (page === undefined) {
          res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not a report page\n');
          return;
        }
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }).end(page);
      },
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url,
    urlOf: (file) => new URL(path.relative(root, file).split(path.sep).map(encodeURIComponent).join('/'), url).href,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // A browser's keep-alive connection would hold close() for its idle timeout.
        server.closeAllConnections();
      }),
  };
}

/** The page at `url` when it is an .html file inside the root (symbolic links resolved), else undefined. */
async function answer(root: string, url: string): Promise<Buffer | undefined> {
  let relative: string;
  try {
    relative = decodeURIComponent(new URL(url, 'http://127.0.0.1').pathname);
  } catch {
    return undefined;
  }
  if (!relative.endsWith('.html') || relative.includes('\0')) return undefined;
  const file = await fs.realpath(path.join(root, relative)).catch(() => undefined);
  if (!file || !file.startsWith(root + path.sep)) return undefined;
  return fs.readFile(file).catch(() => undefined);
}
