import { condition, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { Duration } from '../duration';
import { type AcknowledgeInput, acknowledgeUpdate, type ScoreStatus } from '../api/score';
import { MlopsNeedsAttention } from '../temporal/search-attributes';
import { requireText } from './handler-input';

/** A person's answer to an alert, as the `acknowledge` update delivers it. */
export interface Acknowledgement {
  /** The answer, once one came. */
  readonly answer: AcknowledgeInput | undefined;
  /**
   * Waits for the answer or the timeout (recorded as such in the status), then lowers the
   * MlopsNeedsAttention flag.
   */
  wait(timeout: Duration): Promise<void>;
}

/**
 * The `acknowledge` update of an alert (a batch scoring run's or the model server's): accepted
 * only while the status waits for it, with who and why. `alert` names it in the refusal.
 */
export function acceptAcknowledgement(status: ScoreStatus, alert: string): Acknowledgement {
  let answer: AcknowledgeInput | undefined;
  setHandler(
    acknowledgeUpdate,
    (input) => {
      answer = input;
      status.acknowledgement = { by: input.by, reason: input.reason, at: new Date().toISOString() };
      return status;
    },
    {
      validator: (input) => {
        if (status.phase !== 'waiting-for-acknowledgement') throw new Error(`${alert} has no open alert (it is ${status.phase})`);
        requireText(input?.by, 'by');
        requireText(input.reason, 'reason');
      },
    },
  );
  return {
    get answer() {
      return answer;
    },
    async wait(timeout) {
      const answered = await condition(() => answer !== undefined, timeout);
      // An answer accepted in the same activation as the timer still counts.
      if (!answered && !answer) status.acknowledgement = { timedOut: true, at: new Date().toISOString() };
      upsertSearchAttributes([{ key: MlopsNeedsAttention, value: false }]);
    },
  };
}
