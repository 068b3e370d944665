import type { Command } from 'commander';
import { contractFromFile } from '../../client/ingest';
import { acknowledgeAndFinish, startScoring } from '../../client/score';
import { resultOrState } from '../../client/settle';
import { parseDatasetRef } from '../../datasets/ref';
import type { IngestRequestInput } from '../../datasets/request';
import { userError } from '../../errors';
import { scoreRequestSchema } from '../../scoring/request';
import { listRuns } from '../../scoring/runs';
import { type ScoreStatus, scoreStatusQuery } from '../../api/score';
import type { CliContext } from '../context';
import { schemaOption } from '../schema-defaults';
import { commaList, numberOption, whoAmI } from '../options';
import { printJson, printRows } from '../output';

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

/** `score`, `acknowledge`, `runs`: batch scoring with the production model and its alerts. */
export function registerScoringCommands(program: Command, ctx: () => CliContext): void {
  program
    .command('score')
    .description('Score a dataset version (or a file, ingested first) with the production model into a prediction log')
    .argument('<model>', 'model name')
    .argument('<dataset>', 'dataset[@version] to score, or the dataset to ingest --file into')
    .option('--file <path>', 'ingest this file into <dataset> first and score that version')
    .option('--contract <file>', "with --file: its contract (default: the contract of <dataset>'s latest version; a new dataset's is inferred)")
    .option('--key <columns>', "with --file: infer the file's contract with these key columns (labels join to predictions by key)")
    .option('--run-id <id>', 'name of the run (default: <dataset>-<UTC time>)')
    .option('--range <min:max>', "acceptable output range (default: the model card's expected range plus --margin)")
    .addOption(schemaOption('--margin <fraction>', "widen the card's range by this fraction of its width on each side", scoreRequestSchema, 'rangeMargin'))
    .addOption(schemaOption('--max-flagged-share <fraction>', 'alert when more than this share of rows is flagged', scoreRequestSchema, 'maxFlaggedShare'))
    .addOption(schemaOption('--retention-days <n>', 'keep the prediction log this long', scoreRequestSchema, 'retentionDays'))
    .addOption(
      schemaOption('--split-rows <n>', 'score in parts of at most this many rows, each an activity any worker can take (at most 256 parts)', scoreRequestSchema, 'splitRows'),
    )
    .option('--wait', 'with an alert, wait until it is acknowledged (or times out) before returning')
    .option('--no-wait', 'start the run and return its workflow id')
    .option('--json', 'print the result as JSON')
    .action(async (model: string, datasetRef: string, opts) => {
      const c = ctx();
      const ref = parseDatasetRef(datasetRef);
      let range: { min: number; max: number } | undefined;
      if (opts.range) {
        const [min, max] = String(opts.range)
          .split(':')
          .map((v) => numberOption('--range', v));
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
        opts.wait
          ? handle.result().then((result) => ({ done: true as const, result }))
          : resultOrState<ScoreStatus, ScoreStatus>(handle, scoreStatusQuery, (s) => s.phase === 'waiting-for-acknowledgement'),
      );
      const status = settled.done ? settled.result : settled.state;
      if (status.run?.alert) c.answeredNo();
      if (opts.json) return printJson(status);
      printScore(status);
    });

  program
    .command('acknowledge')
    .description("Acknowledge a scoring run's alert (too many predictions out of range)")
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
        opts.json
          ? runs
          : runs.map((r) => ({
              run: r.runId,
              at: r.createdAt,
              version: r.modelVersion,
              dataset: `${r.dataset}@${r.datasetVersion}`,
              rows: r.rows,
              flagged: r.outOfRange + r.notANumber,
              alert: r.alert ? 'YES' : '',
              expires: r.expiresAt,
            })),
        opts.json,
      );
    });
}
