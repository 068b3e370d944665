import { setHandler } from '@temporalio/workflow';
import { approveUpdate, promotionStatusQuery, type ReviewInput, rejectUpdate } from '../../api/promote';
import { requireText } from '../handler-input';
import type { Promotion } from './state';

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
}
