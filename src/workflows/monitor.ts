import { z } from 'zod';
import { log, proxyActivities, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { userError } from '../errors';
import type { Activities } from '../activities';
import { activityOptions } from './activity-options';
import { raiseFlag } from './flags';
import { answerCommands } from '../notifications/flags';
import type { MonitorOutcome } from '../monitoring/outcome';
import type { LabelBatch } from '../monitoring/labels';
import { labelsRequestSchema, type MonitorRequest, monitorRequestSchema } from '../monitoring/request';
import { type RetrainRequestInput, retrainRequestSchema } from '../retraining/request';
import { modelName } from '../store/names';
import { labelsSearchAttributes } from '../api/labels';
import { monitorSearchAttributes, monitorWorkflowId, runIdOfMonitorWorkflowId } from '../api/monitor';
import { MlopsDataset } from '../temporal/search-attributes';
import { parseInput } from '../validation';
import { productionOf } from '../api/registry';
import { retrainScheduleSearchAttributes, retrainWorkflowId } from '../api/retrain';

/** What a monitor pass or a schedule passes on to the loop it starts; checked here, passed on as given. */
const retrainOptionsSchema = retrainRequestSchema.omit({ model: true });

const { readRegistry, resolveDatasetVersion, requestRetrain, recordLabels } = proxyActivities<Activities>(activityOptions.quick);

const { monitorProduction } = proxyActivities<Activities>(activityOptions.monitoring);

export interface MonitorResult extends MonitorOutcome {
  /** Set when a threshold was crossed: the loop started or told, or why it was not (a recent decision). */
  retrain?: { workflowId: string; suppressed?: string };
}

/**
 * One monitoring pass (`monitor:<model>:<runId>`): drift, prediction drift and live metrics of
 * the production model; when a threshold is crossed, signal-with-start of `retrain:<model>` with
 * the reasons. Schedules run it regularly (`mlops schedule monitor`).
 */
export async function monitorModel(input: Omit<MonitorRequest, 'runId'> & { runId?: string; retrain?: Omit<RetrainRequestInput, 'model'> }): Promise<MonitorResult> {
  // A schedule starts runs as monitor:<model>:scheduled-<time>: that tail names the run.
  const runId = input.runId ?? runIdOfMonitorWorkflowId(workflowInfo().workflowId);
  const { retrain: _checked, ...request } = parseInput(monitorRequestSchema.extend({ retrain: retrainOptionsSchema.optional() }), { ...input, runId }, 'monitor request');
  const { retrain } = input;
  const { model } = request;
  upsertSearchAttributes(monitorSearchAttributes(model));
  const registry = await readRegistry({ model });
  const production = productionOf(registry);
  if (!production) throw userError('NoProductionModel', `Model "${model}" has no production version to monitor`);
  const dataset = request.dataset ?? production.dataset.name;
  upsertSearchAttributes([{ key: MlopsDataset, value: dataset }]);
  const resolved = await resolveDatasetVersion({ dataset, version: request.datasetVersion });
  const outcome = await monitorProduction.executeWithOptions(
    { summary: `Drift and live metrics of ${production.version.slice(0, 8)} on ${dataset}@${resolved.version.slice(0, 8)}` },
    [{ request: { ...request, dataset }, production, manifestUri: resolved.manifestUri, datasetVersion: resolved.version, now: new Date().toISOString() }],
  );
  // Histories recorded before pages were written replay with an outcome that has no htmlUri.
  setCurrentDetails(
    `${outcome.triggered ? `**Threshold crossed**: ${outcome.reasons.join('; ')}` : 'No threshold crossed'}\n\n` +
      `Report: \`${outcome.htmlUri ?? outcome.markdownUri}\` — open it with \`mlops report ${model} --monitoring ${request.runId} --open\``,
  );
  if (!outcome.triggered) return outcome;
  log.warn('monitoring threshold crossed', { model, reasons: outcome.reasons });
  const started = request.retrainOnTrigger
    ? await requestRetrain({
        request: { ...(retrain ?? {}), model },
        trigger: { reason: `monitoring ${request.runId}: ${outcome.reasons.join('; ')}`, by: monitorWorkflowId(model, request.runId) },
        quietPeriod: request.retrainQuietPeriod,
      })
    : undefined;
  if (started?.suppressed) log.info('retraining not requested', { model, why: started.suppressed });
  const retraining = started && !started.suppressed;
  // Nothing waits for a person here, so the message is the only way a crossing reaches one: the run ends once it is out.
  await raiseFlag({
    kind: 'monitoring-crossing',
    model,
    summary:
      `monitoring of ${model}@${production.version} on ${dataset}@${resolved.version.slice(0, 8)} crossed a threshold: ${outcome.reasons.join('; ')}; ` +
      (retraining
        ? `the retraining loop ${started.workflowId ?? retrainWorkflowId(model)} runs`
        : started
          ? `retraining not started: ${started.suppressed}`
          : 'retraining is not started on a crossing (retrainOnTrigger: false)'),
    commands: answerCommands.monitoringCrossing(model, request.runId, Boolean(retraining)),
    details: { runId: request.runId, dataset, datasetVersion: resolved.version, production: production.version },
  });
  if (!started) return outcome;
  return { ...outcome, retrain: { workflowId: started.workflowId ?? retrainWorkflowId(model), ...(started.suppressed ? { suppressed: started.suppressed } : {}) } };
}

/** Labels that arrived late (`labels:<dataset>:<id>`): stored beside the dataset for live metrics. */
export async function recordLabelsWorkflow(raw: { dataset: string; source: string; label?: string }): Promise<LabelBatch> {
  const input = parseInput(labelsRequestSchema, raw, 'labels request');
  upsertSearchAttributes(labelsSearchAttributes(input.dataset));
  return recordLabels({ ...input, receivedAt: new Date().toISOString() });
}

/** What a retrain schedule starts: it only asks (signal-with-start), so one loop per model runs. */
export async function scheduledRetrain(input: { model: string; retrain?: Omit<RetrainRequestInput, 'model'> }): Promise<{ workflowId: string }> {
  parseInput(z.object({ model: modelName, retrain: retrainOptionsSchema.optional() }).strict(), input, 'scheduled retraining');
  upsertSearchAttributes(retrainScheduleSearchAttributes(input.model));
  return requestRetrain({ request: { ...(input.retrain ?? {}), model: input.model }, trigger: { reason: 'scheduled retraining', by: workflowInfo().workflowId } });
}
