import { readModelCard } from '../models/cards';
import type { DuckDBInstance } from '@duckdb/node-api';
import { verifySnapshot } from '../datasets/integrity';
import { resolveVersion } from '../datasets/catalog';
import { userError } from '../errors';
import type { DatasetManifest } from '../datasets/manifest';
import { describeEvaluationData } from '../evaluation/data';
import { checkMetricNames, defaultPrimaryMetric, evaluateGates } from '../evaluation/gates';
import { type EvaluationOutcome, outcomeOfReport } from '../evaluation/outcome';
import { checkModelLoads } from '../models/loads';
import { type EvaluationReport, renderMarkdown } from '../evaluation/report';
import { evaluationFile } from '../evaluation/reports';
import { type EvaluationOptions, evaluationOptionsSchema } from '../evaluation/request';
import { shadowEvaluate } from '../evaluation/shadow';
import type { ModelVersionSummary } from '../models/card';
import type { ArtifactStore } from '../store/artifact-store';
import { renderEvaluationPage } from '../reports/evaluation';
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

export function createEvaluationActivities(deps: EvaluationActivityDeps) {
  const { store } = deps;
  const readCard = (summary: ModelVersionSummary) => readModelCard(store, summary);

  return {
    /** The version's file matches the registry's sha256 and ONNX Runtime loads it (read through the store). */
    checkModelLoads: (summary: ModelVersionSummary) => checkModelLoads(store, summary),

    /** Shadow evaluation + gates → a stored report (JSON and Markdown). Idempotent: a retry finds the report. */
    async evaluateCandidate(input: EvaluateInput): Promise<EvaluationOutcome> {
      const options = parseInput(evaluationOptionsSchema, input.options, 'evaluation options');
      const { candidate, baseline } = input;
      checkMetricNames(candidate.task, options.gates);
      await checkModelLoads(store, candidate);
      // The baseline failing is not the candidate's fault: a different error, so promotion does not reject it.
      if (baseline)
        await checkModelLoads(store, baseline).catch((err: Error) => {
          throw userError('BaselineLoadError', `The baseline (production) ${err.message}; roll back or repair it before promoting`);
        });
      const manifest = await resolveVersion(store, `${options.dataset ?? candidate.dataset.name}@${options.datasetVersion}`);
      const id = sha256(canonicalJson({ candidate: candidate.version, baseline: baseline?.version ?? null, dataset: manifest.dataset, version: manifest.version, options })).slice(
        0,
        16,
      );
      const reportUri = evaluationFile(store, candidate.model, id);
      const markdownUri = evaluationFile(store, candidate.model, id, 'md');
      const htmlUri = evaluationFile(store, candidate.model, id, 'html');
      const existing = await store.readJson<EvaluationReport>(reportUri);
      const report =
        existing ??
        (await withDuckDbActivity(deps.duckdb, async (conn, progress) => {
          await verifySnapshot(manifest, store);
          const candidateCard = await readCard(candidate);
          const baselineCard = baseline
            ? await readCard(baseline).catch((err: Error) => {
                throw userError('BaselineLoadError', `The baseline (production): ${err.message}`);
              })
            : undefined;
          const result = await shadowEvaluate({
            conn,
            store,
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
          // Markdown and page first: the JSON is the "done" marker a retry looks for.
          await store.writeFileAtomic(markdownUri, renderMarkdown(full));
          await store.writeFileAtomic(htmlUri, renderEvaluationPage(full, reportUri));
          await store.writeJsonAtomic(reportUri, full);
          return full;
        }));
      // A report stored before pages were written gets its page on a retry.
      if (existing && !(await store.exists(htmlUri))) await store.writeFileAtomic(htmlUri, renderEvaluationPage(existing, reportUri));
      return outcomeOfReport(report, { reportUri, markdownUri, htmlUri });
    },
  };
}
