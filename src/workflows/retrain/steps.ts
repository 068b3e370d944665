import { condition, isCancellation, log, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { type Duration, durationMs } from '../../duration';
import { rootApplicationFailure, userError } from '../../errors';
import type { TrainingSpec } from '../../training/spec';
import { MlopsNeedsAttention, MlopsStage } from '../../temporal/search-attributes';
import { productionOf, type RegistryVersion, versionOf } from '../../api/registry';
import type { DecisionInput, RetrainStatus } from '../../api/retrain';
import { checkModelLoads, readRegistry, reproduceTraining, setRegistryAlias, trainingSpecOf } from './activities';
import { now, type RetrainLoop, retryWith } from './state';
import { answerCommands } from '../../notifications/flags';
import { raiseFlag } from '../flags';

/** The loop is over: the outcome recorded, shown, and the flag down. */
export function finish({ status }: RetrainLoop, outcome: RetrainStatus['outcome']): RetrainStatus {
  status.phase = 'done';
  status.outcome = outcome;
  status.escalation = undefined;
  setCurrentDetails(
    `**${outcome}** after ${status.attemptsMade} attempt(s); production ${status.production ?? '(none)'}${status.decision ? ` — ${status.decision.action} by ${status.decision.by}: ${status.decision.reason}` : ''}`,
  );
  upsertSearchAttributes([{ key: MlopsNeedsAttention, value: false }]);
  return status;
}

/** Where an attempt starts from: production and its training spec, or why a person must look first. */
export type StartingPoint = { production: RegistryVersion; spec: TrainingSpec } | { blocked: string };

/**
 * Production and how it was trained; unless proven already (or skipped), the proof that the
 * pipeline reproduces it on its own data.
 */
export async function startFromProduction(loop: RetrainLoop): Promise<StartingPoint> {
  const { request, status } = loop;
  const { model } = request;
  const registry = await readRegistry({ model });
  const production = productionOf(registry);
  if (!production) throw userError('NoProductionModel', `Model "${model}" has no production version to improve on; promote one first`);
  status.production = production.version;
  let spec: TrainingSpec;
  try {
    spec = await trainingSpecOf({ summary: production });
    if (request.baselineProof.enabled && status.proof?.version !== production.version) {
      status.phase = 'proving-baseline';
      setCurrentDetails(`Baseline proof: retraining production ${production.version} on its own data`);
      status.proof = await reproduceTraining.executeWithOptions({ summary: `Baseline proof: reproduce ${production.version}` }, [
        { summary: production, tolerance: request.baselineProof.tolerance, primaryMetric: request.gates.primaryMetric, at: now() },
      ]);
    }
  } catch (err) {
    // A card gone, training data deleted, a trainer this worker may not run: a person must look.
    const cause = rootApplicationFailure(err);
    if (isCancellation(err) || !cause?.nonRetryable) throw err;
    return { blocked: `cannot start from production ${production.version}: ${cause.message} (retry with skipBaselineProof if only the proof is affected)` };
  }
  if (request.baselineProof.enabled && !status.proof!.passed) {
    const p = status.proof!;
    return {
      blocked: `baseline proof failed: retraining ${p.version} on its own data gave ${p.primaryMetric} ${p.reproduced} vs ${p.registered} registered (tolerance ${p.tolerance}); fix the pipeline or retry with skipBaselineProof`,
    };
  }
  return { production, spec };
}

/** Why the attempts since the last budget started are enough (count or time), or undefined to go on. */
export function budgetSpent({ request, status }: RetrainLoop): string | undefined {
  const elapsed = Date.now() - Date.parse(status.budgetStartedAt);
  const used = status.attemptsMade - status.budgetFrom;
  if (used < status.maxAttempts && elapsed < durationMs(request.maxDuration)) return undefined;
  return `no improvement after ${used} attempt(s) in ${Math.round(elapsed / 60_000)} min (limits: ${status.maxAttempts} attempts, ${request.maxDuration}); last: ${status.attempts.at(-1)?.reason ?? 'none'}`;
}

/**
 * Raises MlopsNeedsAttention and waits for a person (escalationTimeout: then it gives up);
 * returns true to go on attempting, false when the loop is over.
 */
export async function escalate(loop: RetrainLoop, reason: string): Promise<boolean> {
  const { status } = loop;
  const { model, escalationTimeout } = loop.request;
  status.phase = 'escalated';
  status.escalation = { at: now(), reason };
  loop.decision = undefined;
  upsertSearchAttributes([
    { key: MlopsNeedsAttention, value: true },
    { key: MlopsStage, value: 'retrain-escalated' },
  ]);
  setCurrentDetails(
    `**Waiting for a person**: ${reason}\n\nAnswer with \`mlops decide ${model} retry|accept-current|force-promote|abort --reason …\` (timeout ${escalationTimeout}).`,
  );
  void raiseFlag({ kind: 'retrain-escalated', model, summary: `the retraining loop waits for a person: ${reason}`, commands: answerCommands.retrainEscalated(model) });
  log.warn('retraining needs a person', { model, reason });
  const answered = await condition(() => loop.decision !== undefined, escalationTimeout as Duration);
  upsertSearchAttributes([
    { key: MlopsNeedsAttention, value: false },
    { key: MlopsStage, value: 'retrain' },
  ]);
  status.escalation = undefined;
  // A decision accepted in the same activation as the timer still counts.
  if (!answered && !loop.decision) {
    status.decision = { action: 'timeout', by: 'timeout', reason: `no decision within ${escalationTimeout}`, at: now() };
    finish(loop, 'gave-up');
    return false;
  }
  const d = loop.decision!;
  if (d.action === 'abort') return (finish(loop, 'aborted'), false);
  if (d.action === 'acceptCurrent') return (finish(loop, 'accepted-current'), false);
  if (d.action === 'forcePromote') {
    try {
      await forcePromote(loop, d.input.version, d.input);
      return false;
    } catch (err) {
      // E.g. production changed meanwhile, or the file no longer loads: ask again, saying why.
      return escalate(loop, `force-promote of ${d.input.version} failed: ${rootApplicationFailure(err)?.message ?? (err as Error).message}`);
    }
  }
  retryWith(loop, d.input.overrides ?? {});
  return true;
}

/** A person's force-promote: the version must load, and production must still be what they saw. */
async function forcePromote(loop: RetrainLoop, version: string, by: DecisionInput): Promise<void> {
  const { status } = loop;
  const { model } = loop.request;
  const registry = await readRegistry({ model });
  const summary = versionOf(registry, version);
  if (!summary) throw userError('InvalidInput', `Model "${model}" has no version ${version}`);
  await checkModelLoads(summary);
  await setRegistryAlias({
    model,
    alias: 'production',
    version,
    by: by.by,
    reason: `forced by a person after retraining did not improve: ${by.reason}`,
    // The production the person saw when deciding: if it changed since, refuse and ask again.
    expectedCurrent: status.production ?? null,
    evidence: { kind: 'forced', loop: workflowInfo().workflowId },
  });
  status.production = version;
  finish(loop, 'force-promoted');
}
