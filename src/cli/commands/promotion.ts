import type { Command } from 'commander';
import type { EvaluationOutcome } from '../../evaluation/outcome';
import { listPending, reviewOutcome, rollbackProduction, startEvaluation, startPromotion } from '../../client/promote';
import { parseDatasetRef } from '../../datasets/ref';
import { userError } from '../../errors';
import { evaluationOptionsSchema, PROMOTION_POLICIES, promoteRequestSchema } from '../../evaluation/request';
import { parsePromoteWorkflowId, type PromotionStatus } from '../../api/promote';
import { registryState } from '../../client/train';
import { evaluationFile, latestEvaluations } from '../../evaluation/reports';
import type { CliContext } from '../context';
import { schemaOption } from '../schema-defaults';
import { commaList, parseJsonOption, whoAmI } from '../options';
import { printJson, printRows, printTable } from '../output';

/** --gates: a JSON object, inline or @file.json. */
function parseGates(text: string | undefined): Record<string, unknown> | undefined {
  const gates = parseJsonOption('--gates', text);
  if (gates === undefined) return undefined;
  if (gates && typeof gates === 'object' && !Array.isArray(gates)) return gates as Record<string, unknown>;
  throw userError('InvalidInput', '--gates must be a JSON object such as \'{"minImprovement": 0.01}\'');
}

/** The evaluation options every command that evaluates shares. */
function withEvaluationOptions(command: Command): Command {
  return command
    .option('--dataset <ref>', "evaluate on this dataset[@version] (default: the candidate's training dataset, latest version)")
    .option('--slices <columns>', 'comma-separated columns to report metrics per value for')
    .option('--gates <json>', 'quality gates as JSON or @file.json, e.g. \'{"minImprovement": 0.005, "thresholds": {"rocAuc": {"min": 0.7}}}\'')
    .addOption(schemaOption('--batch-size <n>', 'rows per ONNX Runtime batch', evaluationOptionsSchema, 'batchSize'));
}

function evaluationOptions(opts: { dataset?: string; slices?: string; gates?: string; batchSize: string }) {
  const ref = opts.dataset ? parseDatasetRef(opts.dataset) : undefined;
  const gates = parseGates(opts.gates);
  return {
    ...(ref ? { dataset: ref.dataset, datasetVersion: ref.version } : {}),
    sliceColumns: opts.slices ? commaList(opts.slices) : [],
    batchSize: Number(opts.batchSize),
    ...(gates ? { gates } : {}),
  };
}

function printVerdict(e: Pick<EvaluationOutcome, 'passed' | 'gates' | 'primaryMetric' | 'candidateValue' | 'baselineValue' | 'markdownUri' | 'rows'> & { htmlUri?: string }): void {
  const against = e.baselineValue !== undefined ? ` vs baseline ${metricText(e.baselineValue)}` : ' (no baseline)';
  console.log(`${e.passed ? 'PASSED' : 'FAILED'}: ${e.primaryMetric} ${metricText(e.candidateValue)}${against} on ${e.rows} rows`);
  if (e.gates.length) printTable(e.gates.map((g) => ({ gate: g.gate, result: g.passed ? 'pass' : 'FAIL', detail: g.detail })));
  console.log(`report: ${e.markdownUri}`);
  if (e.htmlUri) console.log(`page:   ${e.htmlUri}`);
}

/** Metrics can be undefined for the rows at hand (e.g. ROC AUC of one class); JSON carries that as null. */
function metricText(value: number | null): string {
  return value !== null && Number.isFinite(value) ? value.toFixed(4) : 'n/a';
}

function printPromotion(s: PromotionStatus): void {
  if (s.evaluation) printVerdict(s.evaluation);
  printReviewOutcome(s);
}

/** The promotion as it stands: decided (by whom, why), or waiting for a review and how to give it. */
function printReviewOutcome(s: PromotionStatus): void {
  const d = s.decision;
  if (d) return console.log(`${d.outcome} ${s.model}@${s.candidate} by ${d.by}: ${d.reason}`);
  if (s.phase === 'waiting-for-review') {
    return console.log(
      `${s.model}@${s.candidate} waits for a review${s.baseline ? ` (compared with production ${s.baseline})` : ''}: answer with \`mlops approve|reject ${s.model} ${s.candidate} --reason …\``,
    );
  }
  console.log(`${s.model}@${s.candidate}: ${s.phase}`);
}

export function registerPromotionCommands(program: Command, ctx: () => CliContext): void {
  withEvaluationOptions(
    program
      .command('evaluate')
      .description('Shadow-evaluate a version against production (or --against) and check the gates; promotes nothing')
      .argument('<model>', 'model name')
      .option('--version <id>', 'version to evaluate (default: the candidate)')
      .option('--against <id>', 'version to compare with (default: production)'),
  )
    .option('--json', 'print the outcome as JSON')
    .action(async (model: string, opts) => {
      const c = ctx();
      const handle = await c.answer(
        startEvaluation(await c.temporal(), c.config, {
          model,
          ...(opts.version ? { candidateVersion: opts.version } : {}),
          ...(opts.against ? { baselineVersion: opts.against } : {}),
          options: evaluationOptions(opts),
        }),
      );
      if (!opts.json) console.error(`evaluating (workflow ${handle.workflowId}) …`);
      const outcome = await c.answer(handle.result());
      if (!outcome.passed) c.answeredNo();
      if (opts.json) return printJson(outcome);
      printVerdict(outcome);
    });

  withEvaluationOptions(
    program
      .command('promote')
      .description('Evaluate the candidate against production and promote it if the gates pass (or when a person approves)')
      .argument('<model>', 'model name')
      .option('--version <id>', 'version to promote (default: the candidate)')
      .addOption(schemaOption('--policy <policy>', `${PROMOTION_POLICIES.join('|')}: who decides`, promoteRequestSchema, 'policy'))
      .addOption(schemaOption('--approval-timeout <duration>', 'how long to wait for a review, e.g. 30m, 24h', promoteRequestSchema, 'approvalTimeout'))
      .addOption(schemaOption('--on-timeout <outcome>', 'reject|escalate when no review arrives in time', promoteRequestSchema, 'onTimeout')),
  )
    .option('--no-wait', 'start the promotion and return its workflow id')
    .option('--json', 'print the result as JSON')
    .action(async (model: string, opts) => {
      const c = ctx();
      const handle = await c.answer(
        startPromotion(await c.temporal(), c.config, {
          model,
          ...(opts.version ? { candidateVersion: opts.version } : {}),
          policy: opts.policy,
          approvalTimeout: opts.approvalTimeout,
          onTimeout: opts.onTimeout,
          by: whoAmI(),
          ...evaluationOptions(opts),
        }),
      );
      if (!opts.wait) return opts.json ? printJson({ workflowId: handle.workflowId }) : console.log(`started ${handle.workflowId}`);
      if (!opts.json) console.error(`promoting (workflow ${handle.workflowId}) …${opts.policy === 'auto' ? '' : ' waits for `mlops approve` or `mlops reject`'}`);
      const status = await c.answer(handle.result());
      if (status.phase === 'rejected') c.answeredNo();
      if (opts.json) return printJson(status);
      printPromotion(status);
    });

  for (const decision of ['approve', 'reject'] as const) {
    program
      .command(decision)
      .description(`${decision === 'approve' ? 'Approve' : 'Reject'} a promotion that waits for a review`)
      .argument('<model>', 'model name')
      .argument('<version>', 'the candidate version under review')
      .requiredOption('--reason <text>', 'why (recorded in the decision log)')
      .option('--by <name>', 'who decides (default: $USER)')
      .option('--json', 'print the promotion status as JSON')
      .action(async (model: string, version: string, opts) => {
        const c = ctx();
        const status = await c.answer(reviewOutcome(await c.temporal(), decision, { model, version, by: opts.by ?? whoAmI(), reason: opts.reason }));
        // An approval that still ends rejected (the candidate's file fails its check) is a "no".
        if (decision === 'approve' && status.phase === 'rejected') c.answeredNo();
        if (opts.json) return printJson(status);
        printReviewOutcome(status);
      });
  }

  program
    .command('rollback')
    .description('Put the previous production version back')
    .argument('<model>', 'model name')
    .requiredOption('--reason <text>', 'why (recorded in the decision log)')
    .option('--by <name>', 'who decides (default: $USER)')
    .option('--json', 'print the registry state as JSON')
    .action(async (model: string, opts) => {
      const c = ctx();
      const state = await c.answer(rollbackProduction(await c.temporal(), { model, by: opts.by ?? whoAmI(), reason: opts.reason }));
      if (opts.json) return printJson(state);
      console.log(`${model}: production is ${state.aliases.production} again`);
    });

  program
    .command('status')
    .description('A model at a glance: production and candidate, latest evaluations, open flags, recent decisions')
    .argument('<model>', 'model name')
    .option('--json', 'print as JSON')
    .action(async (model: string, opts) => {
      const c = ctx();
      const client = await c.temporal();
      const state = await c.answer(registryState(client, model));
      const version = (id: string | undefined) => state.versions.find((v) => v.version === id);
      const describe = (id: string | undefined) => {
        const v = version(id);
        return v ? { version: v.version, trainer: v.trainer.kind, dataset: `${v.dataset.name}@${v.dataset.version}`, test: v.metrics.test } : undefined;
      };
      const flags = (await listPending(client)).filter((p) => p.model === model);
      const status = {
        model,
        production: describe(state.aliases.production),
        candidate: describe(state.aliases.candidate),
        evaluations: (await latestEvaluations(c.store, model, 5)).map((r) => ({
          at: r.createdAt,
          candidate: r.candidate.version,
          baseline: r.baseline?.version ?? null,
          passed: r.passed,
          [r.primaryMetric]: `${r.candidate.metrics[r.primaryMetric]?.toFixed(4)}${r.baseline ? ` vs ${r.baseline.metrics[r.primaryMetric]?.toFixed(4)}` : ''}`,
          report: r.id,
          page: evaluationFile(c.store, model, r.id, 'html'),
        })),
        flags,
        // A promotion waiting for a person is what the model's next version hangs on, whether or
        // not that version still holds the candidate alias.
        inReview: flags.flatMap((f) => (f.type === 'promoteModel' ? [{ version: parsePromoteWorkflowId(f.workflowId)?.version, workflowId: f.workflowId }] : [])),
        decisions: state.decisions.slice(-5),
      };
      if (opts.json) return printJson(status);
      console.log(`${model}: production ${status.production?.version ?? '(none)'}, candidate ${status.candidate?.version ?? '(none)'}`);
      for (const r of status.inReview) {
        const evaluation = status.evaluations.find((e) => e.candidate === r.version);
        console.log(`in review: ${model}@${r.version} — answer with \`mlops approve|reject ${model} ${r.version} --reason …\``);
        if (evaluation) console.log(`  its evaluation: ${evaluation.page} (mlops report ${model} --evaluation ${evaluation.report} --open)`);
      }
      console.log(`model page: mlops report ${model} --open; an evaluation's page: mlops report ${model} --evaluation <report> --open`);
      console.log('\nlatest evaluations');
      printTable(status.evaluations);
      console.log('\nwaiting for a person');
      printTable(status.flags);
      console.log('\nrecent decisions');
      printTable(status.decisions.map((d) => ({ at: d.at, action: d.action, alias: d.alias ?? '', version: d.version, by: d.by, reason: d.reason })));
    });

  program
    .command('pending')
    .description('Everything that waits for a person (running workflows with MlopsNeedsAttention)')
    .option('--json', 'print as JSON')
    .action(async (opts) => {
      printRows(await listPending(await ctx().temporal()), opts.json);
    });
}
