import { executeChild, log, patched, proxyActivities, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Duration } from '../duration';
import { userError } from '../errors';
import type { Activities } from '../activities';
import { activityOptions } from './activity-options';
import { type ScoreRequest, scoreRequestSchema } from '../scoring/request';
import { parseInput } from '../validation';
import { planScoreParts } from '../scoring/parts';
import type { ScoreRun } from '../scoring/runs';
import { MlopsNeedsAttention } from '../temporal/search-attributes';
import { productionOf } from '../api/registry';
import { childWorkflowId } from '../api/search';
import { ingestDataset } from './ingest';
import { acceptAcknowledgement } from './acknowledgement';
import { type ScoreStatus, scoreSearchAttributes, scoreStatusQuery } from '../api/score';
import { answerCommands } from '../notifications/flags';
import { endAfterFlags, raiseFlag } from './flags';

const { readRegistry, resolveDatasetVersion } = proxyActivities<Activities>(activityOptions.quick);

const { scoreDatasetVersion, scoreDatasetPart } = proxyActivities<Activities>(activityOptions.scoring);

const { finishScoreRun } = proxyActivities<Activities>(activityOptions.scoringFinish);

/**
 * Batch scoring with the production model: the version is resolved once (and recorded), every
 * row goes to the prediction log with range flags and contributions. When too many predictions
 * are flagged, the batch is kept as scored, an alert is recorded and the run raises
 * MlopsNeedsAttention until a person acknowledges it (or the timeout passes).
 */
export async function scoreBatch(raw: ScoreRequest): Promise<ScoreStatus> {
  return endAfterFlags(() => runScoreBatch(raw));
}

async function runScoreBatch(raw: ScoreRequest): Promise<ScoreStatus> {
  const request = parseInput(scoreRequestSchema, raw, 'score request');
  const { model, runId } = request;
  const status: ScoreStatus = { model, runId, phase: 'resolving' };
  setHandler(scoreStatusQuery, () => status);
  const acknowledgement = acceptAcknowledgement(status, `scoring run ${runId}`);
  upsertSearchAttributes([...scoreSearchAttributes(model, request.ingest?.dataset ?? request.dataset), { key: MlopsNeedsAttention, value: false }]);

  let datasetVersion = request.datasetVersion;
  let dataset = request.dataset;
  if (request.ingest) {
    const ingested = await executeChild(ingestDataset, { args: [request.ingest], workflowId: childWorkflowId(workflowInfo().workflowId, 'ingest') });
    dataset = ingested.dataset;
    datasetVersion = ingested.version;
  }
  const registry = await readRegistry({ model });
  const summary = productionOf(registry);
  const production = summary?.version;
  if (!production || !summary) throw userError('NoProductionModel', `Model "${model}" has no production version; promote one first`);
  const resolved = await resolveDatasetVersion({ dataset, version: datasetVersion });
  status.modelVersion = production;
  status.dataset = { name: dataset, version: resolved.version };
  status.phase = 'scoring';
  setCurrentDetails(`Scoring ${dataset}@${resolved.version} with production ${model}@${production}`);
  const input = {
    request: { ...request, dataset, datasetVersion: resolved.version },
    model: summary,
    manifestUri: resolved.manifestUri,
    datasetVersion: resolved.version,
    scoredAt: new Date().toISOString(),
  };
  const what = `${dataset}@${resolved.version.slice(0, 8)} with ${production.slice(0, 8)}`;
  // Histories from before the row count was recorded have none: one part, as they ran.
  const parts = planScoreParts(resolved.rows ?? 0, request.splitRows);
  let run: ScoreRun;
  if (parts.length > 1 && patched('score-in-parts')) {
    // Each part is its own activity, so any worker polling the queue takes one; the log is published once, at the end.
    setCurrentDetails(`Scoring ${dataset}@${resolved.version} with production ${model}@${production} in ${parts.length} parts`);
    await Promise.all(parts.map((part) => scoreDatasetPart.executeWithOptions({ summary: `Score part ${part.index + 1}/${parts.length} of ${what}` }, [{ ...input, part }])));
    run = await finishScoreRun.executeWithOptions({ summary: `Publish ${parts.length} parts of ${what}` }, [{ ...input, parts: parts.length }]);
  } else {
    run = await scoreDatasetVersion.executeWithOptions({ summary: `Score ${what}` }, [input]);
  }
  status.run = run;
  if (run.alert) {
    status.phase = 'waiting-for-acknowledgement';
    upsertSearchAttributes([{ key: MlopsNeedsAttention, value: true }]);
    const page = run.htmlUri ? `Report: \`${run.htmlUri}\` — open it with \`mlops report ${model} --scoring ${runId} --open\`\n\n` : '';
    setCurrentDetails(
      `**ALERT**: ${run.alert}\n\n${page}Log: \`${run.logUri}\`\n\nAcknowledge with \`mlops acknowledge ${model} ${runId} --reason …\` (timeout ${request.acknowledgeTimeout}).`,
    );
    log.warn('scoring alert', { model, runId, alert: run.alert });
    void raiseFlag({ kind: 'scoring-alert', model, summary: run.alert, commands: answerCommands.scoringAlert(model, runId), details: { runId } });
    await acknowledgement.wait(request.acknowledgeTimeout as Duration);
  }
  status.phase = 'done';
  setCurrentDetails(`Scored ${run.rows} rows: ${run.outOfRange} out of range, ${run.notANumber} not a number${run.alert ? ' (alert raised)' : ''}`);
  return status;
}
