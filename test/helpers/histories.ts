import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;

/** Temporal's default blob size warning is 512 KB; we hold ourselves to half of it. */
export const MAX_PAYLOAD_BYTES = 256 * 1024;

/**
 * Every payload of a history (inputs, results, signals, updates, memos, failure details …) except
 * search attribute values: the server indexes those, so they are never encoded (they hold names only).
 */
export function payloadsOf(history: History): temporal.api.common.v1.IPayload[] {
  const found: temporal.api.common.v1.IPayload[] = [];
  const walk = (value: unknown): void => {
    if (!value || typeof value !== 'object' || value instanceof Uint8Array) return;
    if (Array.isArray(value)) return value.forEach(walk);
    const obj = value as Record<string, unknown>;
    if (obj.data instanceof Uint8Array && obj.metadata && typeof obj.metadata === 'object') {
      found.push(obj as temporal.api.common.v1.IPayload);
      return;
    }
    for (const [key, child] of Object.entries(obj)) if (key !== 'searchAttributes') walk(child);
  };
  walk(history.events);
  return found;
}

/** All text a history holds, payload bytes read as UTF-8, for searching. */
function textOf(history: History): string {
  const parts: string[] = [];
  const walk = (value: unknown): void => {
    if (typeof value === 'string') parts.push(value);
    else if (value instanceof Uint8Array) parts.push(Buffer.from(value).toString('utf8'));
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(history.events);
  return parts.join('\n');
}

export interface HistoryAudit {
  workflows: number;
  payloads: number;
  largestPayload: { bytes: number; workflowId: string };
  problems: string[];
}

/**
 * Reads the history of every workflow run on a task queue and reports payloads above
 * MAX_PAYLOAD_BYTES and any of `secrets` appearing anywhere in them.
 */
export async function auditHistories(client: Client, taskQueue: string, secrets: readonly string[]): Promise<HistoryAudit> {
  const audit: HistoryAudit = { workflows: 0, payloads: 0, largestPayload: { bytes: 0, workflowId: '' }, problems: [] };
  for await (const wf of client.workflow.list({ query: `TaskQueue = "${taskQueue}"` })) {
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    audit.workflows++;
    for (const payload of payloadsOf(history)) {
      audit.payloads++;
      const bytes = payload.data?.length ?? 0;
      if (bytes > audit.largestPayload.bytes) audit.largestPayload = { bytes, workflowId: wf.workflowId };
      if (bytes > MAX_PAYLOAD_BYTES) audit.problems.push(`${wf.workflowId} (${wf.type}): a payload of ${bytes} bytes`);
    }
    const text = textOf(history);
    for (const secret of secrets) {
      if (text.includes(secret)) audit.problems.push(`${wf.workflowId} (${wf.type}): contains the secret ${secret.slice(0, 4)}…`);
    }
  }
  return audit;
}

/**
 * `MLOPS_RECORD_HISTORIES=test/fixtures/histories npm test` refreshes the replay fixtures: one
 * history per workflow type (a completed run where there is one), first writer wins across files.
 */
export async function recordHistories(client: Client, taskQueue: string, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const seen = new Set<string>();
  for await (const wf of client.workflow.list({ query: `TaskQueue = "${taskQueue}"` })) {
    const type = wf.type;
    const file = path.join(dir, `${type}.json`);
    if (seen.has(type) || fs.existsSync(file)) continue;
    const completed = wf.status.name === 'COMPLETED';
    // A running registry is the only long-running type worth keeping open-ended; others wait for a completed run.
    if (!completed && type !== 'modelRegistry') continue;
    seen.add(type);
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    try {
      const History = temporal.api.history.v1.History;
      const json = History.toObject(History.fromObject(history), { longs: String, enums: String, bytes: String });
      // Workflows derive child ids from their own id, so replay needs it too.
      fs.writeFileSync(file, JSON.stringify({ workflowId: wf.workflowId, history: json }), { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
