import { createTransport } from 'nodemailer';
import { workerSecret, type EmailChannel } from './channels';
import { DELIVERY_ID_HEADER, type FlagPayload } from './flags';

/**
 * The email channel: one plain-text message per flag over SMTP (nodemailer does the protocol:
 * STARTTLS, AUTH, header and body encoding). Credentials come from the worker's environment at
 * send time, named by the channel, so they are never in a spec or a workflow history.
 */
export interface EmailMessage {
  subject: string;
  text: string;
  headers: Record<string, string>;
}

/** Subject: the flag's summary line; body: what happened, the commands that answer it, the link, the delivery id. */
export function emailMessage(flag: FlagPayload): EmailMessage {
  const details = Object.entries(flag.details ?? {}).map(([k, v]) => `  ${k}: ${String(v)}`);
  const text = [
    `${flag.summary}`,
    '',
    `Model: ${flag.model}`,
    `Flag: ${flag.kind} (raised ${flag.raisedAt} by workflow ${flag.workflowId})`,
    ...(details.length > 0 ? ['Details:', ...details] : []),
    '',
    'Answer it with:',
    ...flag.commands.map((c) => `  ${c}`),
    '',
    `In the Temporal Web UI: ${flag.webUiUrl}`,
    '',
    `Delivery id: ${flag.deliveryId}`,
    '',
  ].join('\n');
  return { subject: `[${flag.kind}] ${flag.model}: ${flag.summary}`, text, headers: { [DELIVERY_ID_HEADER]: flag.deliveryId } };
}

/** The server part of the channel's URL, for error messages (the URL holds no credentials: the schema refuses them). */
function serverOf(channel: EmailChannel): string {
  return channel.smtp.replace(/\/+$/, '');
}

/**
 * Sends the flag's message; resolves with a warning when the server refused some recipients but
 * took it for others (the message is out: resending would duplicate it for those who got it).
 */
export async function sendEmail(channel: EmailChannel, flag: FlagPayload, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ warning?: string }> {
  const where = `email ${serverOf(channel)}`;
  const url = new URL(channel.smtp);
  const secure = url.protocol === 'smtps:';
  let auth: { user: string; pass: string } | undefined;
  if (channel.usernameEnv !== undefined && channel.passwordEnv !== undefined) {
    const hint = 'set it, or drop usernameEnv/passwordEnv for a server without AUTH';
    auth = { user: workerSecret(env, where, 'usernameEnv', channel.usernameEnv, hint), pass: workerSecret(env, where, 'passwordEnv', channel.passwordEnv, hint) };
  }
  const transport = createTransport({
    host: url.hostname,
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    requireTLS: channel.starttls === true,
    ignoreTLS: channel.starttls === false,
    auth,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  const message = emailMessage(flag);
  try {
    const info = await transport.sendMail({ from: channel.from, to: channel.to, subject: message.subject, text: message.text, headers: message.headers });
    const refused = info.rejected ?? [];
    return refused.length > 0 ? { warning: `${where} refused ${refused.join(', ')}` } : {};
  } catch (err) {
    throw new Error(`${where}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    transport.close();
  }
}
