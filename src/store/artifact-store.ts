import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { layout } from './layout';

/**
 * fs.writeFile, except that an error names the file: a failed write() (ENOSPC) carries only the
 * syscall, and "no space left on device, write" tells nobody which filesystem to free.
 */
export async function writeFileNamed(file: string, data: string | Uint8Array): Promise<void> {
  try {
    await fs.writeFile(file, data);
  } catch (err) {
    (err as NodeJS.ErrnoException).path ??= file;
    throw err;
  }
}

/** Whether a file (or folder) exists; any error reading it counts as no. */
export function fileExists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}

/**
 * The artifact store: one root folder laid out like an object-store bucket, so that
 * `<root>/<key>` maps 1:1 to `s3://bucket/prefix/<key>`. Every key is built here from validated
 * names; every write goes to a private temp path first and is renamed into place, so a reader
 * (or a retried activity) never sees half of an artifact.
 */
export class ArtifactStore {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** Absolute path for a store key; refuses anything that would resolve outside the root. */
  path(...segments: string[]): string {
    const p = path.resolve(this.root, ...segments);
    if (p !== this.root && !p.startsWith(this.root + path.sep)) {
      throw new Error(`Path ${segments.join('/')} escapes the artifact store`);
    }
    return p;
  }

  datasetDir(dataset: string): string {
    return this.path(...layout.dataset(dataset));
  }
  datasetVersionDir(dataset: string, version: string): string {
    return this.path(...layout.datasetVersion(dataset, version));
  }
  manifestFile(dataset: string, version: string): string {
    return this.path(...layout.manifest(dataset, version));
  }
  quarantineFile(dataset: string, version: string): string {
    return this.path(...layout.quarantine(dataset, version));
  }
  modelVersionDir(model: string, version: string): string {
    return this.path(...layout.modelVersion(model, version));
  }
  cardFile(model: string, version: string): string {
    return this.path(...layout.card(model, version));
  }
  rawDir(dataset: string, sourceHash: string): string {
    return this.path(...layout.rawCopy(dataset, sourceHash));
  }
  contractFile(sha256: string): string {
    return this.path(...layout.contract(sha256));
  }
  trainerGroupsDir(): string {
    return this.path(...layout.trainerGroups());
  }
  tmpDir(): string {
    return this.path(...layout.tmp());
  }

  /** A fresh private folder inside the store (same filesystem, so rename is atomic). */
  async makeTempDir(label: string): Promise<string> {
    const dir = this.path(...layout.tmp(), `${label}-${process.pid}-${randomBytes(4).toString('hex')}`);
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

  async writeJsonAtomic(file: string, value: unknown): Promise<void> {
    await this.writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
  }

  /** Writes beside the target under a private name, then renames: readers see all of it or none. */
  async writeFileAtomic(file: string, text: string): Promise<void> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFileNamed(tmp, text);
    await fs.rename(tmp, file);
  }

  async readJson<T>(file: string): Promise<T | undefined> {
    try {
      return JSON.parse(await fs.readFile(file, 'utf8')) as T;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /**
   * Removes a folder by first renaming it into .tmp (one atomic step): a crash mid-delete leaves
   * debris only in .tmp, never a half-deleted folder at its published path.
   */
  async discardDir(dir: string): Promise<void> {
    const trash = this.path(...layout.tmp(), `trash-${process.pid}-${randomBytes(4).toString('hex')}`);
    await fs.mkdir(this.tmpDir(), { recursive: true });
    try {
      await fs.rename(dir, trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    await fs.rm(trash, { recursive: true, force: true });
  }

  /**
   * Puts a finished file at a second key without copying its bytes (a hard link; a copy where the
   * filesystem has none), e.g. a staged part into the folder that is about to be published. The
   * source stays until its own folder is discarded. A target already there from an earlier try
   * of the same step is kept when it is the same file.
   */
  async linkFile(source: string, target: string): Promise<void> {
    await fs.mkdir(path.dirname(target), { recursive: true });
    try {
      await fs.link(source, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        const [a, b] = await Promise.all([fs.stat(source), fs.stat(target)]);
        if (a.ino === b.ino && a.dev === b.dev) return;
        throw err;
      }
      if (code !== 'EPERM' && code !== 'EXDEV' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
      await fs.copyFile(source, target, fs.constants.COPYFILE_EXCL);
    }
  }

  /**
   * Publishes a finished folder under its final name. Returns false when another attempt
   * published the same content-addressed folder first (then ours is discarded).
   */
  async publishDir(tmp: string, final: string): Promise<boolean> {
    await fs.mkdir(path.dirname(final), { recursive: true });
    try {
      await fs.rename(tmp, final);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        await fs.rm(tmp, { recursive: true, force: true });
        return false;
      }
      throw err;
    }
  }
}
