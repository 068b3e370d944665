import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startEvaluation, startPipeline } from '../src/client/promote';
import { registryState, startTraining } from '../src/client/train';
import { resolveVersion } from '../src/datasets/catalog';
import { rootApplicationFailure } from '../src/errors';
import type { ModelCard, ModelVersionSummary } from '../src/models/card';
import { openVerifiedModel } from '../src/models/files';
import { openDuckDb } from '../src/sql/duckdb';
import { trainModelVersion } from '../src/training/train';
import { trainRequestSchema } from '../src/training/request';
import { ingestChurn } from './helpers/training';
import { cliFor } from './helpers/cli';
import { type TestEnv, startTestEnv } from './helpers/env';
import { rootFailure } from './helpers/failures';

/**
 * Models on S3, against the real S3 server the setup starts (versitygw), a real Temporal server
 * and ONNX Runtime: a worker whose own folder is empty scratch ingests, trains, shadow-evaluates
 * and promotes; the model files, cards and evaluation reports are objects in the bucket, loaded
 * from there (their sha256 checked over the bytes read) by evaluation and the registry.
 */
const s3 = inject('s3');
const bucket = `models-${randomBytes(4).toString('hex')}`;
const PREFIX = 'ml';
const storeEnv = {
  MLOPS_STORE: `s3://${bucket}/${PREFIX}`,
  AWS_ACCESS_KEY_ID: s3.accessKeyId,
  AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  AWS_REGION: s3.region,
  AWS_ENDPOINT_URL: s3.endpoint,
};
const base = `s3://${bucket}/${PREFIX}/`;
const sdk = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: s3 });

/** Every key under the store's prefix (relative to it). */
async function keys(under = ''): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await sdk.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${PREFIX}/${under}`, ContinuationToken: token }));
    out.push(...(page.Contents ?? []).map((o) => o.Key!.slice(PREFIX.length + 1)));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out.sort();
}
const objectKey = (uri: string) => uri.slice(`s3://${bucket}/`.length);

/** Every file below a local folder, at any depth. */
function filesBelow(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => fs.statSync(path.join(dir, f)).isFile());
}

let env: TestEnv;
let db: DuckDBInstance;
let conn: DuckDBConnection;
let first: ModelVersionSummary;
beforeAll(async () => {
  await sdk.send(new CreateBucketCommand({ Bucket: bucket }));
  env = await startTestEnv('s3-models', storeEnv);
  db = await openDuckDb({ threads: 2 });
  conn = await db.connect();
  await env.store.backend.setupDuckDb(conn);
});
afterAll(async () => {
  conn?.closeSync();
  db?.closeSync();
  env?.store.backend.close();
  await env?.shutdown();
  sdk.destroy();
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
    const card = JSON.parse(
      Buffer.from(await (await sdk.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(first.cardUri) }))).Body!.transformToByteArray()).toString('utf8'),
    ) as ModelCard;
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
    const cli = cliFor(env.config, { env: storeEnv });
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
    const other = await db.connect();
    try {
      const train = (c: DuckDBConnection) =>
        trainModelVersion({ conn: c, store: env.store, request, manifest, manifestUri: env.store.manifestFile('churn', manifest.version), now: new Date(), allowedCommands: [] });
      const [a, b] = await Promise.all([train(conn), train(other)]);
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

  it('refuses a model object changed in the bucket (ModelLoadError), in evaluation and wherever it is loaded', async () => {
    const key = objectKey(first.onnxUri);
    const original = Buffer.from(await (await sdk.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
    const tampered = Buffer.from(original);
    tampered[tampered.length - 1]! ^= 0x01;
    await sdk.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: tampered }));
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
      await sdk.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: original }));
    }
    await (await openVerifiedModel(env.store, first)).release();
  });
});
