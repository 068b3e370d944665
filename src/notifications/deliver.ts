import { createHmac } from 'node:crypto';
import type { ArtifactStore } from '../store/artifact-store';
import { layout } from '../store/layout';
import { channelName, workerSecret, type NotifyChannel } from './channels';
import { sendEmail } from './email';
import { DELIVERY_ID_HEADER, type FlagPayload } from './flags';

/**
 * Sends one flag to a model's channels (webhook, Slack, email), at most once per (delivery id,
 * channel): a channel that took the message gets a marker (putIfAbsent), so a retried delivery
 * resends only to channels that failed. Throws when any channel failed, naming each, so the caller (an activity) retries.
 */
export const SIGNATURE_HEADER = 'X-Mlops-Signature';
export { DELIVERY_ID_HEADER };

export interface ChannelOutcome {
  channel: string;
  outcome: 'sent' | 'already-sent' | 'skipped' | 'failed';
  error?: string;
  /** Sent, with a caveat (an email server refused some of the recipients). */
  warning?: string;
}

export interface DeliveryResult {
  deliveryId: string;
  /** False when the model has no applied spec or no notify section: nothing to deliver. */
  configured: boolean;
  channels: ChannelOutcome[];
}

export class FlagDeliveryError extends Error {
  constructor(readonly result: DeliveryResult) {
    super(
      `flag ${result.deliveryId} not delivered to ${result.channels
        .filter((c) => c.outcome === 'failed')
        .map((c) => `${c.channel} (${c.error})`)
        .join(', ')}`,
    );
    this.name = 'FlagDeliveryError';
  }
}

/** `sha256=<hex HMAC-SHA256 of the raw body>`, what a receiver recomputes with the shared secret. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Slack incoming-webhook JSON: a plain-text fallback plus blocks with the commands and the link. */
export function slackMessage(flag: FlagPayload): { text: string; blocks: unknown[] } {
  const text = `[${flag.kind}] ${flag.model}: ${flag.summary}`;
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${flag.kind}* — \`${flag.model}\`\n${flag.summary}` } },
      { type: 'section', text: { type: 'mrkdwn', text: flag.commands.map((c) => `\`${c}\``).join('\n') } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `<${flag.webUiUrl}|${flag.workflowId} in the Web UI> · ${flag.deliveryId}` }] },
    ],
  };
}

type HttpChannel = Exclude<NotifyChannel, { kind: 'email' }>;

function requestFor(channel: HttpChannel, flag: FlagPayload, env: NodeJS.ProcessEnv): { body: string; headers: Record<string, string> } {
  const headers: Record<string, string> = { 'content-type': 'application/json', [DELIVERY_ID_HEADER]: flag.deliveryId };
  if (channel.kind === 'slack') return { body: JSON.stringify(slackMessage(flag)), headers };
  const body = JSON.stringify(flag);
  if (channel.secretEnv !== undefined) {
    const secret = workerSecret(env, `webhook ${channel.url}`, 'secretEnv', channel.secretEnv, 'set it, or drop secretEnv to send unsigned');
    headers[SIGNATURE_HEADER] = signBody(secret, body);
  }
  return { body, headers };
}

async function send(channel: NotifyChannel, flag: FlagPayload, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ warning?: string }> {
  if (channel.kind === 'email') return sendEmail(channel, flag, env, timeoutMs);
  const { body, headers } = requestFor(channel, flag, env);
  const response = await fetch(channel.url, { method: 'POST', body, headers, signal: AbortSignal.timeout(timeoutMs) });
  // Drain the body so the connection is released; its text explains a refusal.
  const answer = await response.text();
  if (!response.ok) throw new Error(`HTTP ${response.status} from ${new URL(channel.url).host}${answer ? `: ${answer.slice(0, 200)}` : ''}`);
  return {};
}

export async function deliverFlagTo(
  store: ArtifactStore,
  channels: NotifyChannel[] | undefined,
  flag: FlagPayload,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<DeliveryResult> {
  const env = options.env ?? process.env;
  const result: DeliveryResult = { deliveryId: flag.deliveryId, configured: channels !== undefined && channels.length > 0, channels: [] };
  for (const [index, channel] of (channels ?? []).entries()) {
    const name = channelName(channel, index);
    if (channel.flags !== undefined && !channel.flags.includes(flag.kind)) {
      result.channels.push({ channel: name, outcome: 'skipped' });
      continue;
    }
    const marker = store.key(...layout.notificationDelivered(flag.deliveryId, name));
    if (await store.backend.exists(marker)) {
      result.channels.push({ channel: name, outcome: 'already-sent' });
      continue;
    }
    let sent: { warning?: string };
    try {
      sent = await send(channel, flag, env, options.timeoutMs ?? 10_000);
    } catch (err) {
      result.channels.push({ channel: name, outcome: 'failed', error: err instanceof Error ? err.message : String(err) });
      continue;
    }
    await store.backend.putIfAbsent(marker, JSON.stringify({ deliveryId: flag.deliveryId, channel: name, kind: channel.kind, sentAt: new Date().toISOString() }));
    result.channels.push(sent.warning === undefined ? { channel: name, outcome: 'sent' } : { channel: name, outcome: 'sent', warning: sent.warning });
  }
  if (result.channels.some((c) => c.outcome === 'failed')) throw new FlagDeliveryError(result);
  return result;
}

/** A delivery that failed after its retries, kept for `mlops notifications --failed`. */
export interface FailedDelivery {
  deliveryId: string;
  kind: string;
  model: string;
  workflowId: string;
  error: string;
  failedAt: string;
}

export async function recordFailedDelivery(store: ArtifactStore, failure: FailedDelivery): Promise<void> {
  await store.backend.put(store.key(...layout.notificationFailed(failure.deliveryId)), JSON.stringify(failure, null, 2));
}

export async function listFailedDeliveries(store: ArtifactStore): Promise<FailedDelivery[]> {
  const prefix = store.key(...layout.notificationsFailed());
  const names = await store.backend.children(prefix);
  const out: FailedDelivery[] = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    const bytes = await store.backend.get(store.key(...layout.notificationsFailed(), name));
    if (bytes) out.push(JSON.parse(bytes.toString('utf8')) as FailedDelivery);
  }
  return out.sort((a, b) => a.failedAt.localeCompare(b.failedAt));
}

/** A channel that took a flag (the dedupe marker). */
export interface DeliveredFlag {
  deliveryId: string;
  channel: string;
  kind: string;
  sentAt: string;
}

export async function listDeliveredFlags(store: ArtifactStore): Promise<DeliveredFlag[]> {
  const out: DeliveredFlag[] = [];
  for (const object of await store.backend.list(store.key(...layout.notificationsDelivered()))) {
    if (!object.key.endsWith('.json')) continue;
    const bytes = await store.backend.get(object.key);
    if (bytes) out.push(JSON.parse(bytes.toString('utf8')) as DeliveredFlag);
  }
  return out.sort((a, b) => a.sentAt.localeCompare(b.sentAt));
}
