import * as path from 'node:path';
import { finiteOrNull } from '../metrics';
import { readModelCard } from '../models/cards';
import type { DuckDBInstance } from '@duckdb/node-api';
import { verifySnapshot } from '../datasets/integrity';
import { resolveVersion } from '../datasets/catalog';
import { userError } from '../errors';
import type { DatasetManifest } from '../datasets/manifest';
import { describeEvaluationData } from '../evaluation/data';
import { checkMetricNames, defaultPrimaryMetric, evaluateGates, type GateResult } from '../evaluation/gates';
import { type EvaluationReport, renderMarkdown } from '../evaluation/report';
import { evaluationsDir } from '../evaluation/reports';
import { type EvaluationOptions, evaluationOptionsSchema } from '../evaluation/request';
import { shadowEvaluate } from '../evaluation/shadow';
import type { ModelVersionSummary } from '../models/card';
import { openVerifiedModel } from '../models/files';
import type { ArtifactStore } from '../store/artifact-store';
import { canonicalJson, sha256 } from '../store/hash';
import { parseInput } from '../validation';
import { withDuckDbActivity } from './progress';

export interface EvaluationActivityDeps {
  store: ArtifactStore;
  duckdb: DuckDBInstance;
}

export interface EvaluateInput {
  candidate: ModelVersionSummary;
  baseline?: ModelVersionSummary;
  options: EvaluationOptions;
}

/** What the workflow gets back: a reference to the report and the verdict, never the rows. */
export interface EvaluationOutcome {
  reportId: string;
  reportUri: string;
  markdownUri: string;
  dataset: { name: string; version: string };
  rows: number;
  passed: boolean;
  gates: GateResult[];
  primaryMetric: string;
  /** null when undefined for these rows (e.g. ROC AUC with one class present). */
  candidateValue: number | null;
  baselineValue?: number | null;
}

/**
 * A model version's files are what the registry says they are, and ONNX Runtime loads them.
 * Checked before a version is evaluated and again right before it becomes production.
 */
export async function checkModelLoads(summary: ModelVersionSummary): Promise<void> {
  await (await openVerifiedModel(summary)).release();
}

export function createEvaluationActivities(deps: EvaluationActivityDeps) {
  const { store } = deps;
  const readCard = (summary: ModelVersionSummary) => readModelCard(store, summary);

  return {
    checkModelLoads,

    /** Shadow evaluation + gates → a stored report (JSON and Markdown). Idempotent: a retry finds the report. */
    async evaluateCandidate(input: EvaluateInput): Promise<EvaluationOutcome> {
      const options = parseInput(evaluationOptionsSchema, input.options, 'evaluation options');
      const { candidate, baseline } = input;
      checkMetricNames(candidate.task, options.gates);
      await checkModelLoads(candidate);
      // The baseline failing is not the candidate's fault: a different error, so promotion does not reject it.
      if (baseline) await checkModelLoads(baseline).catch((err: Error) => {
        throw userError('BaselineLoadError', `The baseline (production) ${err.message}; roll back or repair it before promoting`);
      });
      const manifest = await resolveVersion(store, `${options.dataset ?? candidate.dataset.name}@${options.datasetVersion}`);
      const id = sha256(canonicalJson({ candidate: candidate.version, baseline: baseline?.version ?? null, dataset: manifest.dataset, version: manifest.version, options })).slice(0, 16);
      const dir = evaluationsDir(store, candidate.model);
      const reportUri = path.join(dir, `${id}.json`);
      const markdownUri = path.join(dir, `${id}.md`);
      const existing = await store.readJson<EvaluationReport>(reportUri);
      const report =
        existing ??
        (await withDuckDbActivity(deps.duckdb, async (conn, progress) => {
          await verifySnapshot(manifest);
          const candidateCard = await readCard(candidate);
          const baselineCard = baseline
            ? await readCard(baseline).catch((err: Error) => {
                throw userError('BaselineLoadError', `The baseline (production): ${err.message}`);
              })
            : undefined;
          const result = await shadowEvaluate({
            conn,
            dataset: { name: manifest.dataset, version: manifest.version, snapshotUri: manifest.snapshot.uri, contract: manifest.contract },
            candidate: candidateCard,
            baseline: baselineCard,
            sliceColumns: options.sliceColumns,
            batchSize: options.batchSize,
            onBatch: (rows) => progress('score', { rows }),
          });
          const primaryMetric = options.gates.primaryMetric ?? defaultPrimaryMetric(result.task);
          const gates = evaluateGates(options.gates, {
            task: result.task,
            candidate: result.candidate.metrics,
            baseline: result.baseline?.metrics,
            slices: result.slices,
            latency: { candidate: result.candidate.latency, baseline: result.baseline?.latency },
          });
          const full: EvaluationReport = {
            id,
            model: candidate.model,
            createdAt: new Date().toISOString(),
            dataset: { name: manifest.dataset, version: manifest.version },
            primaryMetric,
            gatesConfig: options.gates,
            gates,
            passed: gates.every((g) => g.passed),
            ...result,
            data: describeEvaluationData(manifest, result.rows, [
              { role: 'candidate', card: candidateCard, manifest: await store.readJson<DatasetManifest>(candidateCard.dataset.manifestUri) },
              ...(baselineCard ? [{ role: 'baseline' as const, card: baselineCard, manifest: await store.readJson<DatasetManifest>(baselineCard.dataset.manifestUri) }] : []),
            ]),
          };
          // Markdown first: the JSON is the "done" marker a retry looks for.
          await store.writeFileAtomic(markdownUri, renderMarkdown(full));
          await store.writeJsonAtomic(reportUri, full);
          return full;
        }));
      return {
        reportId: report.id,
        reportUri,
        markdownUri,
        dataset: report.dataset,
        rows: report.rows,
        passed: report.passed,
        gates: report.gates,
        primaryMetric: report.primaryMetric,
        candidateValue: finiteOrNull(report.candidate.metrics[report.primaryMetric]),
        ...(report.baseline ? { baselineValue: finiteOrNull(report.baseline.metrics[report.primaryMetric]) } : {}),
      };
    },
  };
}
