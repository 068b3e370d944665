import type { Command } from 'commander';
import { registryState } from '../../client/train';
import { userError } from '../../errors';
import { writeEvaluationPage, writeModelPage, writeMonitoringPage, writeScoringPage } from '../../reports/publish';
import { servePages } from '../../reports/serve';
import { modelName } from '../../store/names';
import { parseInput } from '../../validation';
import type { CliContext } from '../context';

/**
 * `mlops report <model>`: writes a report page into the store beside its JSON and prints its
 * path; with --open, also serves the store's pages on 127.0.0.1 until interrupted.
 */
export function registerReportCommand(program: Command, ctx: () => CliContext): void {
  program
    .command('report')
    .description('Write a report page (HTML with charts, self-contained) and print its path: the model page, or one evaluation, monitoring or scoring run')
    .argument('<model>', 'model name')
    .option('--evaluation <id>', 'the evaluation report with this id (as `mlops status` lists them)')
    .option('--monitoring <run>', 'the monitoring run with this id')
    .option('--scoring <run>', 'the scoring run with this id (as `mlops runs` lists them)')
    .option('--open', 'also serve the pages on http://127.0.0.1 (until Ctrl-C) and print the URL to open')
    .option('--port <n>', 'port for --open (default: any free one)', '0')
    .action(async (rawModel: string, opts: { evaluation?: string; monitoring?: string; scoring?: string; open?: boolean; port: string }) => {
      const model = parseInput(modelName, rawModel, 'model name');
      const chosen = [opts.evaluation, opts.monitoring, opts.scoring].filter((o) => o !== undefined);
      if (chosen.length > 1) throw userError('InvalidInput', 'Give at most one of --evaluation, --monitoring and --scoring');
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw userError('InvalidInput', `--port must be a port number (0-65535), not "${opts.port}"`);
      const c = ctx();
      const page = opts.evaluation
        ? await writeEvaluationPage(c.store, model, opts.evaluation)
        : opts.monitoring
          ? await writeMonitoringPage(c.store, model, opts.monitoring)
          : opts.scoring
            ? await writeScoringPage(c.store, model, opts.scoring)
            : await writeModelPage(c.store, await c.answer(registryState(await c.temporal(), model)), new Date().toISOString());
      console.log(page);
      if (!opts.open) return;
      const server = await servePages(c.store, port);
      console.log(`serving the store's report pages on ${server.url} — open ${server.urlOf(page)} (Ctrl-C to stop)`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
    });
}
