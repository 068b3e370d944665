import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureSmtpPython } from '../../../scripts/python-env';
import { stopProcess } from '../../../src/temporal/dev-server';

/** One message as the server accepted it: the envelope, what Python's email parser decoded, the raw text. */
export interface ReceivedMail {
  mailFrom: string;
  rcptTos: string[];
  /** Lower-cased names, decoded values. */
  headers: Record<string, string>;
  subject: string;
  contentType: string;
  /** The text/plain part, decoded; null without one. */
  text: string | null;
  raw: string;
}

export interface LocalSmtpOptions {
  /** Require AUTH with these credentials. */
  auth?: { user: string; password: string };
  /** Refuse (550 at RCPT) recipients whose address starts with this. */
  refuseRcptPrefix?: string;
}

/**
 * A real SMTP server (Python aiosmtpd, test/helpers/smtp/server.py) on 127.0.0.1 and a free port,
 * in its own process, writing each accepted message to a folder. The venv is built on first use
 * (pinned requirements, cached under ~/.cache/temporal-mlops), so a fresh machine needs only PyPI.
 */
export class LocalSmtpServer {
  private child?: ChildProcess;
  readonly outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-smtp-'));
  port = 0;

  constructor(private readonly options: LocalSmtpOptions = {}) {}

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const python = ensureSmtpPython();
    const args = [path.join(__dirname, 'server.py'), this.outDir];
    if (this.options.auth) args.push('--user', this.options.auth.user, '--password', this.options.auth.password);
    if (this.options.refuseRcptPrefix) args.push('--refuse-rcpt', this.options.refuseRcptPrefix);
    const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    this.port = await new Promise<number>((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(() => reject(new Error(`the SMTP server did not start in 20 s:\n${stderr}`)), 20_000);
      child.stdout!.on('data', (d: Buffer) => {
        stdout += d.toString();
        const m = /PORT (\d+)/.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the SMTP server exited (${code}):\n${stderr}`));
      });
    });
  }

  /** Every message accepted so far, in arrival order. */
  received(): ReceivedMail[] {
    return fs
      .readdirSync(this.outDir)
      .filter((f) => f.endsWith('.json'))
      .sort((a, b) => parseInt(a, 10) - parseInt(b, 10))
      .map((f) => JSON.parse(fs.readFileSync(path.join(this.outDir, f), 'utf8')) as ReceivedMail);
  }

  async stop(): Promise<void> {
    if (this.child?.pid !== undefined && this.child.exitCode === null) await stopProcess(this.child.pid);
    fs.rmSync(this.outDir, { recursive: true, force: true });
  }
}
