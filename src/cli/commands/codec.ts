import type { Command } from 'commander';
import { AesGcmPayloadCodec } from '../../temporal/codec';
import { startCodecServer } from '../../temporal/codec-server';
import type { CliContext } from '../context';

export function registerCodecCommand(program: Command, ctx: () => CliContext): void {
  program
    .command('codec-server')
    .description('Serve the payload codec (MLOPS_PAYLOAD_KEY) so the Web UI and `temporal --codec-endpoint` show encrypted payloads decoded')
    .option('--ip <ip>', 'address to listen on; anyone who reaches it can decrypt, so any other than loopback needs MLOPS_CODEC_TOKEN', '127.0.0.1')
    .option('--port <port>', 'port', '8888')
    .option('--allow-origin <url...>', 'Web UI origins allowed to call it from a browser', ['http://localhost:8233', 'http://127.0.0.1:8233'])
    .action(async (opts: { ip: string; port: string; allowOrigin: string[] }) => {
      const { payloadEncryption } = ctx().config;
      if (!payloadEncryption) throw new Error('MLOPS_PAYLOAD_KEY is not set: there is nothing to decode');
      const server = await startCodecServer({
        codec: new AesGcmPayloadCodec(payloadEncryption.key, payloadEncryption.previousKeys),
        ip: opts.ip,
        port: Number(opts.port),
        allowedOrigins: opts.allowOrigin,
        // From the environment, not a flag: flags show up in `ps`.
        token: process.env.MLOPS_CODEC_TOKEN || undefined,
      });
      console.log(`codec server on ${server.url} (key ${payloadEncryption.key.id}); allowed origins: ${opts.allowOrigin.join(', ')}`);
      if (!process.env.MLOPS_CODEC_TOKEN) console.log('No MLOPS_CODEC_TOKEN: any program on this machine can decode payloads through it.');
      console.log(`Web UI: set the codec endpoint to ${server.url} (or start the dev server with MLOPS_CODEC_ENDPOINT=${server.url}). Ctrl-C to stop.`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
    });
}
