import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { type Duration, durationMs } from '../duration';
import {
  allHandlersFinished,
  isCancellation,
  condition,
  continueAsNew,
  executeChild,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { activityOptions } from './activity-options';
import type { TrainingSpec } from '../training/spec';
import type { ModelVersionSummary } from '../models/card';
import { type RetrainRequest, retrainRequestSchema, type RetryOverrides, retryOverridesSchema, type Strategy } from '../retraining/request';
import { DEFAULT_TRAINING_WINDOW } from '../retraining/training-windows';
import { defaultStrategies } from '../retraining/strategies';
import { MlopsNeedsAttention, MlopsStage } from '../temporal/search-attributes';
import { productionOf, versionOf } from '../api/registry';
import { childWorkflowId } from '../api/search';
import { rootApplicationFailure, userError } from '../errors';
import { parseInput } from '../validation';
import { promoteModel } from './promote';
import { promoteWorkflowId } from '../api/promote';
import { requireText } from './registry';
import {
  abortUpdate,
  acceptCurrentUpdate,
  type AttemptData,
  type AttemptRecord,
  type DecisionInput,
  forcePromoteUpdate,
  type RetrainStatus,
  retrainRequestedSignal,
  retrainSearchAttributes,
  retrainStatusQuery,
  retrainWorkflowId,
  retryUpdate,
} from '../api/retrain';
import { trainModel } from './train';

const { readRegistry, trainingSpecOf, checkModelLoads, setRegistryAlias } = proxyActivities<Activities>(activityOptions.quick);

const { reproduceTraining, prepareRetrainingData } = proxyActivities<Activities>(activityOptions.modelWork);

const KEEP_RECORDS = 20;

/**
 * Attempts prepare their data first (an activity before the training child): labeled production
 * rows in the training window, judged on labeled production rows neither model trained on.
 * Histories recorded before that replay the old command sequence.
 */
export const TRAINING_WINDOW_PATCH = 'retrain-training-window';


/** A person's answer to an escalation, taken by one of the four updates. */
type Decision =
  | { action: 'retry'; input: DecisionInput & { overrides?: RetryOverrides } }
  | { action: 'acceptCurrent'; input: DecisionInput }
  | { action: 'forcePromote'; input: DecisionInput & { version: string } }
  | { action: 'abort'; input: DecisionInput };

/**
 * Retrain until improved (`retrain:<model>`): prove the pipeline reproduces production, then
 * attempt after attempt — latest data, next strategy, train → shadow against production → gates
 * — until a candidate is promoted. Out of attempts or time, it raises MlopsNeedsAttention and
 * waits for a person: `retry` (with overrides), `acceptCurrent`, `forcePromote`, `abort`. Each
 * attempt ends with continue-as-new, carrying the loop's state, so its history stays small.
 */
export async function retrainUntilImproved(raw: RetrainRequest, carried?: RetrainStatus): Promise<RetrainStatus> {
  let request = parseInput(retrainRequestSchema, raw, 'retrain request');
  // The status decides what forcePromote may promote: only the loop's own previous run may hand it over.
  if (carried !== undefined && !workflowInfo().continuedFromExecutionRunId) {
    throw userError('InvalidInput', "A retraining loop's status is carried over by the loop itself (continue-as-new); start it with the request only");
  }
  const { model } = request;
  const now = () => new Date().toISOString();
  const status: RetrainStatus = carried
    ? { ...carried, runs: carried.runs + 1 }
    : {
        model,
        phase: 'proving-baseline',
        attempts: [],
        attemptsMade: 0,
        maxAttempts: request.maxAttempts,
        budgetFrom: 0,
        budgetStartedAt: now(),
        startedAt: now(),
        triggers: [{ at: now(), reason: request.reason, by: request.by }],
        runs: 1,
      };
  let decision: Decision | undefined;

  setHandler(retrainStatusQuery, () => status);
  setHandler(retrainRequestedSignal, (trigger) => {
    // Already running: the new trigger is recorded; the loop it joins answers it. Signal-with-start
    // also delivers the trigger that started the loop, which the request already recorded.
    const t = { reason: String(trigger?.reason ?? 'unspecified'), by: String(trigger?.by ?? 'unknown') };
    const last = status.triggers.at(-1);
    if (status.runs === 1 && status.triggers.length === 1 && last?.reason === t.reason && last.by === t.by) return;
    status.triggers = [...status.triggers, { at: now(), ...t }].slice(-KEEP_RECORDS);
  });
  const whileEscalated = (input: DecisionInput) => {
    if (status.phase !== 'escalated') throw new Error(`the retraining loop of ${model} is not waiting for a decision (it is ${status.phase})`);
    requireText(input?.by, 'by');
    requireText(input.reason, 'reason');
  };
  const take = (d: Decision) => {
    decision = d;
    status.phase = 'attempting'; // any further decision is refused until the next escalation
    status.decision = { action: d.action, by: d.input.by, reason: d.input.reason, at: now(), ...(d.action === 'forcePromote' ? { version: d.input.version } : {}) };
    return status;
  };
  setHandler(retryUpdate, (input) => take({ action: 'retry', input }), {
    validator: (input) => {
      whileEscalated(input);
      // The client's schema: an override reaches timers and training, so anything else is refused here too.
      if (input.overrides !== undefined) parseInput(retryOverridesSchema, input.overrides, 'retry overrides');
    },
  });
  setHandler(acceptCurrentUpdate, (input) => take({ action: 'acceptCurrent', input }), { validator: whileEscalated });
  setHandler(abortUpdate, (input) => take({ action: 'abort', input }), { validator: whileEscalated });
  setHandler(forcePromoteUpdate, (input) => take({ action: 'forcePromote', input }), {
    validator: (input) => {
      whileEscalated(input);
      const tried = status.attempts.filter((a) => a.version && a.outcome !== 'same-as-production').map((a) => a.version!);
      if (!tried.includes(input.version)) throw new Error(`version "${input.version}" was not trained by this loop; choose one of: ${tried.join(', ') || '(none)'}`);
    },
  });
  upsertSearchAttributes([...retrainSearchAttributes(model), { key: MlopsNeedsAttention, value: false }]);

  const finish = (outcome: RetrainStatus['outcome']) => {
    status.phase = 'done';
    status.outcome = outcome;
    status.escalation = undefined;
    setCurrentDetails(`**${outcome}** after ${status.attemptsMade} attempt(s); production ${status.production ?? '(none)'}${status.decision ? ` — ${status.decision.action} by ${status.decision.by}: ${status.decision.reason}` : ''}`);
    upsertSearchAttributes([{ key: MlopsNeedsAttention, value: false }]);
    return status;
  };

  /** Waits for a person; returns true to go on attempting, false when the loop is over. */
  const escalate = async (reason: string): Promise<boolean> => {
    status.phase = 'escalated';
    status.escalation = { at: now(), reason };
    decision = undefined;
    upsertSearchAttributes([
      { key: MlopsNeedsAttention, value: true },
      { key: MlopsStage, value: 'retrain-escalated' },
    ]);
    setCurrentDetails(
      `**Waiting for a person**: ${reason}\n\nAnswer with \`mlops decide ${model} retry|accept-current|force-promote|abort --reason …\` (timeout ${request.escalationTimeout}).`,
    );
    log.warn('retraining needs a person', { model, reason });
    const answered = await condition(() => decision !== undefined, request.escalationTimeout as Duration);
    upsertSearchAttributes([
      { key: MlopsNeedsAttention, value: false },
      { key: MlopsStage, value: 'retrain' },
    ]);
    status.escalation = undefined;
    if (!answered && !decision) {
      status.decision = { action: 'timeout', by: 'timeout', reason: `no decision within ${request.escalationTimeout}`, at: now() };
      finish('gave-up');
      return false;
    }
    const d = decision!;
    if (d.action === 'abort') return (finish('aborted'), false);
    if (d.action === 'acceptCurrent') return (finish('accepted-current'), false);
    if (d.action === 'forcePromote') {
      try {
        await forcePromote(d.input.version, d.input);
        return false;
      } catch (err) {
        // E.g. production changed meanwhile, or the file no longer loads: ask again, saying why.
        return escalate(`force-promote of ${d.input.version} failed: ${rootApplicationFailure(err)?.message ?? (err as Error).message}`);
      }
    }
    const o = d.input.overrides ?? {};
    if (o.maxDuration) request = { ...request, maxDuration: o.maxDuration };
    if (o.strategies) request = { ...request, strategies: o.strategies };
    if (o.gates) request = { ...request, gates: o.gates };
    if (o.skipBaselineProof) request = { ...request, baselineProof: { ...request.baselineProof, enabled: false } };
    if (o.trainingWindow) request = { ...request, trainingWindow: o.trainingWindow };
    if (status.proof && !status.proof.passed) status.proof = undefined; // prove again, unless skipped
    status.maxAttempts = o.maxAttempts ?? request.maxAttempts;
    status.budgetFrom = status.attemptsMade;
    // New strategies start from their first; without them, the rotation goes on where it was.
    if (o.strategies) status.strategyFrom = status.attemptsMade;
    status.budgetStartedAt = now();
    status.phase = 'attempting';
    return true;
  };

  const forcePromote = async (version: string, by: DecisionInput) => {
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
    finish('force-promoted');
  };

  for (;;) {
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
        status.proof = await reproduceTraining.executeWithOptions(
          { summary: `Baseline proof: reproduce ${production.version}` },
          [{ summary: production, tolerance: request.baselineProof.tolerance, primaryMetric: request.gates.primaryMetric, at: now() }],
        );
      }
    } catch (err) {
      // A card gone, training data deleted, a trainer this worker may not run: a person must look.
      const cause = rootApplicationFailure(err);
      if (isCancellation(err) || !cause?.nonRetryable) throw err;
      const goOn = await escalate(`cannot start from production ${production.version}: ${cause.message} (retry with skipBaselineProof if only the proof is affected)`);
      if (!goOn) return status;
      continue;
    }
    if (request.baselineProof.enabled && !status.proof!.passed) {
      const p = status.proof!;
      const goOn = await escalate(
        `baseline proof failed: retraining ${p.version} on its own data gave ${p.primaryMetric} ${p.reproduced} vs ${p.registered} registered (tolerance ${p.tolerance}); fix the pipeline or retry with skipBaselineProof`,
      );
      if (!goOn) return status;
      continue;
    }

    const elapsed = Date.now() - Date.parse(status.budgetStartedAt);
    const used = status.attemptsMade - status.budgetFrom;
    if (used >= status.maxAttempts || elapsed >= durationMs(request.maxDuration)) {
      const goOn = await escalate(
        `no improvement after ${used} attempt(s) in ${Math.round(elapsed / 60_000)} min (limits: ${status.maxAttempts} attempts, ${request.maxDuration}); last: ${status.attempts.at(-1)?.reason ?? 'none'}`,
      );
      if (!goOn) return status;
      continue;
    }

    status.phase = 'attempting';
    setCurrentDetails(`Attempt ${status.attemptsMade + 1} (${used + 1} of ${status.maxAttempts} before asking a person) against production ${production.version}`);
    const record = await attempt(request, status, production, spec);
    status.attempts = [...status.attempts, record].slice(-KEEP_RECORDS);
    status.current = undefined;
    if (record.outcome === 'promoted') {
      status.production = record.version;
      return finish('improved');
    }
    // One attempt per run: the next one starts from a fresh, small history with the state carried.
    await condition(allHandlersFinished);
    return continueAsNew<typeof retrainUntilImproved>(request, status);
  }
}

/** One attempt: its data (the training window), next strategy, train (child) → promote (child: shadow + gates). */
async function attempt(request: RetrainRequest, status: RetrainStatus, production: ModelVersionSummary, spec: TrainingSpec): Promise<AttemptRecord> {
  const n = ++status.attemptsMade;
  const strategies: Strategy[] = request.strategies ?? defaultStrategies(spec.trainer);
  const strategy = strategies[(n - (status.strategyFrom ?? 0) - 1) % strategies.length]!;
  const base = { n, at: new Date().toISOString(), strategy };
  const loopId = workflowInfo().workflowId;
  let data: AttemptData | undefined;
  try {
    if (patched(TRAINING_WINDOW_PATCH)) {
      setCurrentDetails(`Attempt ${n}: preparing the training window (${request.trainingWindow ?? DEFAULT_TRAINING_WINDOW}) against production ${production.version}`);
      data = await prepareRetrainingData.executeWithOptions({ summary: `Attempt ${n}: training window and judging rows` }, [
        {
          summary: production,
          request: {
            ...(request.dataset ? { dataset: request.dataset } : {}),
            ...(request.evaluationDataset ? { evaluationDataset: request.evaluationDataset } : {}),
            ...(request.trainingWindow ? { trainingWindow: request.trainingWindow } : {}),
            ...(request.window ? { window: request.window } : {}),
          },
          at: new Date().toISOString(),
        },
      ]);
      status.current = { n, data };
    }
    const trainOn = data ? { dataset: data.trainedOn.dataset, version: data.trainedOn.version } : { dataset: request.dataset ?? spec.dataset, version: 'latest' };
    const judgeOn = data
      ? { dataset: data.judgedOn.dataset, version: data.judgedOn.version }
      : { dataset: request.evaluationDataset ?? request.dataset ?? spec.dataset, version: 'latest' };
    const trained = await executeChild(trainModel, {
      workflowId: childWorkflowId(loopId, `attempt-${n}`, 'train'),
      staticSummary: `Attempt ${n}: train ${(strategy.trainer ?? spec.trainer).kind} on ${data ? `${trainOn.dataset}@${trainOn.version.slice(0, 8)}` : `the latest ${trainOn.dataset}`}`,
      args: [
        {
          model: request.model,
          dataset: trainOn.dataset,
          datasetVersion: trainOn.version,
          trainer: strategy.trainer ?? spec.trainer,
          seed: strategy.seed ?? spec.seed,
          label: spec.label,
          features: strategy.features ?? spec.features,
        },
      ],
    });
    const version = trained.summary.version;
    const datasetVersion = trained.summary.dataset.version;
    const withData = data ? { data } : {};
    if (version === production.version) {
      return { ...base, datasetVersion, version, ...withData, outcome: 'same-as-production', reason: 'this strategy on this data gives the production model itself (no newer data?)' };
    }
    // Content-addressed: the same strategy on the same data is the same version; its verdict against this production stands.
    const earlier = status.attempts.find((a) => a.version === version && a.outcome === 'rejected' && a.baselineVersion === production.version);
    if (earlier) return { ...earlier, ...base, ...withData, reason: `already evaluated in attempt ${earlier.n}: ${earlier.reason}` };
    const promotion = await executeChild(promoteModel, {
      workflowId: promoteWorkflowId(request.model, version),
      staticSummary: `Attempt ${n}: shadow ${version} against production ${production.version}${data ? ` on ${judgeOn.dataset}@${judgeOn.version.slice(0, 8)}` : ''}, then the gates`,
      args: [
        {
          model: request.model,
          candidateVersion: version,
          dataset: judgeOn.dataset,
          datasetVersion: judgeOn.version,
          sliceColumns: [],
          batchSize: 16_384,
          gates: request.gates,
          policy: request.policy,
          approvalTimeout: request.approvalTimeout,
          onTimeout: 'reject',
          by: `${retrainWorkflowId(request.model)} attempt ${n}`,
        },
      ],
    });
    const e = promotion.evaluation;
    // The rows the evaluation judged (the test split, when it was the training data).
    if (data && e) data = { ...data, judgedOn: { ...data.judgedOn, rows: e.rows } };
    return {
      ...base,
      datasetVersion,
      version,
      baselineVersion: production.version,
      outcome: promotion.phase === 'promoted' ? 'promoted' : 'rejected',
      reason: promotion.decision?.reason ?? promotion.phase,
      ...(e ? { primaryMetric: e.primaryMetric, candidateValue: e.candidateValue, baselineValue: e.baselineValue ?? null, reportUri: e.markdownUri } : {}),
      ...(data ? { data } : {}),
    };
  } catch (err) {
    if (isCancellation(err)) throw err;
    // A failed attempt (bad strategy, training error, no data for the window) is recorded and counts; the loop goes on.
    const message =
      err instanceof WorkflowExecutionAlreadyStartedError ? 'a promotion of this version is already running' : (rootApplicationFailure(err)?.message ?? (err as Error).message);
    log.warn('retraining attempt failed', { model: request.model, attempt: n, message });
    return { ...base, outcome: 'failed', reason: message, ...(data ? { data } : {}) };
  }
}
