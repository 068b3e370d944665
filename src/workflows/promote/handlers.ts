import { setCurrentDetails, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { abortCanaryUpdate, advanceCanaryUpdate, type CanaryControlInput, pauseCanaryUpdate } from '../../api/online';
import { approveUpdate, promotionStatusQuery, type ReviewInput, rejectUpdate } from '../../api/promote';
import { MlopsNeedsAttention } from '../../temporal/search-attributes';
import { requireText } from '../handler-input';
import type { Promotion } from './state';
import { raiseFlag } from '../flags';

/**
 * The promotion's messages, in one place: its status, and the two reviews a person may send
 * while it waits for one (of the version it reviews, with who and why).
 */
export function registerPromotionHandlers(promotion: Promotion): void {
  const { status } = promotion;
  setHandler(promotionStatusQuery, () => status);
  const validateReview = (input: ReviewInput) => {
    if (status.phase !== 'waiting-for-review') throw new Error(`promotion of ${status.model}@${status.candidate} is not waiting for a review (it is ${status.phase})`);
    if (input?.version !== status.candidate) throw new Error(`this promotion reviews version ${status.candidate}, not "${input?.version}"`);
    requireText(input.by, 'by');
    requireText(input.reason, 'reason');
  };
  const onReview = (approved: boolean) => (input: ReviewInput) => {
    promotion.review = { approved, by: input.by, reason: input.reason };
    if (approved) status.approval = { by: input.by, reason: input.reason, at: new Date().toISOString() };
    status.phase = approved ? 'promoting' : 'rejected'; // a second review is refused from here on
    return status;
  };
  setHandler(approveUpdate, onReview(true), { validator: validateReview });
  setHandler(rejectUpdate, onReview(false), { validator: validateReview });
  registerCanaryHandlers(promotion);
}

/**
 * pause / advance / abort of a running canary (canary.ts acts on advance and abort at once: its
 * wait ends on them). Refused, with the reason, outside a canary or when it would mean nothing.
 */
function registerCanaryHandlers(promotion: Promotion): void {
  const { status } = promotion;
  const validate =
    (what: 'pause' | 'advance' | 'abort') =>
    (input: CanaryControlInput): void => {
      if (status.phase !== 'canary' || !status.canary) {
        throw new Error(
          `promotion of ${status.model}@${status.candidate} is not in a canary (it is ${status.phase}${status.canary?.outcome ? `; its canary ${status.canary.outcome}` : ''}); nothing to ${what}`,
        );
      }
      if (promotion.canaryControl)
        throw new Error(`the canary is already being ${promotion.canaryControl.kind === 'abort' ? 'aborted' : 'advanced'} (by ${promotion.canaryControl.by})`);
      if (what === 'pause' && status.canary.paused) {
        throw new Error(`the canary is already paused at ${status.canary.share} % (by ${status.canary.paused.by} at ${status.canary.paused.at}); advance or abort it`);
      }
      requireText(input?.by, 'by');
      requireText(input.reason, 'reason');
    };
  setHandler(
    pauseCanaryUpdate,
    ({ by, reason }) => {
      const canary = status.canary!;
      canary.paused = { by, reason, at: new Date().toISOString() };
      // A paused canary waits for a person: list it with everything else that does.
      upsertSearchAttributes([{ key: MlopsNeedsAttention, value: true }]);
      setCurrentDetails(`**Canary paused** at ${canary.share} % by ${by}: ${reason}. Answer with \`mlops canary advance|abort ${status.model} --reason …\`.`);
      void raiseFlag({
        kind: 'canary-paused',
        model: status.model,
        summary: `canary paused at ${canary.share} % by ${by}: ${reason}`,
        commands: [`mlops canary advance ${status.model} --reason "…"`, `mlops canary abort ${status.model} --reason "…"`],
      });
      return canary;
    },
    { validator: validate('pause') },
  );
  const control = (kind: 'advance' | 'abort') => (input: CanaryControlInput) => {
    promotion.canaryControl = { kind, by: input.by, reason: input.reason };
    return status.canary!;
  };
  setHandler(advanceCanaryUpdate, control('advance'), { validator: validate('advance') });
  setHandler(abortCanaryUpdate, control('abort'), { validator: validate('abort') });
}
