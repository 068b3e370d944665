import {
  condition,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { activityOptions } from './activity-options';
import { failureOfType, userError } from '../errors';
import type { EvaluationOutcome } from '../evaluation/outcome';
import { type PromoteRequest, promoteRequestSchema } from '../evaluation/request';
import type { ModelVersionSummary } from '../models/card';
import { MlopsNeedsAttention, MlopsStage } from '../temporal/search-attributes';
import { parseInput } from '../validation';
import { productionOf, type PromotionEvidence, type RegistryState, versionOf } from '../api/registry';
import { approveUpdate, promoteSearchAttributes, type PromotionStatus, promotionStatusQuery, type ReviewInput, rejectUpdate } from '../api/promote';
import { ALIAS_CHANGED, requireText } from './registry';

const { readRegistry, setRegistryAlias, rejectRegistryVersion, checkModelLoads } = proxyActivities<Activities>(activityOptions.quick);

const { evaluateCandidate } = proxyActivities<Activities>(activityOptions.modelWork);

/** Production may change under a running promotion (another one finished first); re-evaluate this often at most. */
const MAX_EVALUATIONS = 3;

/** Production moved under the compare-and-set; histories from before AliasChanged recorded it as a RegistryRefused saying so. */
function lostCompareAndSet(err: unknown): boolean {
  return !!failureOfType(err, 'AliasChanged') || !!failureOfType(err, 'RegistryRefused')?.message.startsWith(ALIAS_CHANGED);
}

/** Where a person reads the evidence: the page with charts (and the command that opens it), else the Markdown. */
function reportToOpen(model: string, evaluation: { reportUri: string; markdownUri: string; htmlUri?: string }): string {
  if (!evaluation.htmlUri) return `Report: \`${evaluation.markdownUri}\``;
  const id = evaluation.reportUri.split('/').pop()!.replace(/\.json$/, '');
  return `Report: \`${evaluation.htmlUri}\` — open it with \`mlops report ${model} --evaluation ${id} --open\``;
}

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
  const status: PromotionStatus = { model, candidate: request.candidateVersion ?? '', phase: 'evaluating' };
  let review: { approved: boolean; by: string; reason: string } | undefined;
  setHandler(promotionStatusQuery, () => status);
  const validateReview = (input: ReviewInput) => {
    if (status.phase !== 'waiting-for-review') throw new Error(`promotion of ${model}@${status.candidate} is not waiting for a review (it is ${status.phase})`);
    if (input?.version !== status.candidate) throw new Error(`this promotion reviews version ${status.candidate}, not "${input?.version}"`);
    requireText(input.by, 'by');
    requireText(input.reason, 'reason');
  };
  const onReview = (approved: boolean) => (input: ReviewInput) => {
    review = { approved, by: input.by, reason: input.reason };
    if (approved) status.approval = { by: input.by, reason: input.reason, at: new Date().toISOString() };
    status.phase = approved ? 'promoting' : 'rejected'; // a second review is refused from here on
    return status;
  };
  setHandler(approveUpdate, onReview(true), { validator: validateReview });
  setHandler(rejectUpdate, onReview(false), { validator: validateReview });
  upsertSearchAttributes([...promoteSearchAttributes(model), { key: MlopsNeedsAttention, value: false }]);
  const registry = await readRegistry({ model });
  const candidateVersion = request.candidateVersion ?? registry.aliases.candidate;
  if (!candidateVersion) throw userError('InvalidInput', `Model "${model}" has no candidate to promote`);
  const candidate = versionOf(registry, candidateVersion);
  if (!candidate) throw userError('InvalidInput', `Model "${model}" has no version ${candidateVersion}`);
  if (candidate.status === 'archived') throw userError('InvalidInput', `Version ${candidateVersion} is archived`);
  status.candidate = candidateVersion;
  const finish = async (outcome: 'promoted' | 'rejected', by: string, reason: string) => {
    status.phase = outcome;
    status.decision = { outcome, by, reason, at: new Date().toISOString() };
    setCurrentDetails(`**${outcome}** ${model}@${candidateVersion} by ${by}: ${reason}${status.evaluation ? `\n\n${reportToOpen(model, status.evaluation)}` : ''}`);
    upsertSearchAttributes([{ key: MlopsNeedsAttention, value: false }]);
    if (outcome === 'rejected') {
      await rejectRegistryVersion({ model, version: candidateVersion, by, reason, evidenceUri: status.evaluation?.markdownUri });
    }
    return status;
  };
  const { dataset, datasetVersion, sliceColumns, batchSize, gates } = request;
  const evaluationOptions = { ...(dataset ? { dataset } : {}), datasetVersion, sliceColumns, batchSize, gates };
  let state: RegistryState = registry;
  for (let evaluation = 1; evaluation <= MAX_EVALUATIONS; evaluation++) {
    const productionVersion = state.aliases.production;
    const baseline: ModelVersionSummary | undefined = productionVersion !== candidateVersion ? productionOf(state) : undefined;
    if (productionVersion === candidateVersion) return finish('promoted', request.by, 'already production');
    status.baseline = baseline?.version;
    status.phase = 'evaluating';
    // An approval answers one evaluation; a new one (production changed) asks again.
    status.approval = undefined;
    let outcome: EvaluationOutcome;
    try {
      setCurrentDetails(`Shadow evaluation of ${model}@${candidateVersion} against ${baseline?.version ?? 'no production model'} (evaluation ${evaluation})`);
      outcome = await evaluateCandidate.executeWithOptions(
        { summary: `Shadow: ${candidateVersion} vs ${baseline?.version ?? 'none'}` },
        [{ candidate, baseline, options: evaluationOptions }],
      );
    } catch (err) {
      const notLoading = failureOfType(err, 'ModelLoadError');
      if (notLoading) return finish('rejected', request.by, notLoading.message);
      throw err;
    }
    status.evaluation = {
      reportUri: outcome.reportUri,
      markdownUri: outcome.markdownUri,
      ...(outcome.htmlUri ? { htmlUri: outcome.htmlUri } : {}),
      rows: outcome.rows,
      passed: outcome.passed,
      gates: outcome.gates,
      primaryMetric: outcome.primaryMetric,
      candidateValue: outcome.candidateValue,
      baselineValue: outcome.baselineValue,
    };
    const failed = outcome.gates.filter((g) => !g.passed);
    const verdict = failed.length ? `gates failed: ${failed.map((g) => `${g.gate} (${g.detail})`).join('; ')}` : 'all gates passed';
    let by = request.by;
    let reason = verdict;
    // What the registry checks before production moves: this report passed, or a person approved it here.
    let evidence: PromotionEvidence = { kind: 'gates-passed', reportUri: outcome.reportUri };
    const needsPerson = request.policy === 'manual' || (request.policy === 'ask-on-failure' && !outcome.passed);
    if (needsPerson) {
      review = undefined;
      status.phase = 'waiting-for-review';
      status.waitingSince = new Date().toISOString();
      upsertSearchAttributes([{ key: MlopsNeedsAttention, value: true }]);
      setCurrentDetails(
        `**Waiting for a review** of ${model}@${candidateVersion} against ${baseline?.version ?? 'no production model'}: ${verdict}.\n\n` +
          `${reportToOpen(model, outcome)}\n\nAnswer with \`mlops approve ${model} ${candidateVersion} --reason …\` or \`mlops reject ${model} ${candidateVersion} --reason …\` (timeout ${request.approvalTimeout}: ${request.onTimeout}).`,
      );
      log.info('waiting for a review', { model, candidate: candidateVersion, verdict });
      const reviewed = await condition(() => review !== undefined, request.approvalTimeout as `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`);
      // A review accepted in the same activation as the timer still counts.
      if (!reviewed && review === undefined) {
        if (request.onTimeout === 'reject') return finish('rejected', 'timeout', `no review within ${request.approvalTimeout}; ${verdict}`);
        status.escalatedAt = new Date().toISOString();
        upsertSearchAttributes([{ key: MlopsStage, value: 'promote-escalated' }]);
        log.warn('review overdue: escalated, still waiting', { model, candidate: candidateVersion });
        await condition(() => review !== undefined);
      }
      const r = review!;
      if (!r.approved) return finish('rejected', r.by, r.reason);
      by = r.by;
      reason = `approved: ${r.reason} (${verdict})`;
      evidence = { kind: 'approved', reportUri: outcome.reportUri, promotion: workflowInfo().workflowId };
    } else if (!outcome.passed) {
      return finish('rejected', by, verdict);
    }
    status.phase = 'promoting';
    try {
      await checkModelLoads(candidate);
    } catch (err) {
      const notLoading = failureOfType(err, 'ModelLoadError');
      if (notLoading) return finish('rejected', by, notLoading.message);
      throw err;
    }
    try {
      await setRegistryAlias({
        model,
        alias: 'production',
        version: candidateVersion,
        by,
        reason,
        evidenceUri: outcome.markdownUri,
        evidence,
        expectedCurrent: productionVersion ?? null,
      });
      return finish('promoted', by, reason);
    } catch (err) {
      if (!lostCompareAndSet(err)) throw err;
      state = await readRegistry({ model });
      // Our own earlier attempt succeeded and only its reply was lost: done.
      if (state.aliases.production === candidateVersion) return finish('promoted', by, reason);
      // Another promotion won meanwhile: compare again, with the new production as the baseline.
      log.info('production changed during the promotion; evaluating again', { model, candidate: candidateVersion });
    }
  }
  return finish('rejected', request.by, `production kept changing during ${MAX_EVALUATIONS} evaluations`);
}
