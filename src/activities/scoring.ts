import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { readModelCard } from '../models/cards';
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
import { RUN_FILE, RUN_PAGE, type ScoreRun } from '../scoring/runs';
import { summarizeScoreRun } from '../scoring/summary';
import { renderScoringPage } from '../reports/scoring';
import { scoreDataset } from '../scoring/score';
import { MAX_SCORE_PARTS, partName, type ScorePart } from '../scoring/parts';
import { partStagingKey, runStagingKey, STAGED_PART_FILE, stagedPartFileKey, type StagedPart } from '../scoring/staging';
import type { ArtifactStore } from '../store/artifact-store';
import { joinKey, type PublishAttempt } from '../store/backend';
import { layout } from '../store/layout';
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
/** Server-side copies in flight at once while a split run is published (S3 answers each in its own time). */
const COPY_CONCURRENCY = 8;

export function createScoringActivities(deps: ScoringActivityDeps) {
  const { store } = deps;
  const { backend } = store;
  const runKey = (request: ScoreRequest) => store.key(...layout.predictionRun(request.model, request.runId));
  /** The store key of a URL an attempt handed out: attempts are always inside the store. */
  const keyOf = (url: string) => {
    const key = backend.keyOf(url);
    if (key === undefined) throw new Error(`${url} is not inside the artifact store ${store.location}`);
    return key;
  };

  /** This run's result when a retry finds it published; refuses a run id another run already used. */
  async function publishedRun(request: ScoreRequest, input: ScoreInput): Promise<ScoreRun | undefined> {
    const existing = await store.readJson<ScoreRun>(store.url(...layout.scoringRun(request.model, request.runId)));
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
   * The page written into the run's attempt, then run.json as its marker, last: locally the
   * attempt's folder renamed into place as predictions/<model>/<runId>/, on S3 run.json put only
   * if absent beside the attempt's prefix. A reader sees the finished run or none; of two
   * attempts at one run, one is published and the other's result is the published one.
   */
  async function publishRun(
    attempt: PublishAttempt,
    args: {
      request: ScoreRequest;
      card: ModelCard;
      dataset: { name: string; version: string };
      scoredAt: string;
      totals: { rows: number; outOfRange: number; notANumber: number; output: ScoreRun['output']; inferenceMs: number };
      range: ScoreRun['range'];
      /** The log's part files, names within the attempt, in row order. */
      files: string[];
      seconds: number;
    },
  ): Promise<ScoreRun> {
    const { request, card, totals, range } = args;
    const runUri = store.url(...layout.scoringRun(request.model, request.runId));
    const summary = await withDuckDbActivity(deps.duckdb, (conn) =>
      summarizeScoreRun(
        conn,
        args.files.map((f) => attempt.writeUrl(f)),
        card,
        range,
      ),
    );
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
      // The folder the parts are read from once published: the run's folder, or its attempt's prefix on S3.
      logUri: attempt.publishedUrl(''),
      parts: args.files.map((f) => attempt.publishedUrl(f)),
      runUri,
      htmlUri: attempt.publishedUrl(RUN_PAGE),
      summary,
      seconds: { total: args.seconds, inference: totals.inferenceMs / 1000 },
    };
    await store.writeFileAtomic(attempt.writeUrl(RUN_PAGE), renderScoringPage(run, runUri));
    const published = await backend.publishAttempt(attempt, runKey(request), RUN_FILE, `${JSON.stringify(run, null, 2)}\n`);
    return published ? run : ((await store.readJson<ScoreRun>(runUri)) ?? run);
  }

  /** The manifest's rows (or one row range of them) scored into the attempt as log part files. */
  async function scoreRows(
    attempt: PublishAttempt,
    args: { request: ScoreRequest; scoredAt: string; card: ModelCard; manifest: DatasetManifest; range: ScoreRun['range']; session: InferenceSession; part?: ScorePart },
  ) {
    const { request, card, manifest, part } = args;
    return withDuckDbActivity(deps.duckdb, async (conn, progress) => {
      // Parts are written as local files; on S3 each is uploaded into the attempt once complete.
      const scratch = backend.kind !== 'local' ? await store.makeTempDir('score-log') : undefined;
      try {
        return await scoreDataset({
          conn,
          dataset: { name: manifest.dataset, version: manifest.version, snapshotUri: manifest.snapshot.uri, contract: manifest.contract },
          card,
          runId: request.runId,
          scoredAt: args.scoredAt,
          partFile: (name) => (scratch ? path.join(scratch, name) : attempt.writeUrl(name)),
          ...(scratch
            ? {
                publishPart: async (file: string, name: string) => {
                  const url = attempt.writeUrl(name);
                  await backend.putFile(store.keyOf(url)!, file);
                  await fs.rm(file);
                  return url;
                },
              }
            : {}),
          batchSize: request.batchSize,
          partRows: request.partRows,
          range: args.range,
          session: args.session,
          ...(part ? { rows: { first: part.firstRow, ...(part.last ? {} : { count: part.rows }) } } : {}),
          onBatch: (rows) => progress('score', { ...(part ? { part: part.index } : {}), rows, total: part ? part.rows : manifest.rows.accepted }),
        });
      } finally {
        if (scratch) await fs.rm(scratch, { recursive: true, force: true });
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
      const attempt = await backend.beginAttempt(runKey(request), `score-${request.model}-${request.runId}`);
      let published = false;
      try {
        const card = await readModelCard(store, input.model);
        const manifest = await readVerifiedManifest(store, input.manifestUri);
        const range = acceptableRange(card, request);
        const started = Date.now();
        const scored = await scoreRows(attempt, { request, scoredAt: input.scoredAt, card, manifest, range, session });
        const run = await publishRun(attempt, {
          request,
          card,
          dataset: { name: manifest.dataset, version: manifest.version },
          scoredAt: input.scoredAt,
          totals: scored,
          range,
          files: scored.parts.map((p) => path.basename(p)),
          seconds: (Date.now() - started) / 1000,
        });
        published = true;
        return run;
      } finally {
        await session.release().catch(() => undefined);
        if (!published) await backend.abandonAttempt(attempt).catch(() => undefined);
      }
    },

    /**
     * Scores one row range of a split run into its staging (.staging/scoring/<model>/<runId>/<part>/),
     * published with what it counted (staged.json, its marker, last): locally a folder renamed into
     * place, on S3 an attempt prefix below it. Idempotent: a retry, or a second worker given the
     * same part, finds the staged part and returns it; a part left by another run is replaced.
     */
    async scoreDatasetPart(input: ScorePartInput): Promise<StagedPart> {
      const request = parseInput(scoreRequestSchema, input.request, 'score request');
      const part = parseInput(partSchema, input.part, 'scoring part');
      await publishedRun(request, input);
      const stagingKey = partStagingKey(store, request.model, request.runId, part.index);
      const stagedUri = backend.url(stagedPartFileKey(store, request.model, request.runId, part.index));
      const mine = (s: StagedPart | undefined): s is StagedPart =>
        !!s &&
        s.modelVersion === input.model.version &&
        s.datasetVersion === input.datasetVersion &&
        s.scoredAt === input.scoredAt &&
        s.firstRow === part.firstRow &&
        s.plannedRows === part.rows;
      const staged = await store.readJson<StagedPart>(stagedUri);
      if (mine(staged)) return staged;
      if (staged) await backend.delete(stagingKey);

      const session = await openProductionModel(input.model);
      const attempt = await backend.beginAttempt(stagingKey, `score-${request.model}-${request.runId}-${partName(part.index)}`);
      let settled = false;
      try {
        const card = await readModelCard(store, input.model);
        const manifest = await readManifestVerifiedOnce(store, input.manifestUri);
        const range = acceptableRange(card, request);
        const scored = await scoreRows(attempt, { request, scoredAt: input.scoredAt, card, manifest, range, session, part });
        const stagingUrl = backend.url(stagingKey);
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
          // Relative to the part's staging: the file itself locally, below the attempt's prefix on S3.
          files: scored.parts.map((p) =>
            attempt
              .publishedUrl(path.basename(p))
              .slice(stagingUrl.length + 1)
              .split(path.sep)
              .join('/'),
          ),
        };
        const won = await backend.publishAttempt(attempt, stagingKey, STAGED_PART_FILE, `${JSON.stringify(record, null, 2)}\n`);
        settled = true;
        if (won) return record;
        // Another attempt staged this part first (ours is removed): its files are the ones the run will publish.
        const theirs = await store.readJson<StagedPart>(stagedUri);
        if (!mine(theirs)) throw new Error(`Part ${part.index} of scoring run ${request.runId} is being staged by another run; retrying`);
        return theirs;
      } finally {
        await session.release().catch(() => undefined);
        if (!settled) await backend.abandonAttempt(attempt).catch(() => undefined);
      }
    },

    /**
     * Publishes a split run: every staged part's files put into one attempt at the run (hard links
     * locally, server-side copies on S3: no log bytes pass through this worker), numbered in row
     * order, with run.json (summary and range flags over all parts) and the page, then the staging
     * discarded. Idempotent: a retry after publishing finds run.json and returns it.
     */
    async finishScoreRun(input: FinishScoreInput): Promise<ScoreRun> {
      const request = parseInput(scoreRequestSchema, input.request, 'score request');
      const parts = parseInput(z.number().int().min(1).max(MAX_SCORE_PARTS), input.parts, 'scoring part count');
      const staging = runStagingKey(store, request.model, request.runId);
      const existing = await publishedRun(request, input);
      if (existing) {
        await backend.delete(staging);
        return existing;
      }
      const staged: StagedPart[] = [];
      for (let index = 0; index < parts; index++) {
        const part = await store.readJson<StagedPart>(backend.url(stagedPartFileKey(store, request.model, request.runId, index)));
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
      const attempt = await backend.beginAttempt(runKey(request), `score-${request.model}-${request.runId}-finish`);
      let published = false;
      try {
        const sources = staged.flatMap((part) => part.files.map((file) => joinKey(partStagingKey(store, request.model, request.runId, part.index), file)));
        const files = sources.map((_, n) => runPartFile(n));
        for (let i = 0; i < sources.length; i += COPY_CONCURRENCY) {
          await Promise.all(sources.slice(i, i + COPY_CONCURRENCY).map((source, j) => backend.copy(source, keyOf(attempt.writeUrl(files[i + j]!)))));
        }
        const rows = staged.reduce((n, p) => n + p.rows, 0);
        const notANumber = staged.reduce((n, p) => n + p.notANumber, 0);
        const mins = staged.map((p) => p.output.min).filter((v): v is number => v !== null);
        const maxs = staged.map((p) => p.output.max).filter((v): v is number => v !== null);
        const run = await publishRun(attempt, {
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
        published = true;
        await backend.delete(staging);
        return run;
      } finally {
        if (!published) await backend.abandonAttempt(attempt).catch(() => undefined);
      }
    },
  };
}
