import * as path from 'node:path';
import type { DuckDBInstance } from '@duckdb/node-api';
import type { Client } from '@temporalio/client';
import { resolveVersion } from '../datasets/catalog';
import type { DatasetManifest } from '../datasets/manifest';
import { userError } from '../errors';
import type { ModelCard, ModelVersionSummary } from '../models/card';
import { type LabelBatch, recordLabels } from '../monitoring/labels';
import { type MonitorRequest, type MonitoringReport, monitor, monitorRequestSchema, renderMonitoringMarkdown } from '../monitoring/monitor';
import type { RetrainRequestInput } from '../retraining/request';
import { requestRetrain } from '../client/retrain';
import type { ArtifactStore } from '../store/artifact-store';
import { datasetName } from '../store/names';
import { parseInput } from '../validation';
import { withDuckDbActivity } from './progress';

export interface MonitoringActivityDeps {
  store: ArtifactStore;
  duckdb: DuckDBInstance;
  client: Client;
  taskQueue: string;
  ingestAllowedRoots: readonly string[];
}

/** What the monitor workflow keeps in its history: verdicts and references, not the bins. */
export interface MonitorOutcome {
  reportUri: string;
  markdownUri: string;
  modelVersion: string;
  dataset: string;
  datasetVersion: string;
  triggered: boolean;
  reasons: string[];
  driftedFeatures: string[];
  predictionPsi?: number;
  live?: { rows: number; primaryMetric: string; value: number | null; baseline: number | null };
  notes: string[];
}

export function monitoringDir(store: ArtifactStore, model: string): string {
  return store.path('reports', 'monitoring', model);
}

function outcomeOf(report: MonitoringReport, reportUri: string): MonitorOutcome {
  return {
    reportUri,
    markdownUri: reportUri.replace(/\.json$/, '.md'),
    modelVersion: report.modelVersion,
    dataset: report.dataset,
    datasetVersion: report.datasetVersion,
    triggered: report.triggered,
    reasons: report.reasons,
    driftedFeatures: report.features.filter((f) => f.drifted).map((f) => f.feature),
    ...(report.predictions ? { predictionPsi: report.predictions.psi } : {}),
    ...(report.live ? { live: { rows: report.live.rows, primaryMetric: report.live.primaryMetric, value: report.live.value, baseline: report.live.baseline } } : {}),
    notes: report.notes,
  };
}

export function createMonitoringActivities(deps: MonitoringActivityDeps) {
  const { store } = deps;
  return {
    /** Stores a label file for a dataset (content-addressed: the same file twice is stored once). */
    async recordLabels(input: { dataset: string; source: string; label?: string; receivedAt: string }): Promise<LabelBatch> {
      const dataset = parseInput(datasetName, input.dataset, 'dataset name');
      const manifest = await resolveVersion(store, `${dataset}@latest`);
      return withDuckDbActivity(deps.duckdb, (conn) =>
        recordLabels({ conn, store, dataset, contract: manifest.contract, source: input.source, label: input.label, allowedRoots: deps.ingestAllowedRoots, receivedAt: input.receivedAt }),
      );
    },

    /** One monitoring pass; the report goes to reports/monitoring/<model>/<runId>.json (+ .md). Idempotent. */
    async monitorProduction(input: { request: MonitorRequest; production: ModelVersionSummary; manifestUri: string; now: string }): Promise<MonitorOutcome> {
      const request = parseInput(monitorRequestSchema, input.request, 'monitor request');
      const reportUri = path.join(monitoringDir(store, request.model), `${request.runId}.json`);
      const existing = await store.readJson<MonitoringReport>(reportUri);
      if (existing) return outcomeOf(existing, reportUri);
      const card = await store.readJson<ModelCard>(input.production.cardUri);
      if (!card) throw userError('ModelLoadError', `Model ${input.production.model}@${input.production.version} has no card at ${input.production.cardUri}`);
      const manifest = await store.readJson<DatasetManifest>(input.manifestUri);
      if (!manifest) throw userError('DatasetNotFound', `No dataset manifest at ${input.manifestUri}`);
      const report = await withDuckDbActivity(deps.duckdb, (conn) => monitor({ conn, store, card, manifest, request, now: input.now }));
      await store.writeFileAtomic(reportUri.replace(/\.json$/, '.md'), renderMonitoringMarkdown(report));
      await store.writeJsonAtomic(reportUri, report);
      return outcomeOf(report, reportUri);
    },

    /** Signal-with-start of the model's retraining loop (see client/retrain.ts). */
    async requestRetrain(input: { request: RetrainRequestInput; trigger: { reason: string; by: string } }): Promise<{ workflowId: string }> {
      const handle = await requestRetrain(deps.client, deps.taskQueue, input.request, input.trigger);
      return { workflowId: handle.workflowId };
    },
  };
}
