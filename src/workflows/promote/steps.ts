import { condition, log, patched, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { type Duration, durationMs } from '../../duration';
import { failureOfType } from '../../errors';
import type { EvaluationOutcome } from '../../evaluation/outcome';
import type { ModelVersionSummary } from '../../models/card';
import { MlopsNeedsAttention, MlopsStage } from '../../temporal/search-attributes';
import type { PromotionEvidence, RegistryVersion } from '../../api/registry';
import type { PromotionStatus } from '../../api/promote';
import { ALIAS_CHANGED } from '../registry/handlers';
import { checkModelLoads, evaluateCandidate, recordOnlineShadow, rejectRegistryVersion, setRegistryAlias } from './activities';
import type { Promotion, Review } from './state';
import { answerCommands } from '../../notifications/flags';
import { raiseFlag } from '../flags';

/** What the promotion decided about one evaluation: production moves, with what evidence, or not. */
export type Verdict = { outcome: 'promote'; by: string; reason: string; evidence: PromotionEvidence } | { outcome: 'reject'; by: string; reason: string };

/** Production moved under the compare-and-set; histories from before AliasChanged recorded it as a RegistryRefused saying so. */
function lostCompareAndSet(err: unknown): boolean {
  return !!failureOfType(err, 'AliasChanged') || !!failureOfType(err, 'RegistryRefused')?.message.startsWith(ALIAS_CHANGED);
}

/** The message of a candidate whose file does not load (a rejection, not a failure); rethrows anything else. */
function notLoading(err: unknown): string {
  const failure = failureOfType(err, 'ModelLoadError');
  if (failure) return failure.message;
  throw err;
}

/** Where a person reads the evidence: the page with charts (and the command that opens it), else the Markdown. */
function reportToOpen(model: string, evaluation: { reportUri: string; markdownUri: string; htmlUri?: string }): string {
  if (!evaluation.htmlUri) return `Report: \`${evaluation.markdownUri}\``;
  const id = evaluation.reportUri
    .split('/')
    .pop()!
    .replace(/\.json$/, '');
  return `Report: \`${evaluation.htmlUri}\` — open it with \`mlops report ${model} --evaluation ${id} --open\``;
}

/** The end of the promotion: recorded in the status, shown, and a rejection recorded in the registry. */
export async function finish({ request, status }: Promotion, outcome: 'promoted' | 'rejected', by: string, reason: string): Promise<PromotionStatus> {
  const { model } = request;
  status.phase = outcome;
  status.decision = { outcome, by, reason, at: new Date().toISOString() };
  setCurrentDetails(`**${outcome}** ${model}@${status.candidate} by ${by}: ${reason}${status.evaluation ? `\n\n${reportToOpen(model, status.evaluation)}` : ''}`);
  upsertSearchAttributes([{ key: MlopsNeedsAttention, value: false }]);
  if (outcome === 'rejected') {
    await rejectRegistryVersion({ model, version: status.candidate, by, reason, evidenceUri: status.evaluation?.markdownUri });
  }
  return status;
}

/** Shadow evaluation of the candidate against production (if any), kept in the status; a candidate that does not load is rejected. */
export async function shadowEvaluate(
  { request, status }: Promotion,
  candidate: RegistryVersion,
  baseline: ModelVersionSummary | undefined,
  evaluation: number,
): Promise<{ outcome: EvaluationOutcome } | { notLoading: string }> {
  const { model, dataset, datasetVersion, sliceColumns, batchSize, gates } = request;
  const options = { ...(dataset ? { dataset } : {}), datasetVersion, sliceColumns, batchSize, gates };
  status.baseline = baseline?.version;
  status.phase = 'evaluating';
  // An approval answers one evaluation; a new one (production changed) asks again.
  status.approval = undefined;
  let outcome: EvaluationOutcome;
  try {
    setCurrentDetails(`Shadow evaluation of ${model}@${candidate.version} against ${baseline?.version ?? 'no production model'} (evaluation ${evaluation})`);
    outcome = await evaluateCandidate.executeWithOptions({ summary: `Shadow: ${candidate.version} vs ${baseline?.version ?? 'none'}` }, [{ candidate, baseline, options }]);
  } catch (err) {
    return { notLoading: notLoading(err) };
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
  return { outcome };
}

/**
 * Model servers shadow the candidate while it is evaluated and reviewed; once the decision is
 * made, what they saw joins the report. Histories from before this replay without the activity.
 */
const ONLINE_SHADOW_SECTION = 'online-shadow-section';

async function addOnlineShadow({ status }: Promotion, outcome: EvaluationOutcome): Promise<void> {
  if (!patched(ONLINE_SHADOW_SECTION)) return;
  const summary = await recordOnlineShadow({
    model: status.model,
    candidate: status.candidate,
    promotionRun: workflowInfo().runId,
    reportUri: outcome.reportUri,
    markdownUri: outcome.markdownUri,
    ...(outcome.htmlUri ? { htmlUri: outcome.htmlUri } : {}),
  });
  if (summary) status.onlineShadow = summary;
}

/** While a person reviews, the report's online shadow section is refreshed this often (what they read grows with the traffic). */
const SHADOW_REFRESH_MS = 15 * 60_000;

/** Whether a review arrives within the approval timeout; histories from before the online shadow wait in one timer. */
async function reviewWithinTimeout(promotion: Promotion, outcome: EvaluationOutcome): Promise<boolean> {
  const arrived = () => promotion.review !== undefined;
  const timeout = promotion.request.approvalTimeout as Duration;
  if (!patched(ONLINE_SHADOW_SECTION)) return condition(arrived, timeout);
  const deadline = Date.now() + durationMs(timeout);
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    if (await condition(arrived, Math.min(left, SHADOW_REFRESH_MS))) return true;
    if (Date.now() < deadline) await addOnlineShadow(promotion, outcome);
  }
}

/** The gates decide (and the online shadow joins the report), unless the policy asks a person first. */
export async function decide(promotion: Promotion, outcome: EvaluationOutcome, baseline: ModelVersionSummary | undefined): Promise<Verdict> {
  const verdict = await gatesOrPerson(promotion, outcome, baseline);
  await addOnlineShadow(promotion, outcome);
  return verdict;
}

/** The gates decide, unless the policy asks a person (always with `manual`, on a failed gate with `ask-on-failure`). */
async function gatesOrPerson(promotion: Promotion, outcome: EvaluationOutcome, baseline: ModelVersionSummary | undefined): Promise<Verdict> {
  const { request } = promotion;
  const failed = outcome.gates.filter((g) => !g.passed);
  const verdict = failed.length ? `gates failed: ${failed.map((g) => `${g.gate} (${g.detail})`).join('; ')}` : 'all gates passed';
  const needsPerson = request.policy === 'manual' || (request.policy === 'ask-on-failure' && !outcome.passed);
  if (!needsPerson) {
    if (!outcome.passed) return { outcome: 'reject', by: request.by, reason: verdict };
    // What the registry checks before production moves: this report passed…
    return { outcome: 'promote', by: request.by, reason: verdict, evidence: { kind: 'gates-passed', reportUri: outcome.reportUri } };
  }
  const review = await waitForReview(promotion, outcome, baseline, verdict);
  if (!review) return { outcome: 'reject', by: 'timeout', reason: `no review within ${request.approvalTimeout}; ${verdict}` };
  if (!review.approved) return { outcome: 'reject', by: review.by, reason: review.reason };
  // … or a person approved it here.
  return {
    outcome: 'promote',
    by: review.by,
    reason: `approved: ${review.reason} (${verdict})`,
    evidence: { kind: 'approved', reportUri: outcome.reportUri, promotion: workflowInfo().workflowId },
  };
}

/**
 * Raises MlopsNeedsAttention and waits for `approve` or `reject`. Past the approval timeout it
 * gives up (undefined: onTimeout `reject`) or escalates (MlopsStage promote-escalated) and waits on.
 */
async function waitForReview(promotion: Promotion, outcome: EvaluationOutcome, baseline: ModelVersionSummary | undefined, verdict: string): Promise<Review | undefined> {
  const { request, status } = promotion;
  const { model } = request;
  const candidateVersion = status.candidate;
  promotion.review = undefined;
  status.phase = 'waiting-for-review';
  status.waitingSince = new Date().toISOString();
  upsertSearchAttributes([{ key: MlopsNeedsAttention, value: true }]);
  setCurrentDetails(
    `**Waiting for a review** of ${model}@${candidateVersion} against ${baseline?.version ?? 'no production model'}: ${verdict}.\n\n` +
      `${reportToOpen(model, outcome)}\n\nAnswer with \`mlops approve ${model} ${candidateVersion} --reason …\` or \`mlops reject ${model} ${candidateVersion} --reason …\` (timeout ${request.approvalTimeout}: ${request.onTimeout}).`,
  );
  log.info('waiting for a review', { model, candidate: candidateVersion, verdict });
  void raiseFlag({
    kind: 'promotion-review',
    model,
    summary: `candidate ${model}@${candidateVersion} waits for a review against ${baseline?.version ?? 'no production model'}: ${verdict}`,
    commands: answerCommands.promotionReview(model, candidateVersion),
    details: { candidate: candidateVersion, ...(baseline ? { production: baseline.version } : {}) },
  });
  const reviewed = await reviewWithinTimeout(promotion, outcome);
  // A review accepted in the same activation as the timer still counts.
  if (!reviewed && promotion.review === undefined) {
    if (request.onTimeout === 'reject') return undefined;
    status.escalatedAt = new Date().toISOString();
    upsertSearchAttributes([{ key: MlopsStage, value: 'promote-escalated' }]);
    log.warn('review overdue: escalated, still waiting', { model, candidate: candidateVersion });
    await condition(() => promotion.review !== undefined);
  }
  return promotion.review!;
}

/** Checked right before production moves, so production never points at a file that cannot load; the message when it does not. */
export async function loadFailure(candidate: RegistryVersion): Promise<string | undefined> {
  try {
    await checkModelLoads(candidate);
    return undefined;
  } catch (err) {
    return notLoading(err);
  }
}

/**
 * Production := candidate, compare-and-set against the production it was compared with; false
 * when another change won meanwhile.
 */
export async function setProduction(
  { request, status }: Promotion,
  verdict: Extract<Verdict, { outcome: 'promote' }>,
  outcome: EvaluationOutcome,
  comparedWith: string | undefined,
): Promise<boolean> {
  try {
    await setRegistryAlias({
      model: request.model,
      alias: 'production',
      version: status.candidate,
      by: verdict.by,
      reason: verdict.reason,
      evidenceUri: outcome.markdownUri,
      evidence: verdict.evidence,
      expectedCurrent: comparedWith ?? null,
    });
    return true;
  } catch (err) {
    if (!lostCompareAndSet(err)) throw err;
    return false;
  }
}
