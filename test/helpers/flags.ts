import { answerCommands, flagPayload, type FlagInput, type FlagPayload } from '../../src/notifications/flags';

/** A promotion review of churn v7 as the promote workflow raises it; `episode` numbers the raise (one delivery id each). */
export function promotionReviewFlag(episode: number, overrides: Partial<Pick<FlagInput, 'summary' | 'details'>> = {}): FlagPayload {
  return flagPayload(
    {
      kind: 'promotion-review',
      model: 'churn',
      workflowId: 'promote:churn:v7',
      episode,
      summary: 'candidate v7 waits for a review (policy manual)',
      commands: answerCommands.promotionReview('churn', 'v7'),
      details: { version: 'v7' },
      raisedAt: new Date().toISOString(),
      ...overrides,
    },
    { webUi: 'http://localhost:8233', namespace: 'default' },
  );
}
