import { log, setCurrentDetails, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { z } from 'zod';
import { type Duration, durationSchema } from '../duration';
import { modelName, resourceName } from '../store/names';
import { MlopsModel, MlopsNeedsAttention, MlopsStage } from '../temporal/search-attributes';
import { parseInput } from '../validation';
import { acceptAcknowledgement } from './acknowledgement';
import { type ScoreStatus, scoreStatusQuery } from '../api/score';
import { answerCommands } from '../notifications/flags';
import { endAfterFlags, raiseFlag } from './flags';

export const servingAlertInputSchema = z
  .object({
    model: modelName,
    /** Part of the workflow id `score:<model>:<runId>`, so `mlops acknowledge <model> <runId>` answers it like a batch run's alert. */
    runId: resourceName('run'),
    /** The production version the server was serving when it raised the alert. */
    modelVersion: z.string().min(1).max(64),
    alert: z.string().min(1).max(4000),
    acknowledgeTimeout: durationSchema.default('7d'),
  })
  .strict();
export type ServingAlertInput = z.input<typeof servingAlertInputSchema>;

/**
 * An alert of the model server (`mlops serve`): too many flagged online predictions in its
 * sliding window, or a new production version it could not load. The server keeps serving; this
 * workflow is the flag a person answers: MlopsNeedsAttention until `mlops acknowledge`, with the
 * same update, status query and timeout semantics as a batch scoring run's alert.
 */
export async function servingAlert(raw: ServingAlertInput): Promise<ScoreStatus> {
  return endAfterFlags(() => runServingAlert(raw));
}

async function runServingAlert(raw: ServingAlertInput): Promise<ScoreStatus> {
  const input = parseInput(servingAlertInputSchema, raw, 'serving alert');
  const status: ScoreStatus = { model: input.model, runId: input.runId, modelVersion: input.modelVersion, phase: 'waiting-for-acknowledgement' };
  setHandler(scoreStatusQuery, () => status);
  const acknowledgement = acceptAcknowledgement(status, `alert ${input.runId}`);
  upsertSearchAttributes([
    { key: MlopsModel, value: input.model },
    { key: MlopsStage, value: 'serve' },
    { key: MlopsNeedsAttention, value: true },
  ]);
  setCurrentDetails(
    `**ALERT** (model server): ${input.alert}\n\nAcknowledge with \`mlops acknowledge ${input.model} ${input.runId} --reason …\` (timeout ${input.acknowledgeTimeout}).`,
  );
  log.warn('serving alert', { model: input.model, runId: input.runId, alert: input.alert });
  void raiseFlag({
    kind: 'serving-alert',
    model: input.model,
    summary: `model server: ${input.alert}`,
    commands: answerCommands.scoringAlert(input.model, input.runId),
    details: { runId: input.runId, modelVersion: input.modelVersion },
  });
  await acknowledgement.wait(input.acknowledgeTimeout as Duration);
  status.phase = 'done';
  setCurrentDetails(`Alert ${acknowledgement.answer ? `acknowledged by ${acknowledgement.answer.by}` : 'closed unacknowledged (timeout)'}: ${input.alert}`);
  return status;
}
