import * as fs from 'node:fs/promises';
import { readModelCard } from '../models/cards';
import * as path from 'node:path';
import type { DuckDBInstance } from '@duckdb/node-api';
import { readManifest, readVerifiedManifest } from '../datasets/integrity';
import { ApplicationFailure } from '@temporalio/common';
import { userError } from '../errors';
import type { ModelVersionSummary } from '../models/card';
import { scoreRequestSchema, type ScoreRequest } from '../scoring/request';
import { RUN_FILE, RUN_PAGE, predictionsDir, type ScoreRun } from '../scoring/runs';
import { summarizeScoreRun } from '../scoring/summary';
import { renderScoringPage } from '../reports/scoring';
import { scoreDataset } from '../scoring/score';
import type { ArtifactStore } from '../store/artifact-store';
import { parseInput } from '../validation';
import { checkModelLoads } from '../models/loads';
import { acceptableRange } from '../scoring/range';
import { withDuckDbActivity } from './progress';

export interface ScoringActivityDeps {
  store: ArtifactStore;
  duckdb: DuckDBInstance;
}

export interface ScoreInput {
  request: ScoreRequest;
  /** The production version, resolved once by the workflow and recorded in its history. */
  model: ModelVersionSummary;
  manifestUri: string;
  /** The dataset version that manifest describes (absent in histories from before it was passed). */
  datasetVersion?: string;
  /** Workflow time: the run's timestamp and the start of its retention period. */
  scoredAt: string;
}

export function createScoringActivities(deps: ScoringActivityDeps) {
  const { store } = deps;
  return {
    /**
     * Scores a dataset version with the given model version into predictions/<model>/<runId>/.
     * Idempotent: the folder is published whole, once; a retry finds run.json and returns it.
     */
    async scoreDatasetVersion(input: ScoreInput): Promise<ScoreRun> {
      const request = parseInput(scoreRequestSchema, input.request, 'score request');
      const finalDir = path.join(predictionsDir(store, request.model), request.runId);
      const runUri = path.join(finalDir, RUN_FILE);
      const existing = await store.readJson<ScoreRun>(runUri);
      if (existing) {
        // A retry of this run finds its result; another run under the same id must not get it.
        const datasetVersion = input.datasetVersion ?? (await readManifest(store, input.manifestUri)).version;
        if (existing.modelVersion === input.model.version && existing.datasetVersion === datasetVersion) return existing;
        throw userError('InvalidInput', `Run id "${request.runId}" of ${request.model} was already used (for ${existing.dataset}@${existing.datasetVersion} with ${existing.modelVersion} on ${existing.createdAt}); choose another run id`);
      }

      await checkModelLoads(input.model).catch((err: Error) => {
        // Only the model's own fault gets the recovery hint; anything else stays retryable as it was.
        if (!(err instanceof ApplicationFailure && err.type === 'ModelLoadError')) throw err;
        throw userError('ModelLoadError', `${err.message}. It cannot score until the file is restored, or production is rolled back (mlops rollback ${input.model.model})`);
      });
      const card = await readModelCard(store, input.model);
      const manifest = await readVerifiedManifest(store, input.manifestUri);
      const range = acceptableRange(card, request);
      const started = Date.now();
      const tmp = await store.makeTempDir(`score-${request.model}-${request.runId}`);
      try {
        const result = await withDuckDbActivity(deps.duckdb, async (conn, progress) => {
          const writer = await deps.duckdb.connect();
          try {
            const scored = await scoreDataset({
              conn,
              writer,
              dataset: { name: manifest.dataset, version: manifest.version, snapshotUri: manifest.snapshot.uri, contract: manifest.contract },
              card,
              runId: request.runId,
              scoredAt: input.scoredAt,
              dir: tmp,
              batchSize: request.batchSize,
              partRows: request.partRows,
              range,
              onBatch: (rows) => progress('score', { rows, total: manifest.rows.accepted }),
            });
            return { ...scored, summary: await summarizeScoreRun(conn, path.join(tmp, 'part-*.parquet'), card, range) };
          } finally {
            writer.closeSync();
          }
        });
        const flagged = result.outOfRange + result.notANumber;
        const flaggedShare = result.rows > 0 ? flagged / result.rows : 0;
        const expiresAt = new Date(Date.parse(input.scoredAt) + request.retentionDays * 86_400_000).toISOString();
        const run: ScoreRun = {
          runId: request.runId,
          model: card.model,
          modelVersion: card.version,
          dataset: manifest.dataset,
          datasetVersion: manifest.version,
          createdAt: input.scoredAt,
          expiresAt,
          rows: result.rows,
          outOfRange: result.outOfRange,
          notANumber: result.notANumber,
          flaggedShare,
          range,
          maxFlaggedShare: request.maxFlaggedShare,
          ...(flaggedShare > request.maxFlaggedShare
            ? {
                alert:
                  `${flagged} of ${result.rows} predictions (${(flaggedShare * 100).toFixed(2)} %) are outside the acceptable range ` +
                  `[${range.min.toPrecision(4)}, ${range.max.toPrecision(4)}] or not numbers; the limit is ${(request.maxFlaggedShare * 100).toFixed(2)} %. ` +
                  `The flagged rows are in the prediction log (flag IS NOT NULL).`,
              }
            : {}),
          output: result.output,
          logUri: finalDir,
          parts: result.parts.map((p) => path.join(finalDir, path.basename(p))),
          runUri,
          htmlUri: path.join(finalDir, RUN_PAGE),
          summary: result.summary,
          seconds: { total: (Date.now() - started) / 1000, inference: result.inferenceMs / 1000 },
        };
        await store.writeFileAtomic(path.join(tmp, RUN_PAGE), renderScoringPage(run, runUri));
        await store.writeJsonAtomic(path.join(tmp, RUN_FILE), run);
        const published = await store.publishDir(tmp, finalDir);
        return published ? run : ((await store.readJson<ScoreRun>(runUri)) ?? run);
      } finally {
        await fs.rm(tmp, { recursive: true, force: true });
      }
    },
  };
}
