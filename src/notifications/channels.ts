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

/** `smtp://host[:port]` (plain, STARTTLS when offered) or `smtps://host[:port]` (TLS from the start); no credentials in it. */
const smtpUrl = z
  .string()
  .url()
  .refine(
    (u) => /^smtps?:\/\/[^/@]+(:\d+)?\/?$/i.test(u),
    'an smtp://host:port or smtps://host:port URL, without user, password or path (credentials come from usernameEnv/passwordEnv)',
  );

const emailAddress = z.string().regex(/^[^@\s<>]+@[^@\s<>]+$/, 'an email address (name@host)');

export const emailChannelSchema = z
  .object({
    kind: z.literal('email'),
    smtp: smtpUrl.describe('The SMTP server: smtp://host:port (587/25) or smtps://host:port (465)'),
    from: emailAddress,
    to: z.array(emailAddress).min(1),
    /** SMTP AUTH: both names, or neither (an open relay on a private network). */
    usernameEnv: envVarName.optional(),
    passwordEnv: envVarName.optional(),
    /** true: refuse to send unless STARTTLS succeeds; false: never upgrade; unset: upgrade when the server offers it. */
    starttls: z.boolean().optional().describe('smtp:// only. true: require STARTTLS; false: never use it; unset: use it when offered'),
    flags: flagsFilter,
  })
  .strict()
  .refine((c) => (c.usernameEnv === undefined) === (c.passwordEnv === undefined), {
    message: 'usernameEnv and passwordEnv go together (both for SMTP AUTH, neither without it)',
    path: ['passwordEnv'],
  })
  .refine((c) => !(c.starttls !== undefined && /^smtps:/i.test(c.smtp)), {
    message: 'starttls applies to smtp:// only; smtps:// is TLS from the first byte',
    path: ['starttls'],
  });

export type EmailChannel = z.infer<typeof emailChannelSchema>;

export const notifyChannelSchema = z.discriminatedUnion('kind', [webhookChannelSchema, slackChannelSchema, emailChannelSchema]);
export type NotifyChannel = z.infer<typeof notifyChannelSchema>;

export const notifySpecSchema = z.array(notifyChannelSchema).min(1);
export type NotifySpec = z.infer<typeof notifySpecSchema>;

/** A channel's name in markers and records: its position and kind (URLs may hold tokens, addresses are personal, so they stay out). */
export function channelName(channel: NotifyChannel, index: number): string {
  return `${index}-${channel.kind}`;
}

/** A secret from the worker's environment, or an error naming the setting and the variable. */
export function workerSecret(env: NodeJS.ProcessEnv, where: string, setting: string, name: string, hint: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new Error(`${where}: ${setting} ${name} is not set on the worker (${hint})`);
  return value;
}
