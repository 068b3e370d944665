import type { Command } from 'commander';
import { listDeliveredFlags, listFailedDeliveries } from '../../notifications/deliver';
import type { CliContext } from '../context';
import { printJson, printTable } from '../output';

/** `notifications [--failed]`: the flags sent to the spec's channels, or those that could not be. */
export function registerNotificationCommands(program: Command, ctx: () => CliContext): void {
  program
    .command('notifications')
    .description("flags sent to the channels of a spec's notify section (webhook, Slack); --failed: those that failed after their retries")
    .option('--failed', 'only deliveries that failed after their retries')
    .option('--json', 'print as JSON')
    .action(async (opts) => {
      const { store } = ctx();
      if (opts.failed) {
        const failed = await listFailedDeliveries(store);
        if (opts.json) return printJson(failed);
        if (!failed.length) return console.log('no failed deliveries');
        return printTable(failed.map((f) => ({ delivery: f.deliveryId, model: f.model, failedAt: f.failedAt, error: f.error })));
      }
      const sent = await listDeliveredFlags(store);
      if (opts.json) return printJson(sent);
      if (!sent.length) return console.log('no flags delivered yet');
      printTable(sent.map((d) => ({ delivery: d.deliveryId, channel: d.channel, sentAt: d.sentAt })));
    });
}
