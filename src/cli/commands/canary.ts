import type { Command } from 'commander';
import { type CanaryAction, steerCanary } from '../../client/promote';
import { userError } from '../../errors';
import { canarySchema } from '../../evaluation/request';
import type { CanaryStatus } from '../../api/online';
import type { CliContext } from '../context';
import { commaList, numberOption, whoAmI } from '../options';
import { printJson } from '../output';
import { schemaOption } from '../schema-defaults';

/** `mlops promote`'s flags of policy canary, defaults from canarySchema. */
const FLAGS = [
  ['--canary-steps <percents>', 'policy canary: percent of live requests the candidate answers in each step, rising to 100', 'steps'],
  ['--canary-hold <duration>', 'policy canary: how long each step is held before it passes', 'hold'],
  ['--canary-check-every <duration>', 'policy canary: how often the online gates judge a step', 'checkEvery'],
  ['--canary-min-rows <n>', 'policy canary: candidate rows a step needs before it is judged', 'minRows'],
  ['--canary-max-flagged-share <fraction>', "policy canary: most of the candidate's rows outside its acceptable range", 'maxFlaggedShare'],
  ['--canary-max-latency-ratio <ratio>', "policy canary: candidate p99 latency at most this times production's", 'maxLatencyRatio'],
  ['--canary-min-labeled-rows <n>', 'policy canary: labeled online rows each side needs before live metrics are compared', 'minLabeledRows'],
  ['--canary-max-live-metric-drop <x>', "policy canary: most the candidate's live primary metric may fall below production's", 'maxLiveMetricDrop'],
] as const;

const attribute = (flags: string) =>
  flags
    .split(' ')[0]!
    .replace(/^--/, '')
    .replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

export function withCanaryOptions(command: Command): Command {
  for (const [flags, description, path] of FLAGS) command.addOption(schemaOption(flags, description, canarySchema, path));
  return command;
}

/** The request's `canary` (policy canary only; refused with another policy when given by hand). */
export function canaryOptions(opts: Record<string, string>, command: Command): { canary?: Record<string, unknown> } {
  if (opts.policy !== 'canary') {
    const given = FLAGS.filter(([flags]) => command.getOptionValueSource(attribute(flags)) === 'cli').map(([flags]) => flags.split(' ')[0]);
    if (given.length) throw userError('InvalidInput', `${given.join(', ')} apply to --policy canary only (the policy is ${opts.policy})`);
    return {};
  }
  const steps = commaList(opts.canarySteps!).map((s) => numberOption('--canary-steps', s));
  return {
    canary: {
      steps,
      hold: opts.canaryHold,
      checkEvery: opts.canaryCheckEvery,
      minRows: numberOption('--canary-min-rows', opts.canaryMinRows!),
      maxFlaggedShare: numberOption('--canary-max-flagged-share', opts.canaryMaxFlaggedShare!),
      maxLatencyRatio: numberOption('--canary-max-latency-ratio', opts.canaryMaxLatencyRatio!),
      minLabeledRows: numberOption('--canary-min-labeled-rows', opts.canaryMinLabeledRows!),
      maxLiveMetricDrop: numberOption('--canary-max-live-metric-drop', opts.canaryMaxLiveMetricDrop!),
    },
  };
}

export function printCanary(canary: CanaryStatus): void {
  const steps = canary.steps.map((s, i) => (i === canary.step && !canary.outcome ? `[${s} %]` : `${s} %`)).join(' → ');
  console.log(
    `canary ${steps}${canary.outcome ? `: ${canary.outcome}` : canary.paused ? `: paused by ${canary.paused.by} (${canary.paused.reason})` : `: holding until ${canary.holdUntil}`}`,
  );
  for (const h of canary.history) console.log(`  ${h.share} % ${h.outcome} by ${h.by}: ${h.detail}`);
}

const ACTIONS: Record<CanaryAction, string> = {
  pause: 'hold the current step until advance or abort (the online gates still judge it)',
  advance: 'end the current step now and move to the next (after the last: production)',
  abort: 'stop the canary: the candidate is rejected, production answers everything again',
};

export function registerCanaryCommands(program: Command, ctx: () => CliContext): void {
  const canary = program.command('canary').description('Steer the running canary of a promotion (mlops promote --policy canary)');
  for (const [action, description] of Object.entries(ACTIONS) as Array<[CanaryAction, string]>) {
    canary
      .command(action)
      .description(description)
      .argument('<model>', 'model name')
      .option('--version <id>', 'the candidate whose canary this is (default: the one running)')
      .requiredOption('--reason <text>', 'why (recorded in the canary)')
      .option('--by <name>', 'who (default: $USER)')
      .option('--json', 'print the canary as JSON')
      .action(async (model: string, opts) => {
        const c = ctx();
        const { workflowId, canary: status } = await c.answer(
          steerCanary(await c.temporal(), action, { model, ...(opts.version ? { version: opts.version } : {}), by: opts.by ?? whoAmI(), reason: opts.reason }),
        );
        if (opts.json) return printJson({ workflowId, canary: status });
        console.log(`${action} sent to ${workflowId}`);
        printCanary(status);
      });
  }
}
