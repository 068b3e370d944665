import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { userError } from '../errors';
import { joinKey, type StoreBackend } from './backend';
import { sha256File } from './hash';
import { layout } from './layout';
import { LocalBackend, privateName, publishLocalDir, SCRATCH_DIR, writeFileNamed } from './local-backend';

export { writeFileNamed };

/** Whether a file (or folder) exists; any error reading it counts as no. */
export function fileExists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}

/**
 * The artifact store: the layout's keys (layout.ts) on a backend — a local folder laid out like a
 * bucket (the default), or an S3 prefix (backend.ts). Artifacts are named by URL (`url()`, a path
 * or `s3://…`), which DuckDB reads and writes itself; `path()` is for the kinds of artifact only
 * the local folder holds yet, and refuses on another backend instead of writing to local disk.
 * `root` is this process's own folder: the store itself when local, scratch space (temp files,
 * DuckDB spill, trainer process groups) beside an S3 store.
 */
export class ArtifactStore {
  readonly root: string;
  readonly backend: StoreBackend;

  constructor(root: string, backend?: StoreBackend) {
    this.root = path.resolve(root);
    this.backend = backend ?? new LocalBackend(this.root);
  }

  /** Where the artifacts are, as people are shown it. */
  get location(): string {
    return this.backend.location;
  }

  /** The store key of layout segments, refusing any that would climb out of the store. */
  key(...segments: string[]): string {
    for (const s of segments) {
      if (s === '' || s === '.' || s === '..' || /[\\/]/.test(s) || s.includes('\0')) {
        throw new Error(`Path ${segments.join('/')} escapes the artifact store`);
      }
    }
    return joinKey(...segments);
  }

  /** The URL (a path, or s3://…) of layout segments on this store's backend. */
  url(...segments: string[]): string {
    return this.backend.url(this.key(...segments));
  }

  /** Absolute local path for a store key; refuses anything that would resolve outside the root. */
  path(...segments: string[]): string {
    if (this.backend.kind !== 'local') {
      throw userError(
        'StoreUnsupported',
        `${segments.slice(0, 2).join('/')}/ is not kept on an ${this.backend.kind} store yet (MLOPS_STORE=${this.location}): ` +
          'this step reads a local folder: run it with MLOPS_DATA_DIR and no MLOPS_STORE.',
      );
    }
    return this.localPath(...segments);
  }

  /** A path below root, whichever the backend: this process's scratch. */
  private localPath(...segments: string[]): string {
    const p = path.resolve(this.root, ...segments);
    if (p !== this.root && !p.startsWith(this.root + path.sep)) {
      throw new Error(`Path ${segments.join('/')} escapes the artifact store`);
    }
    return p;
  }

  datasetDir(dataset: string): string {
    return this.url(...layout.dataset(dataset));
  }
  datasetVersionDir(dataset: string, version: string): string {
    return this.url(...layout.datasetVersion(dataset, version));
  }
  manifestFile(dataset: string, version: string): string {
    return this.url(...layout.manifest(dataset, version));
  }
  quarantineFile(dataset: string, version: string): string {
    return this.url(...layout.quarantine(dataset, version));
  }
  modelVersionDir(model: string, version: string): string {
    return this.url(...layout.modelVersion(model, version));
  }
  cardFile(model: string, version: string): string {
    return this.url(...layout.card(model, version));
  }
  rawDir(dataset: string, sourceHash: string): string {
    return this.url(...layout.rawCopy(dataset, sourceHash));
  }
  contractFile(sha256: string): string {
    return this.url(...layout.contract(sha256));
  }
  trainerGroupsDir(): string {
    return this.localPath(...layout.trainerGroups());
  }
  tmpDir(): string {
    return this.localPath(SCRATCH_DIR);
  }

  /** A fresh private folder in this process's scratch (inside the store when local, so rename is atomic). */
  async makeTempDir(label: string): Promise<string> {
    const dir = path.join(this.tmpDir(), `${label}-${process.pid}-${randomBytes(4).toString('hex')}`);
    await fs.mkdir(dir, { recursive: true });
    return dir;
  }

  /**
   * Removes private temp folders left by attempts that died (kill -9, power loss). Only old ones:
   * a younger folder may belong to an attempt that is still running on another worker.
   */
  async removeStaleTemp(olderThanMs: number, now = Date.now()): Promise<string[]> {
    const entries = await fs.readdir(this.tmpDir()).catch(() => [] as string[]);
    const removed: string[] = [];
    for (const name of entries) {
      if (name === 'duckdb-spill') continue;
      const p = path.join(this.tmpDir(), name);
      const stat = await fs.stat(p).catch(() => undefined);
      if (stat && now - stat.mtimeMs > olderThanMs) {
        await fs.rm(p, { recursive: true, force: true });
        removed.push(p);
      }
    }
    return removed;
  }

  /** The key of a URL in this store, or undefined for a file elsewhere (read and written as a local file). */
  keyOf(uri: string): string | undefined {
    return this.backend.keyOf(uri);
  }

  /**
   * The store key of the file at a URL when it is the store's own (locally: also after following
   * links); undefined when it is missing, elsewhere, or a link out of the store.
   */
  async realKey(uri: string): Promise<string | undefined> {
    const key = this.keyOf(uri);
    return key === undefined ? undefined : this.backend.realKey(key);
  }

  /** The names directly below a folder URL (files and folders), like readdir; none when it is missing. */
  async children(dir: string): Promise<string[]> {
    const key = this.keyOf(dir);
    if (key !== undefined) return this.backend.children(key);
    return (await fs.readdir(dir).catch(() => [] as string[])).sort();
  }

  /** Whether an artifact (file or folder with files) exists at a URL. */
  async exists(uri: string): Promise<boolean> {
    const key = this.keyOf(uri);
    if (key === undefined) return fileExists(uri);
    return (await this.backend.exists(key)) || (await this.backend.children(key)).length > 0;
  }

  /** sha256 of the file at a URL, streamed; undefined when it is missing. */
  async sha256(uri: string): Promise<string | undefined> {
    const key = this.keyOf(uri);
    if (key !== undefined) return this.backend.sha256(key);
    return sha256File(uri).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
  }

  /** Size in bytes of the file at a URL; undefined when it is missing. */
  async size(uri: string): Promise<number | undefined> {
    const key = this.keyOf(uri);
    if (key !== undefined) return this.backend.size(key);
    return fs.stat(uri).then(
      (s) => s.size,
      () => undefined,
    );
  }

  async readBytes(uri: string): Promise<Buffer | undefined> {
    const key = this.keyOf(uri);
    if (key !== undefined) return this.backend.get(key);
    try {
      return await fs.readFile(uri);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async readText(uri: string): Promise<string | undefined> {
    return (await this.readBytes(uri))?.toString('utf8');
  }

  async writeJsonAtomic(file: string, value: unknown): Promise<void> {
    await this.writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
  }

  /** Readers see all of it or none: locally a private name renamed into place, on S3 one PUT. */
  async writeFileAtomic(file: string, text: string | Uint8Array): Promise<void> {
    const key = this.keyOf(file);
    if (key !== undefined) return this.backend.put(key, text);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const tmp = privateName(file);
    await writeFileNamed(tmp, text);
    await fs.rename(tmp, file);
  }

  async readJson<T>(file: string): Promise<T | undefined> {
    const text = await this.readText(file);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  /**
   * Removes a folder. Within the store (either backend) without ever leaving half of it at its
   * published path: locally renamed into .tmp first, on S3 its objects deleted (readers look for
   * its marker, written last, so a half-deleted folder reads as not published).
   */
  async discardDir(dir: string): Promise<void> {
    const key = this.keyOf(dir);
    if (key !== undefined) return this.backend.delete(key);
    await fs.rm(dir, { recursive: true, force: true });
  }

  /**
   * Publishes a finished local folder under its final name (local store only). Returns false when
   * another attempt published the same content-addressed folder first (then ours is discarded).
   */
  publishDir(tmp: string, final: string): Promise<boolean> {
    return publishLocalDir(tmp, final);
  }
}
