import { log, upsertSearchAttributes } from '@temporalio/workflow';
import { type PromoteRequest, promoteRequestSchema } from '../evaluation/request';
import { MlopsNeedsAttention } from '../temporal/search-attributes';
import { parseInput } from '../validation';
import { productionOf } from '../api/registry';
import { promoteSearchAttributes, type PromotionStatus } from '../api/promote';
import { readRegistry } from './promote/activities';
import { registerPromotionHandlers } from './promote/handlers';
import { candidateIn, newPromotion } from './promote/state';
import { decide, finish, loadFailure, setProduction, shadowEvaluate } from './promote/steps';

/** Production may change under a running promotion (another one finished first); re-evaluate this often at most. */
const MAX_EVALUATIONS = 3;

/**
 * Candidate → shadow evaluation against production → quality gates → production, or not. With
 * policy `manual` (or `ask-on-failure` when a gate fails) it waits for a person's `approve` or
 * `reject` update, raising MlopsNeedsAttention meanwhile. Production is set with compare-and-set
 * against the version the candidate was compared with, and only after the candidate's file is
 * checked to load, so production never points at a model that was not compared or cannot load.
 */
export async function promoteModel(raw: PromoteRequest): Promise<PromotionStatus> {
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
    if (await setProduction(promotion, verdict, evaluated.outcome, production)) return finish(promotion, 'promoted', verdict.by, verdict.reason);
    registry = await readRegistry({ model });
    // Our own earlier attempt succeeded and only its reply was lost: done.
    if (registry.aliases.production === candidate.version) return finish(promotion, 'promoted', verdict.by, verdict.reason);
    // Another promotion won meanwhile: compare again, with the new production as the baseline.
    log.info('production changed during the promotion; evaluating again', { model, candidate: candidate.version });
  }
  return finish(promotion, 'rejected', request.by, `production kept changing during ${MAX_EVALUATIONS} evaluations`);
}
