import type { Client } from '@temporalio/client';
import { unlessNoWorker } from '../client/worker-watch';
import { loadConfig, type MlopsConfig } from '../config';
import { openStore } from '../store/open';
import { connectClient } from '../temporal/connection';
import { EXIT, type ExitCode } from './exit-codes';

/** Lazily built per command: a read-only command never opens a Temporal connection. */
export class CliContext {
  readonly config: MlopsConfig = loadConfig();
  readonly store = openStore(this.config);
  /** --wait-for-worker: wait for a worker to come instead of failing when none polls. */
  waitForWorker = false;
  /** What the process exits with when the command returns normally. */
  exitCode: ExitCode = EXIT.ok;
  private client?: Client;

  async temporal(): Promise<Client> {
    this.client ??= await connectClient(this.config);
    return this.client;
  }

  /**
   * Everything that waits on a worker (a workflow's result, an update, a query) goes through
   * here, so "no worker polls this task queue" is said within seconds instead of waiting forever.
   */
  async answer<T>(work: Promise<T>): Promise<T> {
    return unlessNoWorker(await this.temporal(), this.config, work, {
      keepWaiting: this.waitForWorker,
      onNotice: (message) => process.stderr.write(`mlops: ${message}\n`),
    });
  }

  /** The command did its job and the answer is no (rejected, failed gates, alert): exit 3. */
  answeredNo(): void {
    this.exitCode = EXIT.no;
  }

  async close(): Promise<void> {
    this.store.backend.close();
    await this.client?.connection.close();
  }
}
