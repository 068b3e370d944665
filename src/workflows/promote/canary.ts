import { condition, log, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { durationMs } from '../../duration';
import { canarySchema, type CanaryOptions } from '../../evaluation/request';
import { type CanaryJudgement, type CanaryStatus, type CanaryStepRecord, judgeCanaryStep, LATENCY_MIN_REQUESTS, type TrafficSummary } from '../../api/online';
import { MlopsNeedsAttention, MlopsStage } from '../../temporal/search-attributes';
import { answerCommands } from '../../notifications/flags';
import { raiseFlag } from '../flags';
import { readOnlineTraffic } from './activities';
import type { ModelVersionSummary } from '../../models/card';
import type { Promotion } from './state';

type CardRef = Pick<ModelVersionSummary, 'model' | 'version' | 'cardUri'>;

/** How a canary ended: passed every step (production may move), or rolled back (the candidate is rejected). */
export type CanaryResult = { passed: true; detail: string } | { passed: false; by: string; reason: string };

export function canaryOptionsOf(promotion: Promotion): CanaryOptions {
  return canarySchema.parse(promotion.request.canary ?? {});
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
const side = (t: TrafficSummary) => `${t.rows} rows, flagged ${pct(t.flaggedShare)}, p99 ${t.p99Ms ?? '–'} ms, ${t.errors} errors`;

/** The Web UI's "current details" of a running canary: where it is, the numbers so far, how to steer it. */
function describeCanary({ request, status }: Promotion, options: CanaryOptions): void {
  const canary = status.canary!;
  const { model } = request;
  const steps = canary.steps.map((s, i) => (i === canary.step ? `**${s} %**` : `${s} %`)).join(' → ');
  const state = canary.paused
    ? `**Paused** by ${canary.paused.by} (${canary.paused.reason}) — waits for \`mlops canary advance ${model}\` or \`mlops canary abort ${model}\``
    : `holding until ${canary.holdUntil} (and at least ${options.minRows} candidate rows)`;
  const live = canary.current?.live;
  const liveText = live
    ? `\n\nlive ${live.metric}: candidate ${live.candidate.value ?? '–'} on ${live.candidate.rows} labeled rows, production ${live.production.value ?? '–'} on ${live.production.rows}`
    : '';
  const current = canary.current ? `\n\ncandidate: ${side(canary.current.candidate)}\n\nproduction: ${side(canary.current.production)}${liveText}` : '';
  const done = canary.history.map((h) => `- ${h.share} %: ${h.outcome} (${h.detail})`).join('\n');
  setCurrentDetails(
    `**Canary** of ${model}@${status.candidate} against ${status.baseline ?? 'no production model'}: ${steps}; ${state}.${current}` +
      `${done ? `\n\n${done}` : ''}\n\nSteer it with \`mlops canary pause|advance|abort ${model} --reason …\`.`,
  );
}

function record(canary: CanaryStatus, outcome: CanaryStepRecord['outcome'], by: string, detail: string, judgement: CanaryJudgement | undefined): void {
  const empty: TrafficSummary = { requests: 0, rows: 0, flaggedShare: 0, errors: 0, meanOutput: null, p50Ms: null, p99Ms: null };
  canary.history.push({
    share: canary.share,
    startedAt: canary.stepStartedAt,
    endedAt: new Date().toISOString(),
    outcome,
    by,
    detail,
    candidate: judgement?.candidate ?? empty,
    production: judgement?.production ?? empty,
  });
}

/** The person's advance or abort the handlers left, once (set by an update while the loop waited). */
function takeControl(promotion: Promotion): Promotion['canaryControl'] {
  const control = promotion.canaryControl;
  promotion.canaryControl = undefined;
  return control;
}

/**
 * Policy canary, after the offline gates passed and the candidate's file loads: model servers
 * answer `steps[i]` % of live requests with it (they read the share from the status), each step
 * held for `hold` and judged every `checkEvery` on what the servers wrote to the store. A gate
 * that fails rolls back at once: production never moved, so ending the canary is the rollback.
 * A person may pause (the clock stops; the gates still judge), advance or abort (handlers.ts).
 */
export async function runCanary(promotion: Promotion, candidate: CardRef, production: CardRef | undefined): Promise<CanaryResult> {
  const { request, status } = promotion;
  const startedAt = new Date().toISOString();
  // Only the references a card is read by: this rides in every check's input.
  const ref = (v: CardRef): CardRef => ({ model: v.model, version: v.version, cardUri: v.cardUri });
  const live = production ? { candidate: ref(candidate), production: ref(production), since: startedAt } : undefined;
  const options = canaryOptionsOf(promotion);
  const holdMs = durationMs(options.hold);
  const checkMs = durationMs(options.checkEvery);
  const canary: CanaryStatus = { steps: options.steps, step: 0, share: 0, stepStartedAt: '', holdUntil: '', history: [] };
  status.canary = canary;
  status.phase = 'canary';
  promotion.canaryControl = undefined;
  let baselineP99: number | null = null;
  const end = (outcome: 'passed' | 'rolled-back') => {
    canary.outcome = outcome;
    if (outcome === 'rolled-back') canary.share = 0;
    canary.paused = undefined;
    upsertSearchAttributes([
      { key: MlopsStage, value: 'promote' },
      { key: MlopsNeedsAttention, value: false },
    ]);
  };

  for (let i = 0; i < options.steps.length; i++) {
    canary.step = i;
    canary.share = options.steps[i]!;
    canary.stepStartedAt = new Date().toISOString();
    canary.holdUntil = new Date(Date.now() + holdMs).toISOString();
    canary.current = undefined;
    upsertSearchAttributes([{ key: MlopsStage, value: `promote-canary-${canary.share}` }]);
    describeCanary(promotion, options);
    log.info('canary step', { model: request.model, candidate: status.candidate, share: canary.share });
    for (;;) {
      const wait = canary.paused ? checkMs : Math.min(checkMs, Date.parse(canary.holdUntil) - Date.now());
      if (wait > 0) await condition(() => promotion.canaryControl !== undefined, wait);
      const control = takeControl(promotion);
      if (control?.kind === 'abort') {
        record(canary, 'aborted', control.by, control.reason, canary.current);
        end('rolled-back');
        return { passed: false, by: control.by, reason: `canary aborted at ${canary.history.at(-1)!.share} %: ${control.reason}; production stays ${status.baseline ?? 'unset'}` };
      }
      if (control?.kind === 'advance') {
        record(canary, 'advanced', control.by, control.reason, canary.current);
        break;
      }
      const traffic = await readOnlineTraffic({ model: request.model, candidate: status.candidate, promotionRun: workflowInfo().runId, ...(live ? { live } : {}) });
      const judgement = judgeCanaryStep(traffic.canary[String(i)], options, baselineP99, traffic.live);
      canary.current = judgement;
      if (judgement.failed.length) {
        const detail = judgement.failed.join('; ');
        record(canary, 'failed', 'canary gates', detail, judgement);
        end('rolled-back');
        const reason = `canary step ${i + 1} (${canary.history.at(-1)!.share} %) failed: ${detail}; rolled back, production stays ${status.baseline ?? 'unset'}`;
        // The promotion ends with the rejection: the message goes out first.
        await raiseFlag({
          kind: 'canary-rollback',
          model: request.model,
          summary: `${request.model}@${status.candidate}: ${reason}`,
          commands: answerCommands.canaryRollback(request.model),
          details: { candidate: status.candidate, ...(status.baseline ? { production: status.baseline } : {}), step: i + 1 },
        });
        return { passed: false, by: 'canary gates', reason };
      }
      if (!canary.paused && judgement.enough && Date.now() >= Date.parse(canary.holdUntil)) {
        record(canary, 'passed', 'canary gates', `held ${options.hold}: ${side(judgement.candidate)}`, judgement);
        break;
      }
      describeCanary(promotion, options);
    }
    const last = canary.history.at(-1)!;
    if (last.production.requests >= LATENCY_MIN_REQUESTS && last.production.p99Ms !== null) baselineP99 = last.production.p99Ms;
    if (canary.paused) {
      canary.paused = undefined;
      upsertSearchAttributes([{ key: MlopsNeedsAttention, value: false }]);
    }
  }
  end('passed');
  return { passed: true, detail: `canary passed ${canary.steps.map((s) => `${s} %`).join(' → ')}` };
}
