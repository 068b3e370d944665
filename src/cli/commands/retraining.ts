import type { Command } from 'commander';
import { decideAndSettle, type RetrainDecision, requestRetrain, retrainStatus } from '../../client/retrain';
import { userError } from '../../errors';
import type { AttemptData, RetrainStatus } from '../../api/retrain';
import { retrainRequestSchema, TRAINING_WINDOWS } from '../../retraining/request';
import type { CliContext } from '../context';
import { schemaOption } from '../schema-defaults';
import { numberOption, parseJsonOption, whoAmI } from '../options';
import { printJson, printTable } from '../output';

/** Which rows an attempt trained on and which judged it, as `dataset@version8 (N … rows)`. */
function trainedOn(d: AttemptData): string {
  const t = d.trainedOn;
  return `${t.dataset}@${t.version.slice(0, 8)} (${t.originalRows} original + ${t.productionRows} labeled production rows)`;
}

/** Until the evaluation ran, a test split's size is not known: `rows` counts the whole version then. */
function judgedOn(d: AttemptData, evaluated: boolean): string {
  const j = d.judgedOn;
  const own = j.dataset === d.trainedOn.dataset && j.version === d.trainedOn.version;
  const what = j.labeledProduction
    ? `${j.rows} labeled production rows neither model trained on`
    : own
      ? `its test split${evaluated ? `: ${j.rows} rows` : ''}`
      : `${evaluated ? `${j.rows} rows` : 'rows'} of the evaluation dataset`;
  return `${j.dataset}@${j.version.slice(0, 8)} (${what})`;
}

function printLoop(s: RetrainStatus): void {
  console.log(`${s.model}: ${s.phase}${s.outcome ? ` (${s.outcome})` : ''}; production ${s.production ?? '(none)'}; ${s.attemptsMade} attempt(s), ${s.runs} run(s)`);
  if (s.proof)
    console.log(`baseline proof: ${s.proof.passed ? 'passed' : 'FAILED'} (${s.proof.primaryMetric} ${s.proof.reproduced} reproduced vs ${s.proof.registered} registered)`);
  if (s.escalation) console.log(`WAITING FOR A PERSON: ${s.escalation.reason}\n  answer with: mlops decide ${s.model} retry|accept-current|force-promote|abort --reason …`);
  printTable(
    s.attempts.map((a) => ({
      n: a.n,
      outcome: a.outcome,
      version: a.version ?? '',
      trainer: a.strategy.trainer?.kind ?? '(production)',
      window: a.data?.window ?? '',
      [a.primaryMetric ?? 'metric']: a.candidateValue ?? '',
      baseline: a.baselineValue ?? '',
      reason: a.reason,
    })),
  );
  // The attempt under way, else the last one: which rows it trains on and which judge it.
  const shown = s.current ?? (s.attempts.at(-1)?.data ? { n: s.attempts.at(-1)!.n, data: s.attempts.at(-1)!.data! } : undefined);
  if (shown) {
    const d = shown.data;
    console.log(s.current ? `attempt ${shown.n} (under way) trains on ${trainedOn(d)}` : `attempt ${shown.n} trained on ${trainedOn(d)}`);
    console.log(`  ${s.current ? 'is judged' : 'judged'} on ${judgedOn(d, !s.current)}`);
    if (d.labeledProduction) console.log(`  labeled production data: ${d.labeledProduction.dataset}@${d.labeledProduction.version.slice(0, 8)} (${d.labeledProduction.rows} rows)`);
    for (const n of d.notes) console.log(`  note: ${n}`);
  }
}

/** What the loop did with a decision, as its own state says. */
function printDecisionOutcome(decision: RetrainDecision, s: RetrainStatus): void {
  const d = s.decision;
  const by = d ? ` (${d.action} by ${d.by}: ${d.reason})` : '';
  if (s.phase === 'done') return console.log(`${s.model}: the retraining loop ended ${s.outcome}${by}; production ${s.production ?? '(none)'}`);
  if (s.phase === 'escalated') {
    return console.log(`${s.model}: ${decision} did not settle it: ${s.escalation?.reason}; the loop waits for a person again (mlops decide ${s.model} …)`);
  }
  console.log(`${s.model}: the retraining loop is ${s.phase} again${by}, up to ${s.maxAttempts} more attempt(s); follow with \`mlops retrain-status ${s.model}\``);
}

/** `retrain`, `retrain-status`, `decide`: the retrain-until-improved loop and the person it asks. */
export function registerRetrainingCommands(program: Command, ctx: () => CliContext): void {
  program
    .command('retrain')
    .description('Start the retrain-until-improved loop (or add a trigger to the running one)')
    .argument('<model>', 'model name')
    .option('--reason <text>', 'why (recorded)', 'requested by a person')
    .option('--dataset <name>', "the original training data: this dataset's latest version(s) (default: the dataset production was first trained on)")
    .option(
      '--evaluation-dataset <name>',
      "compare on this dataset's latest version (default: labeled production rows neither model trained on, else the training data's test split)",
    )
    .addOption(
      schemaOption(
        '--window <window>',
        `what each attempt trains on: ${TRAINING_WINDOWS.join('|')} (original+production falls back to original without enough labeled production rows)`,
        retrainRequestSchema,
        'trainingWindow',
      ),
    )
    .option('--window-max-age <duration>', 'leave out scoring runs and original versions older than this, e.g. 90d')
    .addOption(schemaOption('--original-versions <n>', "how many of the original dataset's latest versions the window spans", retrainRequestSchema, 'window.originalVersions'))
    .addOption(schemaOption('--holdout <fraction>', 'share of labeled production rows kept out of training to judge on', retrainRequestSchema, 'window.holdoutFraction'))
    .addOption(schemaOption('--min-judging-rows <n>', 'labeled production rows count only with at least this many to judge on', retrainRequestSchema, 'window.minJudgingRows'))
    .option('--strategies <json>', 'trainer strategies to try in order, JSON or @file.json, e.g. \'[{}, {"trainer": {"kind": "gbdt", "params": {}}}]\'')
    .addOption(schemaOption('--max-attempts <n>', 'attempts before asking a person', retrainRequestSchema, 'maxAttempts'))
    .addOption(schemaOption('--max-duration <duration>', 'time before asking a person, e.g. 6h', retrainRequestSchema, 'maxDuration'))
    .option('--gates <json>', 'promotion gates, JSON or @file.json (default: improve by ≥ 0.001)')
    .addOption(schemaOption('--policy <policy>', 'auto|manual|ask-on-failure for each promotion', retrainRequestSchema, 'policy'))
    .option('--wait', 'wait for the loop to finish')
    .option('--json', 'print as JSON')
    .action(async (model: string, opts) => {
      const c = ctx();
      const client = await c.temporal();
      const strategies = parseJsonOption('--strategies', opts.strategies);
      const gates = parseJsonOption('--gates', opts.gates);
      const handle = await requestRetrain(
        client,
        c.config.taskQueue,
        {
          model,
          ...(opts.dataset ? { dataset: opts.dataset } : {}),
          ...(opts.evaluationDataset ? { evaluationDataset: opts.evaluationDataset } : {}),
          ...(strategies ? { strategies: strategies as never } : {}),
          ...(gates ? { gates: gates as never } : {}),
          trainingWindow: opts.window,
          window: {
            ...(opts.windowMaxAge ? { maxAge: opts.windowMaxAge } : {}),
            originalVersions: numberOption('--original-versions', opts.originalVersions),
            holdoutFraction: numberOption('--holdout', opts.holdout),
            minJudgingRows: numberOption('--min-judging-rows', opts.minJudgingRows),
          },
          maxAttempts: numberOption('--max-attempts', opts.maxAttempts),
          maxDuration: opts.maxDuration,
          policy: opts.policy,
        },
        { reason: opts.reason, by: whoAmI() },
      );
      if (!opts.wait)
        return opts.json ? printJson({ workflowId: handle.workflowId }) : console.log(`retraining loop ${handle.workflowId} (follow with \`mlops retrain-status ${model}\`)`);
      const status = await c.answer(handle.result());
      if (status.outcome !== 'improved') c.answeredNo();
      if (opts.json) return printJson(status);
      printLoop(status);
    });

  program
    .command('retrain-status')
    .description('Where the retraining loop of a model stands: attempts, baseline proof, what it waits for')
    .argument('<model>', 'model name')
    .option('--json', 'print as JSON')
    .action(async (model: string, opts) => {
      const c = ctx();
      const status = await c.answer(retrainStatus(await c.temporal(), model));
      if (opts.json) return printJson(status);
      printLoop(status);
    });

  program
    .command('decide')
    .description('Answer a retraining loop that waits for a person: retry (with overrides), accept-current, force-promote, abort')
    .argument('<model>', 'model name')
    .argument('<decision>', 'retry|accept-current|force-promote|abort')
    .requiredOption('--reason <text>', 'why (recorded)')
    .option('--by <name>', 'who (default: $USER)')
    .option('--version <id>', "force-promote: the attempt's version to make production")
    .option('--overrides <json>', 'retry: {"maxAttempts", "maxDuration", "strategies", "gates", "skipBaselineProof", "trainingWindow"} as JSON or @file.json')
    .option('--json', 'print the loop status as JSON')
    .action(async (model: string, decision: string, opts) => {
      const decisions: RetrainDecision[] = ['retry', 'accept-current', 'force-promote', 'abort'];
      if (!decisions.includes(decision as RetrainDecision)) throw userError('InvalidInput', `decision must be one of ${decisions.join(', ')}, not "${decision}"`);
      const overrides = parseJsonOption('--overrides', opts.overrides);
      const c = ctx();
      const status = await c.answer(
        decideAndSettle(await c.temporal(), {
          model,
          decision: decision as RetrainDecision,
          by: opts.by ?? whoAmI(),
          reason: opts.reason,
          ...(opts.version ? { version: opts.version } : {}),
          ...(overrides ? { overrides: overrides as never } : {}),
        }),
      );
      if (opts.json) return printJson(status);
      printDecisionOutcome(decision as RetrainDecision, status);
    });
}
