import type { DuckDBInstance } from '@duckdb/node-api';
import { z } from 'zod';
import { finiteOrNull } from '../metrics';
import { readModelCard } from '../models/cards';
import { Context } from '@temporalio/activity';
import { verifySnapshot } from '../datasets/integrity';
import type { DatasetManifest } from '../datasets/manifest';
import { userError } from '../errors';
import { defaultPrimaryMetric } from '../evaluation/gates';
import type { ModelVersionSummary } from '../models/card';
import { DEFAULT_TRAINING_WINDOW, TRAINING_WINDOWS, windowOptionsSchema } from '../retraining/request';
import { planRetrainingData } from '../retraining/window';
import type { ArtifactStore } from '../store/artifact-store';
import { datasetName } from '../store/names';
import { type TrainingSpec, trainingSpecOf } from '../training/spec';
import { trainModelVersion } from '../training/train';
import { parseInput } from '../validation';
import type { AttemptData, BaselineProof } from '../api/retrain';
import { withDuckDbActivity } from './progress';

export interface RetrainingActivityDeps {
  store: ArtifactStore;
  duckdb: DuckDBInstance;
  trainerCommands: readonly string[];
}

/** What an attempt's data is prepared from: the loop's request, as far as data goes. */
const retrainingDataRequestSchema = z
  .object({
    dataset: datasetName.optional(),
    evaluationDataset: datasetName.optional(),
    // Loops started before training windows carry neither: they get the defaults.
    trainingWindow: z.enum(TRAINING_WINDOWS).default(DEFAULT_TRAINING_WINDOW),
    window: windowOptionsSchema.default(windowOptionsSchema.parse({})),
  })
  .strict();

export function createRetrainingActivities(deps: RetrainingActivityDeps) {
  const { store } = deps;
  const readCard = (summary: ModelVersionSummary) => readModelCard(store, summary);
  return {
    async trainingSpecOf(input: { summary: ModelVersionSummary }): Promise<TrainingSpec> {
      return trainingSpecOf(await readCard(input.summary));
    },

    /**
     * The data of one attempt (see retraining/window.ts): labeled production data, the training
     * window and the judging set as dataset versions with lineage, or the original data when
     * there is too little labeled production data. Idempotent: every version is content-addressed.
     */
    async prepareRetrainingData(input: { summary: ModelVersionSummary; request: z.input<typeof retrainingDataRequestSchema>; at: string }): Promise<AttemptData> {
      const request = parseInput(retrainingDataRequestSchema, input.request, 'retraining data request');
      const production = await readCard(input.summary);
      return withDuckDbActivity(deps.duckdb, (conn, progress) => planRetrainingData({ conn, store, production, ...request, now: new Date(input.at), progress }));
    },

    /**
     * The baseline proof: trains the production model's exact config on its own training data
     * again (publishing nothing) and compares the test metric with the registered one. If the
     * pipeline cannot reproduce production, comparing new candidates with it proves nothing.
     */
    async reproduceTraining(input: { summary: ModelVersionSummary; tolerance: number; primaryMetric?: string; at: string }): Promise<BaselineProof> {
      const card = await readCard(input.summary);
      const manifest = await store.readJson<DatasetManifest>(card.dataset.manifestUri);
      if (!manifest)
        throw userError(
          'DatasetNotFound',
          `Production's training data ${card.dataset.name}@${card.dataset.version} is gone (${card.dataset.manifestUri}); the baseline cannot be reproduced`,
        );
      await verifySnapshot(manifest, store);
      const retrained = await withDuckDbActivity(deps.duckdb, (conn, progress) =>
        trainModelVersion({
          conn,
          store,
          request: { ...trainingSpecOf(card), model: card.model, datasetVersion: card.dataset.version },
          manifest,
          manifestUri: card.dataset.manifestUri,
          now: new Date(),
          allowedCommands: deps.trainerCommands,
          signal: Context.current().cancellationSignal,
          progress,
          verifyOnly: true,
        }),
      );
      const metric = input.primaryMetric ?? defaultPrimaryMetric(card.task);
      const registered = finiteOrNull(card.metrics.test[metric]);
      const reproduced = finiteOrNull(retrained.summary.metrics.test[metric]);
      const passed = registered !== null && reproduced !== null && Math.abs(registered - reproduced) <= input.tolerance;
      return { version: card.version, primaryMetric: metric, registered, reproduced, tolerance: input.tolerance, passed, at: input.at };
    },
  };
}
