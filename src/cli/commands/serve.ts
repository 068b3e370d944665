import type { Command } from 'commander';
import { durationMs } from '../../duration';
import { userError } from '../../errors';
import { DEFAULT_BODY_LIMIT, startModelServer } from '../../serving/http';
import { createPredictor, type PredictorEvent } from '../../serving/predictor';
import type { CliContext } from '../context';
import { numberOption } from '../options';

function describeEvent(e: PredictorEvent): string {
  switch (e.kind) {
    case 'swapped':
      return e.from ? `now serving ${e.to} (was ${e.from})` : `serving ${e.to}`;
    case 'load-failed':
      return `production ${e.version} failed to load; the previous version keeps serving: ${e.message}`;
    case 'registry-unreachable':
      return `cannot read the registry (keeps serving what it has): ${e.message}`;
    case 'alert':
      return `ALERT raised (mlops acknowledge … ${e.runId}): ${e.reason}`;
    case 'alert-failed':
      return `could not raise an alert workflow: ${e.message}`;
    case 'log-failed':
      return `prediction log write failed (rows counted as dropped): ${e.message}`;
    case 'promotion-followed':
      return `following promotion ${e.workflowId} of ${e.candidate} (${e.phase}): shadow while it is evaluated or reviewed, canary when it says so`;
    case 'candidate-load-failed':
      return `candidate ${e.version} failed to load: production answers everything, nothing is shadowed: ${e.message}`;
    case 'traffic-write-failed':
      return `could not write the shadow/canary counters to the store (retried): ${e.message}`;
  }
}

function duration(name: string, text: string): number {
  try {
    return durationMs(text);
  } catch (err) {
    throw userError('InvalidInput', `${name}: ${(err as Error).message}`);
  }
}

export function registerServeCommand(program: Command, ctx: () => CliContext): void {
  program
    .command('serve')
    .description('Serve online predictions of the production version over HTTP, following the registry (hot swap on promote/rollback)')
    .argument('<model>', 'model name')
    .option('--host <address>', 'address to listen on; any other than loopback should have MLOPS_SERVE_TOKEN set', '127.0.0.1')
    .option('--port <port>', 'port', '8080')
    .option('--poll-interval <duration>', 'how often the registry is asked for the production version', '2s')
    .option('--body-limit <bytes>', 'largest request body (413 above it)', String(DEFAULT_BODY_LIMIT))
    .option('--max-rows <n>', 'most rows per request', '10000')
    .option('--range-margin <fraction>', "acceptable range: the card's expected range widened by this share on each side", '0.1')
    .option('--max-flagged-share <fraction>', 'flagged share of the sliding window above which an alert is raised', '0.01')
    .option('--alert-window <rows>', 'predictions in the sliding window', '1000')
    .option('--log-flush-interval <duration>', 'how often waiting prediction log rows are written (what a crash can lose)', '1s')
    .option('--no-log', 'keep no online prediction log')
    .option('--no-promotions', 'no shadow or canary: production answers every request even while a promotion runs')
    .action(async (model: string, opts) => {
      const c = ctx();
      const token = process.env.MLOPS_SERVE_TOKEN || undefined; // not a flag: flags show up in `ps`
      const predictor = await createPredictor({
        model,
        store: c.store,
        client: await c.temporal(),
        taskQueue: c.config.taskQueue,
        pollIntervalMs: duration('--poll-interval', opts.pollInterval),
        rangeMargin: numberOption('--range-margin', opts.rangeMargin),
        alerts: { maxFlaggedShare: numberOption('--max-flagged-share', opts.maxFlaggedShare), windowRows: numberOption('--alert-window', opts.alertWindow) },
        log: opts.log === false ? false : { flushIntervalMs: duration('--log-flush-interval', opts.logFlushInterval) },
        ...(opts.promotions === false ? { promotions: false as const } : {}),
        onEvent: (e) => process.stderr.write(`mlops serve: ${describeEvent(e)}\n`),
      });
      const server = await startModelServer({
        predictor,
        model,
        host: opts.host,
        port: numberOption('--port', opts.port),
        bodyLimit: numberOption('--body-limit', opts.bodyLimit),
        maxRows: numberOption('--max-rows', opts.maxRows),
        token,
      }).catch(async (err) => {
        await predictor.close();
        throw err;
      });
      const status = predictor.status();
      console.log(`serving ${model}@${status.version ?? '(no production version yet)'} on ${server.url}: POST ${server.url}/v1/models/${model}/predict`);
      if (status.log) console.log(`online prediction log: ${status.log.dir}`);
      if (!token && !['127.0.0.1', '::1', 'localhost'].includes(opts.host)) console.log('No MLOPS_SERVE_TOKEN: anyone who reaches this address can ask for predictions.');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close(); // flushes the prediction log
    });
}
