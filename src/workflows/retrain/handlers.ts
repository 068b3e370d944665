import { setHandler } from '@temporalio/workflow';
import { retryOverridesSchema } from '../../retraining/request';
import { parseInput } from '../../validation';
import { abortUpdate, acceptCurrentUpdate, type DecisionInput, forcePromoteUpdate, retrainRequestedSignal, retrainStatusQuery, retryUpdate } from '../../api/retrain';
import { requireText } from '../handler-input';
import { addTrigger, type RetrainLoop, take, triedVersions } from './state';

/**
 * The loop's messages, in one place: its status, the triggers that join it, and the four
 * decisions a person may send while it is escalated (each refused otherwise, with why).
 */
export function registerRetrainHandlers(loop: RetrainLoop): void {
  const { status } = loop;
  setHandler(retrainStatusQuery, () => status);
  setHandler(retrainRequestedSignal, (trigger) => {
    addTrigger(loop, { reason: String(trigger?.reason ?? 'unspecified'), by: String(trigger?.by ?? 'unknown') });
  });
  const whileEscalated = (input: DecisionInput) => {
    if (status.phase !== 'escalated') throw new Error(`the retraining loop of ${status.model} is not waiting for a decision (it is ${status.phase})`);
    requireText(input?.by, 'by');
    requireText(input.reason, 'reason');
  };
  setHandler(retryUpdate, (input) => take(loop, { action: 'retry', input }), {
    validator: (input) => {
      whileEscalated(input);
      // The client's schema: an override reaches timers and training, so anything else is refused here too.
      if (input.overrides !== undefined) parseInput(retryOverridesSchema, input.overrides, 'retry overrides');
    },
  });
  setHandler(acceptCurrentUpdate, (input) => take(loop, { action: 'acceptCurrent', input }), { validator: whileEscalated });
  setHandler(abortUpdate, (input) => take(loop, { action: 'abort', input }), { validator: whileEscalated });
  setHandler(forcePromoteUpdate, (input) => take(loop, { action: 'forcePromote', input }), {
    validator: (input) => {
      whileEscalated(input);
      const tried = triedVersions(loop);
      if (!tried.includes(input.version)) throw new Error(`version "${input.version}" was not trained by this loop; choose one of: ${tried.join(', ') || '(none)'}`);
    },
  });
}
