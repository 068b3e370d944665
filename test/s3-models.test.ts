import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEvaluation, startPipeline } from '../src/client/promote';
import { registryState, startTraining } from '../src/client/train';
import { resolveVersion } from '../src/datasets/catalog';
import { rootApplicationFailure } from '../src/errors';
import type { ModelCard, ModelVersionSummary } from '../src/models/card';
import { openVerifiedModel } from '../src/models/files';
import { trainModelVersion } from '../src/training/train';
import { trainRequestSchema } from '../src/training/request';
import { ingestChurn } from './helpers/training';
import { sweepUnpublished } from '../src/datasets/sweep';
import { cliFor } from './helpers/cli';
import { type TestEnv, startTestEnv } from './helpers/env';
import { rootFailure } from './helpers/failures';
import { storeDuckDb, testBucket } from './helpers/s3-bucket';

/**
 * Models on S3, against the real S3 server the setup starts (versitygw), a real Temporal server
 * and ONNX Runtime: a worker whose own folder is empty scratch ingests, trains, shadow-evaluates
 * and promotes; the model files, cards and evaluation reports are objects in the bucket, loaded
 * from there (their sha256 checked over the bytes read) by evaluation and the registry.
 */
const bucket = testBucket('models', 'ml');
const { base, keys } = bucket;
const DAY = 86_400_000;

/** Every file below a local folder, at any depth. */
function filesBelow(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => fs.statSync(path.join(dir, f)).isFile());
}

let env: TestEnv;
let duck: Awaited<ReturnType<typeof storeDuckDb>> | undefined;
let first: ModelVersionSummary;
const conn = () => duck!.conn;
beforeAll(async () => {
  await bucket.create();
  env = await startTestEnv('s3-models', bucket.storeEnv);
  duck = await storeDuckDb(env.store);
});
afterAll(async () => {
  duck?.close();
  env?.store.backend.close();
  await env?.shutdown();
  bucket.sdk.destroy();
});

describe('models on S3', () => {
  it('ingests, trains, evaluates and promotes with everything in the bucket and nothing model-shaped on the local disk', async () => {
    await ingestChurn(env);
    const handle = await startPipeline(env.client, env.config, {
      train: { model: 'churn', dataset: 'churn', trainer: { kind: 'logistic', params: {} } },
      promote: { gates: { thresholds: { rocAuc: { min: 0.7 } } } },
    });
    const result = await handle.result();
    expect(result.promotion).toMatchObject({ phase: 'promoted', candidate: result.trained.summary.version });
    first = result.trained.summary;
    const version = `models/churn/versions/${first.version}`;

    // The card is the marker, at the version's key; the file it names lies under the attempt that published it.
    expect(first.cardUri).toBe(`${base}${version}/card.json`);
    expect(first.onnxUri).toMatch(new RegExp(`^${base}${version}/\\.attempt-[0-9a-z]+-[0-9a-f]{12}/model\\.onnx$`));
    const stored = await keys('models/');
    expect(stored).toEqual([`${version}/card.json`, first.onnxUri.slice(base.length)].sort());
    const card = JSON.parse((await bucket.read(first.cardUri)).toString('utf8')) as ModelCard;
    expect(card.onnx).toMatchObject({ uri: first.onnxUri, sha256: first.onnxSha256 });
    expect(card.dataset.manifestUri.startsWith(base)).toBe(true);

    // The evaluation the promotion rested on, with its Markdown and page, in the bucket.
    const reportUri = result.promotion.evaluation!.reportUri;
    expect(reportUri).toMatch(new RegExp(`^${base}reports/evaluations/churn/[0-9a-f]{16}\\.json$`));
    const id = path.posix.basename(reportUri, '.json');
    expect(await keys('reports/evaluations/')).toEqual(['json', 'md', 'html'].map((ext) => `reports/evaluations/churn/${id}.${ext}`).sort());
    expect((await registryState(env.client, 'churn')).aliases.production).toBe(first.version);

    // The worker's own folder held scratch only.
    const local = filesBelow(env.config.dataDir);
    expect(local.filter((f) => /\.(onnx|json|md|html)$/.test(f))).toEqual([]);
    expect(fs.readdirSync(env.config.dataDir).filter((n) => !n.startsWith('.'))).toEqual([]);
  });

  it('evaluates a second version against production, both read from the bucket, and reuses a version trained again', async () => {
    const handle = await startPipeline(env.client, env.config, {
      train: { model: 'churn', dataset: 'churn', trainer: { kind: 'gbdt', params: { nEstimators: 20 } } },
      promote: { gates: { minImprovement: -1, maxSliceRegression: 1, maxLatencyRatio: 1000 } },
    });
    const result = await handle.result();
    expect(result.promotion.evaluation).toMatchObject({ baselineValue: expect.any(Number), passed: true });
    expect(result.promotion.phase).toBe('promoted');
    const again = await (await startTraining(env.client, env.config, { model: 'churn', dataset: 'churn', trainer: { kind: 'logistic', params: {} } }, 'again')).result();
    expect(again).toMatchObject({ reused: true, summary: { version: first.version, onnxUri: first.onnxUri } });
    expect((await keys('models/')).filter((k) => k.endsWith('/card.json'))).toHaveLength(2);
  });

  it('lists the cards and reports with `mlops models` and `mlops sql`, read from the bucket', async () => {
    const cli = cliFor(env.config, { env: bucket.storeEnv });
    const shown = await cli('models', 'show', 'churn', '--json');
    expect(shown.code, shown.stderr).toBe(0);
    expect((JSON.parse(shown.stdout) as { versions: Array<{ version: string; cardUri: string }> }).versions).toEqual(
      expect.arrayContaining([expect.objectContaining({ version: first.version, cardUri: first.cardUri })]),
    );
    const models = await cli('sql', 'SELECT version, trainer, onnx_uri, onnx_sha256 FROM models ORDER BY trainer', '--json');
    expect(models.code, models.stderr).toBe(0);
    const rows = JSON.parse(models.stdout) as Array<{ version: string; trainer: string; onnx_uri: string; onnx_sha256: string }>;
    expect(rows.map((r) => r.trainer)).toEqual(['gbdt', 'logistic']);
    expect(rows[1]).toEqual({ version: first.version, trainer: 'logistic', onnx_uri: first.onnxUri, onnx_sha256: first.onnxSha256 });
    const evaluations = await cli('sql', 'SELECT candidate, baseline, passed FROM evaluations ORDER BY created_at', '--json');
    expect(evaluations.code, evaluations.stderr).toBe(0);
    expect((JSON.parse(evaluations.stdout) as Array<{ candidate: string; baseline: string | null }>).map((e) => e.baseline)).toEqual([null, first.version]);
  });

  it('ends with one card and the file it names when two workers train the same version at once', async () => {
    const manifest = await resolveVersion(env.store, 'churn@latest');
    const request = { ...trainRequestSchema.parse({ model: 'race', dataset: 'churn', trainer: { kind: 'logistic', params: {} } }), datasetVersion: manifest.version };
    const other = await duck!.db.connect();
    try {
      const train = (c: DuckDBConnection) =>
        trainModelVersion({ conn: c, store: env.store, request, manifest, manifestUri: env.store.manifestFile('churn', manifest.version), now: new Date(), allowedCommands: [] });
      const [a, b] = await Promise.all([train(conn()), train(other)]);
      expect(a.summary.version).toBe(b.summary.version);
      expect([a.reused, b.reused].sort()).toEqual([false, true]);
      // The loser removed its attempt: one card, and the one file it names.
      const winner = a.reused ? b : a;
      expect(a.summary.onnxUri).toBe(winner.summary.onnxUri);
      expect(await keys('models/race/')).toEqual([`models/race/versions/${a.summary.version}/card.json`, winner.summary.onnxUri.slice(base.length)].sort());
      await (await openVerifiedModel(env.store, a.summary)).release();
    } finally {
      other.closeSync();
    }
  });

  it('draws evaluation pages into the bucket, lists them in `mlops status`, and serves them from there with `mlops report --open`', async () => {
    const cli = cliFor(env.config, { env: bucket.storeEnv });
    const status = await cli('status', 'churn', '--json');
    expect(status.code, status.stderr).toBe(0);
    const evaluations = (JSON.parse(status.stdout) as { evaluations: Array<{ report: string; page: string }> }).evaluations;
    expect(evaluations).toHaveLength(2);
    const { report: id, page } = evaluations[1]!;
    expect(page).toBe(`${base}reports/evaluations/churn/${id}.html`);

    // Drawn again from its JSON in the bucket, over the page the evaluation wrote.
    const stale = '<html><title>stale</title></html>';
    await bucket.write(page, stale);
    const drawn = await cli('report', 'churn', '--evaluation', id);
    expect(drawn.code, drawn.stderr).toBe(0);
    expect(drawn.stdout.trim()).toBe(page);
    const html = (await bucket.read(page)).toString('utf8');
    expect(html).not.toBe(stale);
    expect(html).toContain(first.version);

    const served = cli.spawn(['report', 'churn', '--evaluation', id, '--open']);
    try {
      await served.waitFor(/open (http:\/\/127\.0\.0\.1:\d+\/\S+)/);
      const url = /open (http:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(served.output())![1]!;
      expect(url).toMatch(new RegExp(`/reports/evaluations/churn/${id}\\.html$`));
      const answer = await fetch(url);
      expect(answer.status).toBe(200);
      expect(await answer.text()).toBe(html);
      const root = new URL('/', url);
      // Pages only: not the report's JSON, not a card, nothing climbing out of the prefix.
      expect((await fetch(new URL(`reports/evaluations/churn/${id}.json`, root))).status).toBe(404);
      expect((await fetch(new URL(`models/churn/versions/${first.version}/card.json`, root))).status).toBe(404);
      expect((await fetch(new URL('/%2e%2e/%2e%2e/x.html', root))).status).toBe(404);
      expect((await fetch(new URL('reports/evaluations/churn/nope.html', root))).status).toBe(404);
    } finally {
      await served.stop();
    }
  });

  it('sweeps model attempts no card names after the grace period, never the one a card names', async () => {
    const live = first.onnxUri.slice(base.length);
    const dead = `models/churn/versions/${first.version}/.attempt-old-000000000000/model.onnx`;
    const ghost = 'models/churn/versions/0123456789abcdef/.attempt-old-111111111111/model.onnx';
    for (const key of [dead, ghost]) await bucket.write(`${base}${key}`, 'half');
    expect(await sweepUnpublished(env.store, DAY)).toEqual([]);
    const swept = await sweepUnpublished(env.store, DAY, Date.now() + 2 * DAY);
    expect(swept.sort((a, b) => a.uri.localeCompare(b.uri))).toEqual([
      { uri: `${base}${path.posix.dirname(ghost)}`, why: 'a model attempt that never published its card' },
      { uri: `${base}${path.posix.dirname(dead)}`, why: 'a model attempt its card does not name' },
    ]);
    const left = await keys('models/churn/');
    expect(left).toContain(live);
    expect(left.filter((k) => k.includes('.attempt-old-'))).toEqual([]);
    await (await openVerifiedModel(env.store, first)).release();
  });

  it('refuses a model object changed in the bucket (ModelLoadError), in evaluation and wherever it is loaded', async () => {
    const original = await bucket.read(first.onnxUri);
    const tampered = Buffer.from(original);
    tampered[tampered.length - 1]! ^= 0x01;
    await bucket.write(first.onnxUri, tampered);
    try {
      const refused = rootApplicationFailure(
        await openVerifiedModel(env.store, first).then(
          () => undefined,
          (e: unknown) => e,
        ),
      );
      expect(refused?.type).toBe('ModelLoadError');
      expect(refused?.message).toMatch(
        new RegExp(`Model churn@${first.version}: ${first.onnxUri.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} changed after registration \\(sha256 [0-9a-f]{12}…`),
      );

      const evaluation = await startEvaluation(env.client, env.config, { model: 'churn', candidateVersion: first.version, options: { dataset: 'churn' } });
      const failure = await rootFailure(evaluation.result());
      expect(failure.type).toBe('ModelLoadError');
      expect(failure.message).toContain('changed after registration');
    } finally {
      await bucket.write(first.onnxUri, original);
    }
    await (await openVerifiedModel(env.store, first)).release();
  });
});
