import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ArtifactStore } from '../store/artifact-store';

/**
 * `mlops report … --open`: the store's report pages over HTTP on 127.0.0.1, so a browser on this
 * machine (or a tunnel a person sets up) can open them and follow their links. Only .html files
 * in the store (a folder, or the bucket's objects on S3) are served, read-only — no prediction
 * logs, no datasets, nothing outside.
 */
export interface PageServer {
  /** http://127.0.0.1:<port>/ */
  url: string;
  /** The URL of a file under the root. */
  urlOf(file: string): string;
  close(): Promise<void>;
}

export async function servePages(store: ArtifactStore, port = 0): Promise<PageServer> {
  const server = http.createServer((req, res) => {
    void answer(store, req.url ?? '/').then(
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
    urlOf: (file) => {
      const key = store.keyOf(file);
      if (key === undefined) throw new Error(`${file} is not in the artifact store at ${store.location}`);
      return new URL(key.split('/').map(encodeURIComponent).join('/'), url).href;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // A browser's keep-alive connection would hold close() for its idle timeout.
        server.closeAllConnections();
      }),
  };
}

/**
 * The page at `url` when it is an .html object of the store (locally: also after following
 * links, none out of the store), else undefined. Read from the bucket when the store is on S3.
 */
async function answer(store: ArtifactStore, url: string): Promise<Buffer | undefined> {
  let relative: string;
  try {
    relative = decodeURIComponent(new URL(url, 'http://127.0.0.1').pathname);
  } catch {
    return undefined;
  }
  if (!relative.endsWith('.html')) return undefined;
  let key: string;
  try {
    key = store.key(...relative.replace(/^\/+/, '').split('/'));
  } catch {
    return undefined; // a segment that would climb out ('..'), or an empty one
  }
  const real = await store.backend.realKey(key);
  return real === undefined ? undefined : store.backend.get(real);
}
