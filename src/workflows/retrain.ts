import { allHandlersFinished, condition, continueAsNew, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { userError } from '../errors';
import { type RetrainRequest, retrainRequestSchema } from '../retraining/request';
import { MlopsNeedsAttention } from '../temporal/search-attributes';
import { parseInput } from '../validation';
import { type RetrainStatus, retrainSearchAttributes } from '../api/retrain';
import { attempt } from './retrain/attempt';
import { registerRetrainHandlers } from './retrain/handlers';
import { addAttempt, newLoop } from './retrain/state';
import { budgetSpent, escalate, finish, startFromProduction } from './retrain/steps';
import { endAfterFlags } from './flags';

export { TRAINING_WINDOW_PATCH } from './retrain/attempt';

/**
 * Retrain until improved (`retrain:<model>`): prove the pipeline reproduces production, then
 * attempt after attempt — latest data, next strategy, train → shadow against production → gates
 * — until a candidate is promoted. Out of attempts or time, it raises MlopsNeedsAttention and
 * waits for a person: `retry` (with overrides), `acceptCurrent`, `forcePromote`, `abort`. Each
 * attempt ends with continue-as-new, carrying the loop's state, so its history stays small.
 */
export async function retrainUntilImproved(raw: RetrainRequest, carried?: RetrainStatus): Promise<RetrainStatus> {
  return endAfterFlags(() => runRetrainUntilImproved(raw, carried));
}

async function runRetrainUntilImproved(raw: RetrainRequest, carried?: RetrainStatus): Promise<RetrainStatus> {
  const request = parseInput(retrainRequestSchema, raw, 'retrain request');
  // The status decides what forcePromote may promote: only the loop's own previous run may hand it over.
  if (carried !== undefined && !workflowInfo().continuedFromExecutionRunId) {
    throw userError('InvalidInput', "A retraining loop's status is carried over by the loop itself (continue-as-new); start it with the request only");
  }
  const loop = newLoop(request, carried);
  const { status } = loop;
  registerRetrainHandlers(loop);
  upsertSearchAttributes([...retrainSearchAttributes(request.model), { key: MlopsNeedsAttention, value: false }]);

  for (;;) {
    const start = await startFromProduction(loop);
    if ('blocked' in start) {
      if (!(await escalate(loop, start.blocked))) return status;
      continue;
    }
    const spent = budgetSpent(loop);
    if (spent) {
      if (!(await escalate(loop, spent))) return status;
      continue;
    }

    status.phase = 'attempting';
    const used = status.attemptsMade - status.budgetFrom;
    setCurrentDetails(`Attempt ${status.attemptsMade + 1} (${used + 1} of ${status.maxAttempts} before asking a person) against production ${start.production.version}`);
    const record = await attempt(loop, start.production, start.spec);
    addAttempt(loop, record);
    if (record.outcome === 'promoted') {
      status.production = record.version;
      return finish(loop, 'improved');
    }
    // One attempt per run: the next one starts from a fresh, small history with the state carried.
    await condition(allHandlersFinished);
    return continueAsNew<typeof retrainUntilImproved>(loop.request, status);
  }
}
