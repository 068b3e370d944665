import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { type PublishAttempt, type StoreBackend, type StoreObject, joinKey } from './backend';
import { sha256File } from './hash';

/**
 * The embedded default: the store is a folder (MLOPS_DATA_DIR), laid out like a bucket. Atomicity
 * comes from rename within one filesystem: every write goes to a private name in the same folder
 * (or in the store's .tmp) first.
 */
export const SCRATCH_DIR = '.tmp';

interface LocalAttempt extends PublishAttempt {
  dir: string;
}

export class LocalBackend implements StoreBackend {
  readonly kind = 'local' as const;
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  get location(): string {
    return this.root;
  }

  url(key: string): string {
    return key === '' ? this.root : path.join(this.root, ...key.split('/'));
  }

  keyOf(url: string): string | undefined {
    const resolved = path.resolve(url);
    if (resolved === this.root) return '';
    if (!resolved.startsWith(this.root + path.sep)) return undefined;
    return resolved
      .slice(this.root.length + 1)
      .split(path.sep)
      .join('/');
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await fs.readFile(this.url(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async put(key: string, body: string | Uint8Array): Promise<void> {
    await this.writeWhole(key, (tmp) => writeFileNamed(tmp, body));
  }

  async putFile(key: string, file: string): Promise<void> {
    await this.writeWhole(key, (tmp) => fs.copyFile(file, tmp, fs.constants.COPYFILE_FICLONE));
  }

  /** link() refuses an existing name, atomically: the local twin of S3's If-None-Match: *. */
  async putIfAbsent(key: string, body: string | Uint8Array): Promise<boolean> {
    const file = this.url(key);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const tmp = privateName(file);
    await writeFileNamed(tmp, body);
    try {
      await fs.link(tmp, file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  async exists(key: string): Promise<boolean> {
    return fs.stat(this.url(key)).then(
      () => true,
      () => false,
    );
  }

  async size(key: string): Promise<number | undefined> {
    return fs.stat(this.url(key)).then(
      (s) => s.size,
      () => undefined,
    );
  }

  async sha256(key: string): Promise<string | undefined> {
    try {
      return await sha256File(this.url(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async identity(key: string): Promise<string | undefined> {
    const stat = await fs.stat(this.url(key), { bigint: true }).catch(() => undefined);
    return stat && [stat.dev, stat.ino, stat.size, stat.mtimeNs, stat.ctimeNs].join(':');
  }

  async copy(from: string, to: string): Promise<void> {
    const [source, target] = [this.url(from), this.url(to)];
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

  async realKey(key: string): Promise<string | undefined> {
    const real = await fs.realpath(this.url(key)).catch(() => undefined);
    if (real === undefined) return undefined;
    const root = await fs.realpath(this.root).catch(() => this.root);
    if (!real.startsWith(root + path.sep)) return undefined;
    return real
      .slice(root.length + 1)
      .split(path.sep)
      .join('/');
  }

  async list(prefix: string): Promise<StoreObject[]> {
    const out: StoreObject[] = [];
    const walk = async (key: string): Promise<void> => {
      const entries = await fs.readdir(this.url(key), { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        const child = joinKey(key, e.name);
        if (e.isDirectory()) await walk(child);
        else {
          const stat = await fs.stat(this.url(child)).catch(() => undefined);
          if (stat) out.push({ key: child, size: stat.size, modifiedAt: stat.mtime });
        }
      }
    };
    await walk(prefix);
    return out.sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  async children(prefix: string): Promise<string[]> {
    return (await fs.readdir(this.url(prefix)).catch(() => [] as string[])).sort();
  }

  /**
   * Renames the folder into .tmp first (one atomic step): a crash mid-delete leaves debris only in
   * .tmp, never a half-deleted folder at its published path.
   */
  async delete(key: string): Promise<void> {
    const target = this.url(key);
    const trash = path.join(this.root, SCRATCH_DIR, `trash-${process.pid}-${randomBytes(4).toString('hex')}`);
    await fs.mkdir(path.dirname(trash), { recursive: true });
    try {
      await fs.rename(target, trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    await fs.rm(trash, { recursive: true, force: true });
  }

  async writeWhole(key: string, write: (target: string) => Promise<void>): Promise<void> {
    const file = this.url(key);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const tmp = privateName(file);
    try {
      await write(tmp);
      await fs.rename(tmp, file);
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  async publishFolder(dir: string, key: string, marker: string, body: string): Promise<boolean> {
    await writeFileNamed(path.join(dir, marker), body);
    await this.delete(key);
    return publishLocalDir(dir, this.url(key));
  }

  async beginAttempt(key: string, label: string): Promise<LocalAttempt> {
    const dir = path.join(this.root, SCRATCH_DIR, `${label}-${process.pid}-${randomBytes(4).toString('hex')}`);
    await fs.mkdir(dir, { recursive: true });
    const final = this.url(key);
    return { dir, writeUrl: (name) => path.join(dir, name), publishedUrl: (name) => path.join(final, name) };
  }

  async publishAttempt(attempt: PublishAttempt, key: string, marker: string, body: string): Promise<boolean> {
    const { dir } = attempt as LocalAttempt;
    await writeFileNamed(path.join(dir, marker), body);
    return publishLocalDir(dir, this.url(key));
  }

  async abandonAttempt(attempt: PublishAttempt): Promise<void> {
    await fs.rm((attempt as LocalAttempt).dir, { recursive: true, force: true });
  }

  async replaceFromAttempt(attempt: PublishAttempt, name: string, currentUrl: string): Promise<string> {
    await fs.rename(attempt.writeUrl(name), currentUrl);
    await this.abandonAttempt(attempt);
    return currentUrl;
  }

  async setupDuckDb(): Promise<void> {
    // DuckDB reads and writes local paths as they are.
  }

  async check(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true });
  }

  close(): void {}
}

/**
 * Publishes a finished folder under its final name. Returns false when another attempt
 * published the same content-addressed folder first (then ours is discarded).
 */
export async function publishLocalDir(tmp: string, final: string): Promise<boolean> {
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

/** A name beside `file` that no reader looks for, renamed (or linked) to `file` once written whole. */
export function privateName(file: string): string {
  return `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

/** The file a private name will become: errors name that, not the `.123.ab12cd34.tmp` beside it. */
export function publishedName(file: string): string {
  return file.replace(/\.\d+\.[0-9a-f]{8}\.tmp$/, '');
}

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
