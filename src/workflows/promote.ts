import { log, upsertSearchAttributes } from '@temporalio/workflow';
import { type PromoteRequest, promoteRequestSchema } from '../evaluation/request';
import { MlopsNeedsAttention } from '../temporal/search-attributes';
import { parseInput } from '../validation';
import { productionOf } from '../api/registry';
import { promoteSearchAttributes, type PromotionStatus } from '../api/promote';
import { readRegistry } from './promote/activities';
import { runCanary } from './promote/canary';
import { registerPromotionHandlers } from './promote/handlers';
import { candidateIn, newPromotion } from './promote/state';
import { decide, finish, loadFailure, setProduction, shadowEvaluate } from './promote/steps';
import { endAfterFlags } from './flags';

/** Production may change under a running promotion (another one finished first); re-evaluate this often at most. */
const MAX_EVALUATIONS = 3;

/**
 * Candidate → shadow evaluation against production → quality gates → production, or not. With
 * policy `manual` (or `ask-on-failure` when a gate fails) it waits for a person's `approve` or
 * `reject` update, raising MlopsNeedsAttention meanwhile. Production is set with compare-and-set
 * against the version the candidate was compared with, and only after the candidate's file is
 * checked to load, so production never points at a model that was not compared or cannot load.
 * With policy `canary` the candidate then answers a growing share of live requests on the model
 * servers (promote/canary.ts) and production moves only after the last step; a failing step
 * rejects it, which is the rollback (production never moved). Model servers shadow the candidate
 * while it is evaluated or reviewed; what they saw becomes the report's "online shadow" section.
 */
export async function promoteModel(raw: PromoteRequest): Promise<PromotionStatus> {
  return endAfterFlags(() => runPromoteModel(raw));
}

async function runPromoteModel(raw: PromoteRequest): Promise<PromotionStatus> {
  const request = parseInput(promoteRequestSchema, raw, 'promotion request');
  const { model } = request;
  // Handlers first: a query or a review may arrive before the first activity returns.
  const promotion = newPromotion(request);
  registerPromotionHandlers(promotion);
  upsertSearchAttributes([...promoteSearchAttributes(model), { key: MlopsNeedsAttention, value: false }]);
  let registry = await readRegistry({ model });
  const candidate = candidateIn(registry, request);
  promotion.status.candidate = candidate.version;

  for (let evaluation = 1; evaluation <= MAX_EVALUATIONS; evaluation++) {
    const production = registry.aliases.production;
    if (production === candidate.version) return finish(promotion, 'promoted', request.by, 'already production');
    const baseline = productionOf(registry);
    const evaluated = await shadowEvaluate(promotion, candidate, baseline, evaluation);
    if ('notLoading' in evaluated) return finish(promotion, 'rejected', request.by, evaluated.notLoading);
    const verdict = await decide(promotion, evaluated.outcome, baseline);
    if (verdict.outcome === 'reject') return finish(promotion, 'rejected', verdict.by, verdict.reason);

    promotion.status.phase = 'promoting';
    const notLoading = await loadFailure(candidate);
    if (notLoading) return finish(promotion, 'rejected', verdict.by, notLoading);
    let reason = verdict.reason;
    if (request.policy === 'canary' && !baseline) {
      // Servers answer nothing without a production version: there is no traffic to split.
      reason = `${verdict.reason}; no canary: there is no production version to share traffic with`;
    } else if (request.policy === 'canary') {
      // Only policy canary (new with it) runs these commands: older histories never reach them.
      const canary = await runCanary(promotion, candidate, baseline);
      if (!canary.passed) return finish(promotion, 'rejected', canary.by, canary.reason);
      promotion.status.phase = 'promoting';
      reason = `${verdict.reason}; ${canary.detail}`;
    }
    if (await setProduction(promotion, { ...verdict, reason }, evaluated.outcome, production)) return finish(promotion, 'promoted', verdict.by, reason);
    registry = await readRegistry({ model });
    // Our own earlier attempt succeeded and only its reply was lost: done.
    if (registry.aliases.production === candidate.version) return finish(promotion, 'promoted', verdict.by, reason);
    // Another promotion won meanwhile: compare again, with the new production as the baseline.
    log.info('production changed during the promotion; evaluating again', { model, candidate: candidate.version });
  }
  return finish(promotion, 'rejected', request.by, `production kept changing during ${MAX_EVALUATIONS} evaluations`);
}
