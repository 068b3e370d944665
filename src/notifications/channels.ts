import { z } from 'zod';
import { FLAG_KINDS } from './flags';

/**
 * The spec's `notify` section: where flags go. Secrets never ride in the spec (nor in workflow
 * histories): a channel names the environment variable the worker reads them from.
 */
const envVarName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name: letters, digits, _')
  .describe('The environment variable on the worker that holds the secret');

const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'an http:// or https:// URL');

const flagsFilter = z.array(z.enum(FLAG_KINDS)).min(1).optional().describe('Only these flag kinds (default: all)');

export const webhookChannelSchema = z
  .object({
    kind: z.literal('webhook'),
    url: httpUrl,
    /** The HMAC-SHA256 key for X-Mlops-Signature; without it, bodies go unsigned. */
    secretEnv: envVarName.optional(),
    flags: flagsFilter,
  })
  .strict();

export const slackChannelSchema = z
  .object({
    kind: z.literal('slack'),
    /** A Slack incoming-webhook URL. */
    url: httpUrl,
    flags: flagsFilter,
  })
  .strict();

export const notifyChannelSchema = z.discriminatedUnion('kind', [webhookChannelSchema, slackChannelSchema]);
export type NotifyChannel = z.infer<typeof notifyChannelSchema>;

export const notifySpecSchema = z.array(notifyChannelSchema).min(1);
export type NotifySpec = z.infer<typeof notifySpecSchema>;

/** A channel's name in markers and records: its position and kind (URLs may hold tokens, so they stay out). */
export function channelName(channel: NotifyChannel, index: number): string {
  return `${index}-${channel.kind}`;
}
