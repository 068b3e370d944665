import * as fs from 'node:fs/promises';
import { readModelCard } from '../models/cards';
import * as path from 'node:path';
import type { DuckDBInstance } from '@duckdb/node-api';
import type { InferenceSession } from 'onnxruntime-node';
import { z } from 'zod';
import { readManifest, readVerifiedManifest } from '../datasets/integrity';
import type { DatasetManifest } from '../datasets/manifest';
import { readManifestVerifiedOnce } from '../datasets/verified-snapshots';
import { ApplicationFailure } from '@temporalio/common';
import { userError } from '../errors';
import type { ModelCard, ModelVersionSummary } from '../models/card';
import { scoreRequestSchema, type ScoreRequest } from '../scoring/request';
import { RUN_FILE, RUN_PAGE, predictionsDir, type ScoreRun } from '../scoring/runs';
import { summarizeScoreRun } from '../scoring/summary';
import { renderScoringPage } from '../reports/scoring';
import { scoreDataset } from '../scoring/score';
import { MAX_SCORE_PARTS, partName, type ScorePart } from '../scoring/parts';
import { partStagingDir, runStagingDir, STAGED_PART_FILE, type StagedPart } from '../scoring/staging';
import type { ArtifactStore } from '../store/artifact-store';
import { parseInput } from '../validation';
import { openVerifiedModel } from '../models/files';
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

/** One part of a split run: a row range of the snapshot, from the workflow's plan (scoring/parts.ts). */
export interface ScorePartInput extends ScoreInput {
  part: ScorePart;
}

/** The run's parts, all staged: the finishing activity publishes them as one prediction log. */
export interface FinishScoreInput extends ScoreInput {
  parts: number;
}

const partSchema = z
  .object({
    index: z
      .number()
      .int()
      .min(0)
      .max(MAX_SCORE_PARTS - 1),
    firstRow: z.number().int().min(0),
    rows: z.number().int().min(0),
    last: z.boolean(),
  })
  .strict();

/** A part's log file in the published run: numbered across the run, so the run looks as if one activity had written it. */
const runPartFile = (n: number) => `part-${String(n).padStart(5, '0')}.parquet`;

export function createScoringActivities(deps: ScoringActivityDeps) {
  const { store } = deps;

  /** This run's result when a retry finds it published; refuses a run id another run already used. */
  async function publishedRun(request: ScoreRequest, input: ScoreInput): Promise<ScoreRun | undefined> {
    const existing = await store.readJson<ScoreRun>(path.join(predictionsDir(store, request.model), request.runId, RUN_FILE));
    if (!existing) return undefined;
    // A retry of this run finds its result; another run under the same id must not get it.
    const datasetVersion = input.datasetVersion ?? (await readManifest(store, input.manifestUri)).version;
    if (existing.modelVersion === input.model.version && existing.datasetVersion === datasetVersion) return existing;
    throw userError(
      'InvalidInput',
      `Run id "${request.runId}" of ${request.model} was already used (for ${existing.dataset}@${existing.datasetVersion} with ${existing.modelVersion} on ${existing.createdAt}); choose another run id`,
    );
  }

  /** The model's session, its file checked against the registry first: opened once for both. */
  async function openProductionModel(model: ModelVersionSummary): Promise<InferenceSession> {
    return openVerifiedModel(store, model).catch((err: Error) => {
      // Only the model's own fault gets the recovery hint; anything else stays retryable as it was.
      if (!(err instanceof ApplicationFailure && err.type === 'ModelLoadError')) throw err;
      throw userError('ModelLoadError', `${err.message}. It cannot score until the file is restored, or production is rolled back (mlops rollback ${model.model})`);
    });
  }

  /**
   * run.json and the page written into the run's temp folder, then the folder published whole as
   * predictions/<model>/<runId>/: a reader sees the finished run or none.
   */
  async function publishRun(
    tmp: string,
    args: {
      request: ScoreRequest;
      card: ModelCard;
      dataset: { name: string; version: string };
      scoredAt: string;
      totals: { rows: number; outOfRange: number; notANumber: number; output: ScoreRun['output']; inferenceMs: number };
      range: ScoreRun['range'];
      files: string[];
      seconds: number;
    },
  ): Promise<ScoreRun> {
    const { request, card, totals, range } = args;
    const finalDir = path.join(predictionsDir(store, request.model), request.runId);
    const runUri = path.join(finalDir, RUN_FILE);
    const summary = await withDuckDbActivity(deps.duckdb, (conn) => summarizeScoreRun(conn, path.join(tmp, 'part-*.parquet'), card, range));
    const flagged = totals.outOfRange + totals.notANumber;
    const flaggedShare = totals.rows > 0 ? flagged / totals.rows : 0;
    const run: ScoreRun = {
      runId: request.runId,
      model: card.model,
      modelVersion: card.version,
      dataset: args.dataset.name,
      datasetVersion: args.dataset.version,
      createdAt: args.scoredAt,
      expiresAt: new Date(Date.parse(args.scoredAt) + request.retentionDays * 86_400_000).toISOString(),
      rows: totals.rows,
      outOfRange: totals.outOfRange,
      notANumber: totals.notANumber,
      flaggedShare,
      range,
      maxFlaggedShare: request.maxFlaggedShare,
      ...(flaggedShare > request.maxFlaggedShare
        ? {
            alert:
              `${flagged} of ${totals.rows} predictions (${(flaggedShare * 100).toFixed(2)} %) are outside the acceptable range ` +
              `[${range.min.toPrecision(4)}, ${range.max.toPrecision(4)}] or not numbers; the limit is ${(request.maxFlaggedShare * 100).toFixed(2)} %. ` +
              `The flagged rows are in the prediction log (flag IS NOT NULL).`,
          }
        : {}),
      output: totals.output,
      logUri: finalDir,
      parts: args.files.map((p) => path.join(finalDir, path.basename(p))),
      runUri,
      htmlUri: path.join(finalDir, RUN_PAGE),
      summary,
      seconds: { total: args.seconds, inference: totals.inferenceMs / 1000 },
    };
    await store.writeFileAtomic(path.join(tmp, RUN_PAGE), renderScoringPage(run, runUri));
    await store.writeJsonAtomic(path.join(tmp, RUN_FILE), run);
    const published = await store.publishDir(tmp, finalDir);
    return published ? run : ((await store.readJson<ScoreRun>(runUri)) ?? run);
  }

  /** The manifest's rows (or one row range of them) scored into `dir` as log part files. */
  async function scoreRows(
    dir: string,
    args: { request: ScoreRequest; scoredAt: string; card: ModelCard; manifest: DatasetManifest; range: ScoreRun['range']; session: InferenceSession; part?: ScorePart },
  ) {
    const { request, card, manifest, part } = args;
    return withDuckDbActivity(deps.duckdb, async (conn, progress) => {
      const writer = await deps.duckdb.connect();
      try {
        return await scoreDataset({
          conn,
          writer,
          dataset: { name: manifest.dataset, version: manifest.version, snapshotUri: manifest.snapshot.uri, contract: manifest.contract },
          card,
          runId: request.runId,
          scoredAt: args.scoredAt,
          dir,
          batchSize: request.batchSize,
          partRows: request.partRows,
          range: args.range,
          session: args.session,
          ...(part ? { rows: { first: part.firstRow, ...(part.last ? {} : { count: part.rows }) } } : {}),
          onBatch: (rows) => progress('score', { ...(part ? { part: part.index } : {}), rows, total: part ? part.rows : manifest.rows.accepted }),
        });
      } finally {
        writer.closeSync();
      }
    });
  }

  return {
    /**
     * Scores a dataset version with the given model version into predictions/<model>/<runId>/.
     * Idempotent: the folder is published whole, once; a retry finds run.json and returns it.
     */
    async scoreDatasetVersion(input: ScoreInput): Promise<ScoreRun> {
      const request = parseInput(scoreRequestSchema, input.request, 'score request');
      const existing = await publishedRun(request, input);
      if (existing) return existing;

      const session = await openProductionModel(input.model);
      const tmp = await store.makeTempDir(`score-${request.model}-${request.runId}`);
      try {
        const card = await readModelCard(store, input.model);
        const manifest = await readVerifiedManifest(store, input.manifestUri);
        const range = acceptableRange(card, request);
        const started = Date.now();
        const scored = await scoreRows(tmp, { request, scoredAt: input.scoredAt, card, manifest, range, session });
        return await publishRun(tmp, {
          request,
          card,
          dataset: { name: manifest.dataset, version: manifest.version },
          scoredAt: input.scoredAt,
          totals: scored,
          range,
          files: scored.parts,
          seconds: (Date.now() - started) / 1000,
        });
      } finally {
        await session.release().catch(() => undefined);
        await fs.rm(tmp, { recursive: true, force: true });
      }
    },

    /**
     * Scores one row range of a split run into its staging folder (.staging/scoring/<model>/<runId>/<part>/),
     * published whole with what it counted. Idempotent: a retry, or a second worker given the
     * same part, finds the staged part and returns it; a part left by another run is replaced.
     */
    async scoreDatasetPart(input: ScorePartInput): Promise<StagedPart> {
      const request = parseInput(scoreRequestSchema, input.request, 'score request');
      const part = parseInput(partSchema, input.part, 'scoring part');
      await publishedRun(request, input);
      const dir = partStagingDir(store, request.model, request.runId, part.index);
      const mine = (s: StagedPart | undefined): s is StagedPart =>
        !!s &&
        s.modelVersion === input.model.version &&
        s.datasetVersion === input.datasetVersion &&
        s.scoredAt === input.scoredAt &&
        s.firstRow === part.firstRow &&
        s.plannedRows === part.rows;
      const staged = await store.readJson<StagedPart>(path.join(dir, STAGED_PART_FILE));
      if (mine(staged)) return staged;
      if (staged) await store.discardDir(dir);

      const session = await openProductionModel(input.model);
      const tmp = await store.makeTempDir(`score-${request.model}-${request.runId}-${partName(part.index)}`);
      try {
        const card = await readModelCard(store, input.model);
        const manifest = await readManifestVerifiedOnce(store, input.manifestUri);
        const range = acceptableRange(card, request);
        const scored = await scoreRows(tmp, { request, scoredAt: input.scoredAt, card, manifest, range, session, part });
        const record: StagedPart = {
          index: part.index,
          firstRow: part.firstRow,
          plannedRows: part.rows,
          modelVersion: card.version,
          datasetVersion: manifest.version,
          scoredAt: input.scoredAt,
          rows: scored.rows,
          outOfRange: scored.outOfRange,
          notANumber: scored.notANumber,
          output: { min: scored.output.min, max: scored.output.max, sum: scored.outputSum },
          inferenceMs: scored.inferenceMs,
          files: scored.parts.map((p) => path.basename(p)),
        };
        await store.writeJsonAtomic(path.join(tmp, STAGED_PART_FILE), record);
        if (await store.publishDir(tmp, dir)) return record;
        // Another attempt staged this part first: its files are the ones the run will publish.
        const theirs = await store.readJson<StagedPart>(path.join(dir, STAGED_PART_FILE));
        if (!mine(theirs)) throw new Error(`Part ${part.index} of scoring run ${request.runId} is being staged by another run; retrying`);
        return theirs;
      } finally {
        await session.release().catch(() => undefined);
        await fs.rm(tmp, { recursive: true, force: true });
      }
    },

    /**
     * Publishes a split run: every staged part's files linked into one run folder, numbered in row
     * order, with run.json (summary and range flags over all parts) and the page, then the staging
     * discarded. Idempotent: a retry after publishing finds run.json and returns it.
     */
    async finishScoreRun(input: FinishScoreInput): Promise<ScoreRun> {
      const request = parseInput(scoreRequestSchema, input.request, 'score request');
      const parts = parseInput(z.number().int().min(1).max(MAX_SCORE_PARTS), input.parts, 'scoring part count');
      const existing = await publishedRun(request, input);
      if (existing) {
        await store.discardDir(runStagingDir(store, request.model, request.runId));
        return existing;
      }
      const staged: StagedPart[] = [];
      for (let index = 0; index < parts; index++) {
        const part = await store.readJson<StagedPart>(path.join(partStagingDir(store, request.model, request.runId, index), STAGED_PART_FILE));
        if (!part || part.scoredAt !== input.scoredAt || part.modelVersion !== input.model.version || part.datasetVersion !== input.datasetVersion) {
          throw userError(
            'InvalidInput',
            `Scoring run ${request.runId} of ${request.model}: part ${index} of ${parts} is not staged (swept, or removed by hand); start the run again under a new run id`,
          );
        }
        staged.push(part);
      }
      const card = await readModelCard(store, input.model);
      const manifest = await readManifest(store, input.manifestUri);
      const tmp = await store.makeTempDir(`score-${request.model}-${request.runId}-finish`);
      try {
        const files: string[] = [];
        for (const part of staged) {
          for (const file of part.files) {
            const target = path.join(tmp, runPartFile(files.length));
            await store.linkFile(path.join(partStagingDir(store, request.model, request.runId, part.index), file), target);
            files.push(target);
          }
        }
        const rows = staged.reduce((n, p) => n + p.rows, 0);
        const notANumber = staged.reduce((n, p) => n + p.notANumber, 0);
        const mins = staged.map((p) => p.output.min).filter((v): v is number => v !== null);
        const maxs = staged.map((p) => p.output.max).filter((v): v is number => v !== null);
        const run = await publishRun(tmp, {
          request,
          card,
          dataset: { name: manifest.dataset, version: manifest.version },
          scoredAt: input.scoredAt,
          totals: {
            rows,
            outOfRange: staged.reduce((n, p) => n + p.outOfRange, 0),
            notANumber,
            output: {
              min: mins.length ? Math.min(...mins) : null,
              max: maxs.length ? Math.max(...maxs) : null,
              mean: rows - notANumber > 0 ? staged.reduce((s, p) => s + p.output.sum, 0) / (rows - notANumber) : null,
            },
            inferenceMs: staged.reduce((n, p) => n + p.inferenceMs, 0),
          },
          range: acceptableRange(card, request),
          files,
          // Wall time of the whole split run: from the workflow's start of scoring to now.
          seconds: (Date.now() - Date.parse(input.scoredAt)) / 1000,
        });
        await store.discardDir(runStagingDir(store, request.model, request.runId));
        return run;
      } finally {
        await fs.rm(tmp, { recursive: true, force: true });
      }
    },
  };
}
