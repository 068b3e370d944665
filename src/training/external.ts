import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { userError } from '../errors';
import { childEnvironment, LineMasker } from '../secrets';
import { killGroup, TrainerGroups } from './process-groups';

/**
 * Runs an external trainer command (Python, R, anything) in a private folder that holds
 * train.parquet, validation.parquet and spec.json; the command must write model.onnx there.
 *
 * It runs in a process group of its own, ended as a whole when the command exits (a background
 * child holding stdout once kept a finished training running for minutes), on timeout and on
 * cancellation; the group is recorded so that a worker that dies cannot leave it running (see
 * process-groups.ts). Its output is read line by line in linear time, masked for secrets, and
 * kept as trainer.log up to MAX_LOG_BYTES; the last lines go into error messages.
 */
export interface ExternalRun {
  dir: string;
  /** argv; the executable as the allowlist located it. */
  command: string[];
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called every few seconds while the command runs (heartbeats). */
  onTick?: (elapsedSeconds: number) => void;
  /** Where running groups are recorded (the store's .trainers/). */
  groupsDir: string;
}

const TAIL_LINES = 30;
/** Per line in an error message: a history is no place for a megabyte of one line. */
const TAIL_LINE_CHARS = 500;
/** A line longer than this is cut (64 MB without a newline took 35 CPU-seconds when lines were re-split per chunk). */
export const MAX_LINE_BYTES = 64 * 1024;
export const MAX_LOG_BYTES = 16 * 1024 * 1024;
/** How long stdout may stay open once the group is gone (a process that left the group with setsid). */
const STREAMS_GRACE_MS = 2_000;

export async function runExternalTrainer(run: ExternalRun): Promise<{ logFile: string; tail: string[] }> {
  const groups = new TrainerGroups(run.groupsDir);
  // A retry may land here while the attempt before it still runs, orphaned by a killed worker.
  groups.reapOrphans();
  const logFile = path.join(run.dir, 'trainer.log');
  const log = new TrainerLog(logFile);
  const started = Date.now();
  const [executable, ...args] = run.command;
  const child = spawn(executable!, args, {
    cwd: run.dir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...childEnvironment(), MLOPS_TRAINER_DIR: run.dir },
  });
  const record = child.pid ? groups.record(child.pid, run.command) : undefined;
  const streams = [child.stdout!, child.stderr!].map((s) => log.follow(s));
  const end = () => {
    if (child.pid) killGroup(child.pid);
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    end();
  }, run.timeoutMs);
  const ticker = setInterval(() => run.onTick?.(Math.round((Date.now() - started) / 1000)), 5000);
  run.signal?.addEventListener('abort', end);
  try {
    const exit = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
      child.once('error', (error) => resolve({ code: null, error }));
      // 'exit', not 'close': close waits for every holder of stdout, background children included.
      child.once('exit', (code) => resolve({ code }));
    });
    // Whatever the command left behind in its group ends with it.
    end();
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(streams), new Promise((r) => (grace = setTimeout(r, STREAMS_GRACE_MS)))]);
    clearTimeout(grace);
    child.stdout!.destroy();
    child.stderr!.destroy();
    await log.close();

    const tail = log.tail;
    const tailText = tail.length ? `\n  last output:\n    ${tail.join('\n    ')}` : '';
    if (exit.error) throw userError('TrainerFailed', `Cannot run trainer command ${JSON.stringify(run.command)}: ${exit.error.message}`);
    if (run.signal?.aborted) throw new Error('external trainer cancelled');
    if (timedOut) throw userError('TrainerTimeout', `Trainer command exceeded its timeout of ${Math.round(run.timeoutMs / 1000)} s and was stopped.${tailText}`);
    if (exit.code !== 0) throw userError('TrainerFailed', `Trainer command exited with code ${exit.code}.${tailText}`);
    if (!fs.existsSync(path.join(run.dir, 'model.onnx'))) {
      throw userError('TrainerFailed', `Trainer command finished but wrote no model.onnx in its working folder.${tailText}`);
    }
    return { logFile, tail };
  } finally {
    clearTimeout(timer);
    clearInterval(ticker);
    run.signal?.removeEventListener('abort', end);
    groups.release(record);
  }
}

/**
 * The kept log: both streams split into lines as the bytes arrive (each chunk scanned once, a
 * partial line held up to MAX_LINE_BYTES), every line masked (secrets.ts), written until
 * MAX_LOG_BYTES, the last TAIL_LINES kept for error messages.
 */
class TrainerLog {
  /** The last lines; those past the log's cap are masked only if they are still here at the end. */
  private readonly last: Array<{ text: string; masked: boolean; inKey: boolean }> = [];
  private readonly out: fs.WriteStream;
  /** The worker's whole environment: its own secrets too, should a trainer come by them. */
  private readonly masker = new LineMasker();
  private written = 0;
  private dropped = 0;
  private error: Error | undefined;

  constructor(file: string) {
    this.out = fs.createWriteStream(file);
    this.out.on('error', (err: NodeJS.ErrnoException) => {
      err.path ??= file;
      this.error ??= err;
    });
  }

  /** Resolves when the stream has ended (or was destroyed). */
  follow(stream: Readable): Promise<void> {
    const lines = new LineSplitter((line, cut) => this.add(line, cut));
    stream.on('data', (chunk: Buffer) => lines.push(chunk));
    return new Promise((resolve) => {
      const done = () => {
        lines.flush();
        resolve();
      };
      stream.once('end', done);
      stream.once('close', done);
    });
  }

  private add(raw: string, cutBytes: number): void {
    const note = cutBytes ? ` … [${cutBytes} more bytes of this line not kept]` : '';
    const bytes = Buffer.byteLength(raw) + note.length + 1;
    const kept = this.written + bytes <= MAX_LOG_BYTES;
    // Masking costs microseconds a line: spent on what is kept, not on megabytes that are not.
    const entry = kept ? { text: this.masker.line(raw) + note, masked: true, inKey: false } : { text: raw + note, masked: false, inKey: this.masker.skip(raw) };
    if (entry.text) {
      this.last.push(entry);
      if (this.last.length > TAIL_LINES) this.last.shift();
    }
    if (!kept) {
      this.dropped += bytes;
      return;
    }
    this.written += bytes;
    if (!this.error) this.out.write(`${entry.text}\n`);
  }

  get tail(): string[] {
    return this.last.map((e) => {
      const line = e.masked ? e.text : this.masker.mask(e.text, e.inKey);
      return line.length > TAIL_LINE_CHARS ? `${line.slice(0, TAIL_LINE_CHARS)} …` : line;
    });
  }

  async close(): Promise<void> {
    if (this.dropped && !this.error) this.out.write(`[mlops: the log was cut at ${MAX_LOG_BYTES} bytes; ${this.dropped} more bytes of output were not kept]\n`);
    await new Promise<void>((resolve) => this.out.end(resolve));
    if (this.error) throw this.error;
  }
}

/** Bytes → lines, without ever rescanning what came before (linear in the output). */
class LineSplitter {
  private parts: Buffer[] = [];
  private kept = 0;
  private cut = 0;

  constructor(private readonly onLine: (line: string, cutBytes: number) => void) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      this.append(chunk.subarray(start, newline < 0 ? chunk.length : newline));
      if (newline < 0) return;
      this.emit();
      start = newline + 1;
    }
  }

  /** The last line, if the output did not end with a newline. */
  flush(): void {
    if (this.kept || this.cut) this.emit();
  }

  private append(part: Buffer): void {
    const room = MAX_LINE_BYTES - this.kept;
    const keep = Math.min(room, part.length);
    if (keep > 0) {
      this.parts.push(Buffer.from(part.subarray(0, keep)));
      this.kept += keep;
    }
    this.cut += part.length - keep;
  }

  private emit(): void {
    const line = Buffer.concat(this.parts).toString('utf8').replace(/\r$/, '');
    const cut = this.cut;
    this.parts = [];
    this.kept = 0;
    this.cut = 0;
    this.onLine(line, cut);
  }
}
