import { durationMs } from '../duration';
import { readModelCard } from '../models/cards';
import type { DuckDBInstance } from '@duckdb/node-api';
import type { Client } from '@temporalio/client';
import { readManifest, readVerifiedManifest } from '../datasets/integrity';
import { resolveVersion } from '../datasets/catalog';
import { userError } from '../errors';
import type { ModelVersionSummary } from '../models/card';
import { type LabelBatch, recordLabels } from '../monitoring/labels';
import { type MonitoringReport, monitor, renderMonitoringMarkdown } from '../monitoring/monitor';
import { monitoringHistory, pointOf } from '../monitoring/history';
import { type MonitorOutcome, outcomeOfMonitoringReport } from '../monitoring/outcome';
import { monitoringDir, monitoringFile } from '../monitoring/reports';
import { renderMonitoringPage } from '../reports/monitoring';
import { type MonitorRequest, monitorRequestSchema } from '../monitoring/request';
import { RETRAIN_WORKFLOW_TYPE, type RetrainStatus, retrainRequestedSignal, retrainStartOptions, retrainWorkflowId, type Trigger } from '../api/retrain';
import { type RetrainRequest, type RetrainRequestInput, retrainRequestSchema } from '../retraining/request';
import { withAbsoluteStrategyPaths } from '../training/command-paths';
import type { ArtifactStore } from '../store/artifact-store';
import { datasetName } from '../store/names';
import { parseInput } from '../validation';
import { withDuckDbActivity } from './progress';
import { createRegistryActivities } from './registry';

export interface MonitoringActivityDeps {
  store: ArtifactStore;
  duckdb: DuckDBInstance;
  client: Client;
  taskQueue: string;
  ingestAllowedRoots: readonly string[];
}

export function createMonitoringActivities(deps: MonitoringActivityDeps) {
  const { store } = deps;
  const { readRegistry } = createRegistryActivities(deps);
  return {
    /** Stores a label file for a dataset (content-addressed: the same file twice is stored once). */
    async recordLabels(input: { dataset: string; source: string; label?: string; receivedAt: string }): Promise<LabelBatch> {
      const dataset = parseInput(datasetName, input.dataset, 'dataset name');
      const manifest = await resolveVersion(store, `${dataset}@latest`);
      return withDuckDbActivity(deps.duckdb, (conn) =>
        recordLabels({
          conn,
          store,
          dataset,
          contract: manifest.contract,
          source: input.source,
          label: input.label,
          allowedRoots: deps.ingestAllowedRoots,
          receivedAt: input.receivedAt,
        }),
      );
    },

    /** One monitoring pass; the report goes to reports/monitoring/<model>/<runId>.json (+ .md). Idempotent. */
    async monitorProduction(input: {
      request: MonitorRequest;
      production: ModelVersionSummary;
      manifestUri: string;
      datasetVersion?: string;
      now: string;
    }): Promise<MonitorOutcome> {
      const request = parseInput(monitorRequestSchema, input.request, 'monitor request');
      const reportUri = monitoringFile(store, request.model, request.runId);
      const existing = await store.readJson<MonitoringReport>(reportUri);
      if (existing) {
        // A retry finds its report; another pass under the same run id must not reuse it.
        const datasetVersion = input.datasetVersion ?? (await readManifest(store, input.manifestUri)).version;
        if (existing.modelVersion === input.production.version && existing.datasetVersion === datasetVersion) return outcomeOfMonitoringReport(existing, reportUri);
        throw userError(
          'InvalidInput',
          `Monitoring run id "${request.runId}" of ${request.model} was already used (${existing.dataset}@${existing.datasetVersion}, ${existing.createdAt}); choose another run id`,
        );
      }
      const card = await readModelCard(store, input.production);
      const manifest = await readVerifiedManifest(store, input.manifestUri);
      const report = await withDuckDbActivity(deps.duckdb, (conn) => monitor({ conn, store, card, manifest, request, now: input.now }));
      await store.writeFileAtomic(reportUri.replace(/\.json$/, '.md'), renderMonitoringMarkdown(report));
      // The page draws this run after the ones before it; `mlops report --monitoring` redraws with later runs.
      const history = [...(await monitoringHistory(store, monitoringDir(store, request.model))), pointOf(report)];
      await store.writeFileAtomic(reportUri.replace(/\.json$/, '.html'), renderMonitoringPage(report, history, reportUri));
      await store.writeJsonAtomic(reportUri, report);
      return outcomeOfMonitoringReport(report, reportUri);
    },

    /**
     * Signal-with-start of the model's retraining loop, through the injected client (a workflow
     * cannot signal-with-start) — unless a person
     * ended the last loop (accept-current, abort) or it gave up within `quietPeriod`: drift is
     * judged against the same training profile, so the same crossing would ask them again daily.
     */
    async requestRetrain(input: {
      request: RetrainRequestInput;
      trigger: { reason: string; by: string };
      quietPeriod?: string;
    }): Promise<{ workflowId: string; suppressed?: string }> {
      const workflowId = retrainWorkflowId(input.request.model);
      if (input.quietPeriod) {
        const quietMs = durationMs(input.quietPeriod);
        const handle = deps.client.workflow.getHandle(workflowId);
        const last = await handle.describe().catch(() => undefined);
        if (last && last.status.name === 'COMPLETED') {
          const result = (await handle.result().catch(() => undefined)) as RetrainStatus | undefined;
          const decided = result?.decision ? Date.parse(result.decision.at) : Number.NaN;
          if (result && ['accepted-current', 'aborted', 'gave-up'].includes(result.outcome ?? '') && Date.now() - decided < quietMs) {
            return {
              workflowId,
              suppressed: `the last retraining loop ended ${result.outcome} at ${result.decision!.at} (${result.decision!.by}: ${result.decision!.reason}); quiet until ${new Date(decided + quietMs).toISOString()}`,
            };
          }
        }
      }
      const parsed = parseInput(retrainRequestSchema, { ...input.request, reason: input.trigger.reason, by: input.trigger.by }, 'retrain request');
      const request = { ...parsed, ...(parsed.strategies ? { strategies: withAbsoluteStrategyPaths(parsed.strategies) } : {}) };
      // A loop started for a model without a registry would only fail: refuse here, where the trigger is.
      await readRegistry({ model: request.model });
      const handle = await deps.client.workflow.signalWithStart<(r: RetrainRequest) => Promise<RetrainStatus>, [Omit<Trigger, 'at'>]>(RETRAIN_WORKFLOW_TYPE, {
        ...retrainStartOptions(request.model),
        taskQueue: deps.taskQueue,
        args: [request],
        signal: retrainRequestedSignal,
        signalArgs: [input.trigger],
      });
      return { workflowId: handle.workflowId };
    },
  };
}
