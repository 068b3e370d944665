import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { executeChild, isCancellation, log, patched, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import { rootApplicationFailure } from '../../errors';
import type { ModelVersionSummary } from '../../models/card';
import type { Strategy } from '../../retraining/request';
import { defaultStrategies } from '../../retraining/strategies';
import { DEFAULT_TRAINING_WINDOW } from '../../retraining/training-windows';
import type { TrainingSpec } from '../../training/spec';
import { promoteWorkflowId } from '../../api/promote';
import { type AttemptData, type AttemptRecord, retrainWorkflowId } from '../../api/retrain';
import { childWorkflowId } from '../../api/search';
import { promoteModel } from '../promote';
import { trainModel } from '../train';
import { prepareRetrainingData } from './activities';
import type { RetrainLoop } from './state';

/**
 * Attempts prepare their data first (an activity before the training child): labeled production
 * rows in the training window, judged on labeled production rows neither model trained on.
 * Histories recorded before that replay the old command sequence.
 */
export const TRAINING_WINDOW_PATCH = 'retrain-training-window';

/** One attempt: its data (the training window), next strategy, train (child) → promote (child: shadow + gates). */
export async function attempt({ request, status }: RetrainLoop, production: ModelVersionSummary, spec: TrainingSpec): Promise<AttemptRecord> {
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
      return {
        ...base,
        datasetVersion,
        version,
        ...withData,
        outcome: 'same-as-production',
        reason: 'this strategy on this data gives the production model itself (no newer data?)',
      };
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
