import type { Client } from '@temporalio/client';
import { loadConfig, type MlopsConfig } from '../config';
import { ArtifactStore } from '../store/artifact-store';
import { connectClient } from '../temporal/connection';

/** Lazily built per command: a read-only command never opens a Temporal connection. */
export class CliContext {
  readonly config: MlopsConfig = loadConfig();
  readonly store = new ArtifactStore(this.config.dataDir);
  private client?: Client;

  async temporal(): Promise<Client> {
    this.client ??= await connectClient(this.config);
    return this.client;
  }

  async close(): Promise<void> {
    await this.client?.connection.close();
  }
}
