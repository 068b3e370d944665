import type { Command } from 'commander';
import { startLabels, startMonitor } from '../../client/retrain';
import { parseDatasetRef } from '../../datasets/ref';
import { monitorRequestSchema } from '../../monitoring/request';
import type { CliContext } from '../context';
import { schemaOption } from '../schema-defaults';
import { numberOption } from '../options';
import { printJson } from '../output';

/** `labels`, `monitor`: late labels, and the drift and live-metric checks that can start retraining. */
export function registerMonitoringCommands(program: Command, ctx: () => CliContext): void {
  program
    .command('labels')
    .description('Record labels that arrived after the predictions (joined to prediction logs by key for live metrics)')
    .argument('<dataset>', 'the dataset the labeled rows belong to')
    .argument('<file>', "CSV/Parquet/JSON with the dataset's key column(s) and the label")
    .option('--label <column>', "the label column in the file (default: the dataset contract's label)")
    .option('--json', 'print the result as JSON')
    .action(async (dataset: string, file: string, opts) => {
      const c = ctx();
      const handle = await startLabels(await c.temporal(), c.config, { dataset, source: file, ...(opts.label ? { label: opts.label } : {}) });
      const batch = await c.answer(handle.result());
      if (opts.json) return printJson(batch);
      console.log(
        `${batch.reused ? 'already recorded' : 'recorded'} ${batch.rows} labels for ${dataset} (${batch.rejected} rows without key or label left out, ${batch.duplicateKeys} repeated keys: last wins): ${batch.uri}`,
      );
    });

  program
    .command('monitor')
    .description('Check production for drift and live metrics; crossing a threshold starts the retraining loop')
    .argument('<model>', 'model name')
    .option('--dataset <ref>', "dataset[@version] to check (default: production's training dataset, latest)")
    .option('--run-id <id>', 'name of the report (default: <dataset>-<UTC time>)')
    .addOption(schemaOption('--psi <value>', 'PSI at which a feature or the predictions count as drifted', monitorRequestSchema, 'drift.psi'))
    .addOption(schemaOption('--max-metric-drop <value>', 'live primary metric drop (absolute) that counts as degraded', monitorRequestSchema, 'maxMetricDrop'))
    .addOption(
      schemaOption('--max-estimated-drop <value>', 'estimated (CBPE, before labels) accuracy or ROC AUC drop that counts as degraded', monitorRequestSchema, 'maxEstimatedDrop'),
    )
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
        maxEstimatedDrop: numberOption('--max-estimated-drop', opts.maxEstimatedDrop),
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
}
