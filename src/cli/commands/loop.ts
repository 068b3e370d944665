import * as os from 'node:os';
import type { Command } from 'commander';
import { decideAndSettle, type RetrainDecision, requestRetrain, retrainStatus, startLabels, startMonitor } from '../../client/retrain';
import { contractFromFile } from '../../client/ingest';
import { acknowledgeAndFinish, startScoring } from '../../client/score';
import { resultOrState } from '../../client/settle';
import { parseDatasetRef } from '../../datasets/catalog';
import type { IngestRequestInput } from '../../datasets/request';
import { userError } from '../../errors';
import { DEFAULT_SPLIT_ROWS } from '../../scoring/parts';
import { listRuns } from '../../scoring/runs';
import type { AttemptData, RetrainStatus } from '../../api/retrain';
import { TRAINING_WINDOWS } from '../../retraining/training-windows';
import { type ScoreStatus, scoreStatusQuery } from '../../api/score';
import type { CliContext } from '../context';
import { commaList, numberOption, parseJsonOption } from '../options';
import { printJson, printRows, printTable } from '../output';

const whoAmI = () => process.env.USER ?? os.userInfo().username;

function printScore(s: ScoreStatus): void {
  const r = s.run;
  if (!r) return console.log(`${s.model} run ${s.runId}: ${s.phase}`);
  console.log(`scored ${r.rows} rows of ${r.dataset}@${r.datasetVersion} with ${r.model}@${r.modelVersion} in ${r.seconds.total.toFixed(1)} s`);
  console.log(`flagged: ${r.outOfRange} out of range [${r.range.min.toPrecision(4)}, ${r.range.max.toPrecision(4)}] (${r.range.source}), ${r.notANumber} not a number`);
  console.log(`prediction log: ${r.logUri}`);
  if (r.alert) console.log(`ALERT: ${r.alert}`);
  if (s.acknowledgement) console.log('timedOut' in s.acknowledgement ? 'alert not acknowledged in time' : `acknowledged by ${s.acknowledgement.by}: ${s.acknowledgement.reason}`);
  else if (s.phase === 'waiting-for-acknowledgement') {
    console.log(`the run waits for a person (MlopsNeedsAttention): answer with \`mlops acknowledge ${s.model} ${s.runId} --reason …\``);
  }
}

/**
 * A file to score is ingested as a version of its dataset: with the contract given, else the
 * dataset's own (so its key and types carry over and late labels can join), else an inferred one.
 */
function scoredFileIngest(dataset: string, opts: { file: string; contract?: string; key?: string }): IngestRequestInput {
  if (opts.contract && opts.key) throw userError('InvalidInput', '--key describes an inferred contract; with --contract, put the key in the contract');
  if (opts.contract) return { dataset, source: opts.file, ...contractFromFile(opts.contract) };
  if (opts.key) return { dataset, source: opts.file, infer: { key: commaList(opts.key) } };
  return { dataset, source: opts.file, reuseContract: true };
}

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
  if (s.proof) console.log(`baseline proof: ${s.proof.passed ? 'passed' : 'FAILED'} (${s.proof.primaryMetric} ${s.proof.reproduced} reproduced vs ${s.proof.registered} registered)`);
  if (s.escalation) console.log(`WAITING FOR A PERSON: ${s.escalation.reason}\n  answer with: mlops decide ${s.model} retry|accept-current|force-promote|abort --reason …`);
  printTable(s.attempts.map((a) => ({ n: a.n, outcome: a.outcome, version: a.version ?? '', trainer: a.strategy.trainer?.kind ?? '(production)', window: a.data?.window ?? '', [a.primaryMetric ?? 'metric']: a.candidateValue ?? '', baseline: a.baselineValue ?? '', reason: a.reason })));
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

export function registerLoopCommands(program: Command, ctx: () => CliContext): void {
  program
    .command('score')
    .description('Score a dataset version (or a file, ingested first) with the production model into a prediction log')
    .argument('<model>', 'model name')
    .argument('<dataset>', 'dataset[@version] to score, or the dataset to ingest --file into')
    .option('--file <path>', 'ingest this file into <dataset> first and score that version')
    .option('--contract <file>', 'with --file: its contract (default: the contract of <dataset>\'s latest version; a new dataset\'s is inferred)')
    .option('--key <columns>', 'with --file: infer the file\'s contract with these key columns (labels join to predictions by key)')
    .option('--run-id <id>', 'name of the run (default: <dataset>-<UTC time>)')
    .option('--range <min:max>', 'acceptable output range (default: the model card\'s expected range plus --margin)')
    .option('--margin <fraction>', 'widen the card\'s range by this fraction of its width on each side', '0.1')
    .option('--max-flagged-share <fraction>', 'alert when more than this share of rows is flagged', '0.01')
    .option('--retention-days <n>', 'keep the prediction log this long', '90')
    .option('--split-rows <n>', 'score in parts of at most this many rows, each an activity any worker can take (at most 256 parts)', String(DEFAULT_SPLIT_ROWS))
    .option('--wait', 'with an alert, wait until it is acknowledged (or times out) before returning')
    .option('--no-wait', 'start the run and return its workflow id')
    .option('--json', 'print the result as JSON')
    .action(async (model: string, datasetRef: string, opts) => {
      const c = ctx();
      const ref = parseDatasetRef(datasetRef);
      let range: { min: number; max: number } | undefined;
      if (opts.range) {
        const [min, max] = String(opts.range).split(':').map((v) => numberOption('--range', v));
        if (min === undefined || max === undefined) throw userError('InvalidInput', '--range must look like 0.02:0.98');
        range = { min, max };
      }
      const handle = await startScoring(await c.temporal(), c.config, {
        model,
        dataset: ref.dataset,
        datasetVersion: ref.version,
        ...(opts.file ? { ingest: scoredFileIngest(ref.dataset, opts) } : {}),
        ...(opts.runId ? { runId: opts.runId } : {}),
        ...(range ? { range } : {}),
        rangeMargin: numberOption('--margin', opts.margin),
        maxFlaggedShare: numberOption('--max-flagged-share', opts.maxFlaggedShare),
        retentionDays: numberOption('--retention-days', opts.retentionDays),
        splitRows: numberOption('--split-rows', opts.splitRows),
      });
      if (opts.wait === false) return opts.json ? printJson({ workflowId: handle.workflowId }) : console.log(`started ${handle.workflowId}`);
      if (!opts.json) console.error(`scoring (workflow ${handle.workflowId}) …`);
      // An alert waits for a person, possibly for days: the run has answered once it waits.
      const settled = await c.answer(
        opts.wait ? handle.result().then((result) => ({ done: true as const, result })) : resultOrState<ScoreStatus, ScoreStatus>(handle, scoreStatusQuery, (s) => s.phase === 'waiting-for-acknowledgement'),
      );
      const status = settled.done ? settled.result : settled.state;
      if (status.run?.alert) c.answeredNo();
      if (opts.json) return printJson(status);
      printScore(status);
    });

  program
    .command('acknowledge')
    .description('Acknowledge a scoring run\'s alert (too many predictions out of range)')
    .argument('<model>', 'model name')
    .argument('<run-id>', 'the scoring run')
    .requiredOption('--reason <text>', 'what was found (recorded)')
    .option('--by <name>', 'who (default: $USER)')
    .option('--json', 'print the run status as JSON')
    .action(async (model: string, runId: string, opts) => {
      const c = ctx();
      const status = await c.answer(acknowledgeAndFinish(await c.temporal(), { model, runId, by: opts.by ?? whoAmI(), reason: opts.reason }));
      if (opts.json) return printJson(status);
      const ack = status.acknowledgement;
      console.log(`${model} run ${runId}: ${status.phase}; alert acknowledged${ack && 'by' in ack ? ` by ${ack.by}: ${ack.reason}` : ''}`);
    });

  program
    .command('runs')
    .description('Scoring runs of a model: rows, flags, alerts, prediction logs')
    .argument('<model>', 'model name')
    .option('--json', 'print as JSON')
    .action(async (model: string, opts) => {
      const runs = await listRuns(ctx().store, model);
      printRows(
        opts.json ? runs : runs.map((r) => ({ run: r.runId, at: r.createdAt, version: r.modelVersion, dataset: `${r.dataset}@${r.datasetVersion}`, rows: r.rows, flagged: r.outOfRange + r.notANumber, alert: r.alert ? 'YES' : '', expires: r.expiresAt })),
        opts.json,
      );
    });

  program
    .command('labels')
    .description('Record labels that arrived after the predictions (joined to prediction logs by key for live metrics)')
    .argument('<dataset>', 'the dataset the labeled rows belong to')
    .argument('<file>', 'CSV/Parquet/JSON with the dataset\'s key column(s) and the label')
    .option('--label <column>', 'the label column in the file (default: the dataset contract\'s label)')
    .option('--json', 'print the result as JSON')
    .action(async (dataset: string, file: string, opts) => {
      const c = ctx();
      const handle = await startLabels(await c.temporal(), c.config, { dataset, source: file, ...(opts.label ? { label: opts.label } : {}) });
      const batch = await c.answer(handle.result());
      if (opts.json) return printJson(batch);
      console.log(`${batch.reused ? 'already recorded' : 'recorded'} ${batch.rows} labels for ${dataset} (${batch.rejected} rows without key or label left out, ${batch.duplicateKeys} repeated keys: last wins): ${batch.uri}`);
    });

  program
    .command('monitor')
    .description('Check production for drift and live metrics; crossing a threshold starts the retraining loop')
    .argument('<model>', 'model name')
    .option('--dataset <ref>', 'dataset[@version] to check (default: production\'s training dataset, latest)')
    .option('--run-id <id>', 'name of the report (default: <dataset>-<UTC time>)')
    .option('--psi <value>', 'PSI at which a feature or the predictions count as drifted', '0.2')
    .option('--max-metric-drop <value>', 'live primary metric drop (absolute) that counts as degraded', '0.05')
    .option('--no-retrain', 'only report; do not start the retraining loop')
    .option('--json', 'print the result as JSON')
    .action(async (model: string, opts) => {
      const c = ctx();
      const ref = opts.dataset ? parseDatasetRef(opts.dataset) : undefined;
      const handle = await startMonitor(await c.temporal(), c.config, {
        model,
        ...(ref ? { dataset: ref.dataset, datasetVersion: ref.version } : {}),
        ...(opts.runId ? { runId: opts.runId } : {}),
        drift: { psi: numberOption('--psi', opts.psi)! },
        maxMetricDrop: numberOption('--max-metric-drop', opts.maxMetricDrop),
        retrainOnTrigger: opts.retrain,
      });
      const r = await c.answer(handle.result());
      if (r.triggered) c.answeredNo();
      if (opts.json) return printJson(r);
      console.log(`${model}@${r.modelVersion} on ${r.dataset}@${r.datasetVersion}: ${r.triggered ? `THRESHOLD CROSSED: ${r.reasons.join('; ')}` : 'no threshold crossed'}`);
      console.log(`drifted features: ${r.driftedFeatures.join(', ') || 'none'}; prediction PSI: ${r.predictionPsi?.toFixed(3) ?? 'n/a'}`);
      if (r.live) console.log(`live ${r.live.primaryMetric}: ${r.live.value} on ${r.live.rows} labeled rows (training: ${r.live.baseline})`);
      for (const n of r.notes) console.log(`note: ${n}`);
      if (r.retrain) console.log(`retraining loop: ${r.retrain.workflowId} (follow with \`mlops retrain-status ${model}\`)`);
      console.log(`report: ${r.markdownUri}`);
    });

  program
    .command('retrain')
    .description('Start the retrain-until-improved loop (or add a trigger to the running one)')
    .argument('<model>', 'model name')
    .option('--reason <text>', 'why (recorded)', 'requested by a person')
    .option('--dataset <name>', 'the original training data: this dataset\'s latest version(s) (default: the dataset production was first trained on)')
    .option('--evaluation-dataset <name>', 'compare on this dataset\'s latest version (default: labeled production rows neither model trained on, else the training data\'s test split)')
    .option('--window <window>', `what each attempt trains on: ${TRAINING_WINDOWS.join('|')} (original+production falls back to original without enough labeled production rows)`, 'original+production')
    .option('--window-max-age <duration>', 'leave out scoring runs and original versions older than this, e.g. 90d')
    .option('--original-versions <n>', 'how many of the original dataset\'s latest versions the window spans', '1')
    .option('--holdout <fraction>', 'share of labeled production rows kept out of training to judge on', '0.3')
    .option('--min-judging-rows <n>', 'labeled production rows count only with at least this many to judge on', '200')
    .option('--strategies <json>', 'trainer strategies to try in order, JSON or @file.json, e.g. \'[{}, {"trainer": {"kind": "gbdt", "params": {}}}]\'')
    .option('--max-attempts <n>', 'attempts before asking a person', '3')
    .option('--max-duration <duration>', 'time before asking a person, e.g. 6h', '12h')
    .option('--gates <json>', 'promotion gates, JSON or @file.json (default: improve by ≥ 0.001)')
    .option('--policy <policy>', 'auto|manual|ask-on-failure for each promotion', 'auto')
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
      if (!opts.wait) return opts.json ? printJson({ workflowId: handle.workflowId }) : console.log(`retraining loop ${handle.workflowId} (follow with \`mlops retrain-status ${model}\`)`);
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
    .option('--version <id>', 'force-promote: the attempt\'s version to make production')
    .option('--overrides <json>', 'retry: {"maxAttempts", "maxDuration", "strategies", "gates", "skipBaselineProof", "trainingWindow"} as JSON or @file.json')
    .option('--json', 'print the loop status as JSON')
    .action(async (model: string, decision: string, opts) => {
      const decisions: RetrainDecision[] = ['retry', 'accept-current', 'force-promote', 'abort'];
      if (!decisions.includes(decision as RetrainDecision)) throw userError('InvalidInput', `decision must be one of ${decisions.join(', ')}, not "${decision}"`);
      const overrides = parseJsonOption('--overrides', opts.overrides);
      const c = ctx();
      const status = await c.answer(decideAndSettle(await c.temporal(), {
        model,
        decision: decision as RetrainDecision,
        by: opts.by ?? whoAmI(),
        reason: opts.reason,
        ...(opts.version ? { version: opts.version } : {}),
        ...(overrides ? { overrides: overrides as never } : {}),
      }));
      if (opts.json) return printJson(status);
      printDecisionOutcome(decision as RetrainDecision, status);
    });
}
