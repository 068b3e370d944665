import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../src/client/ingest';
import { startLabels } from '../src/client/retrain';
import { resolveSourceFiles } from '../src/datasets/raw';
import { openDuckDb } from '../src/sql/duckdb';
import { scoreRequestSchema } from '../src/scoring/request';
import { ArtifactStore } from '../src/store/artifact-store';
import { type TestEnv, startTestEnv } from './helpers/env';
import { rootFailure } from './helpers/failures';

/**
 * Hostile paths and names sent to a worker confined by MLOPS_INGEST_ALLOWED_ROOTS, including by a
 * client that skips our client-side validation and starts workflows with raw arguments.
 */
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-paths-'));
const allowed = path.join(base, 'allowed');
const outside = path.join(base, 'outside');
const csv = 'id,x\n1,0.5\n2,1.5\n';
let env: TestEnv;
beforeAll(async () => {
  fs.mkdirSync(allowed);
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(allowed, 'ok.csv'), csv);
  fs.writeFileSync(path.join(outside, 'secret.csv'), csv);
  fs.symlinkSync(path.join(outside, 'secret.csv'), path.join(allowed, 'link.csv'));
  env = await startTestEnv('paths', { MLOPS_INGEST_ALLOWED_ROOTS: allowed });
});
afterAll(async () => {
  await env?.shutdown();
  fs.rmSync(base, { recursive: true, force: true });
});

const contract = {
  columns: [
    { name: 'id', type: 'integer' as const },
    { name: 'x', type: 'double' as const },
  ],
  key: ['id'],
};
/** Starts the workflow with raw arguments, as a client that does not use our validation would. */
const rawStart = (type: string, args: unknown[]) =>
  env.client.workflow.start(type, { taskQueue: env.config.taskQueue, workflowId: `raw-${type}-${Math.random().toString(16).slice(2)}`, args }).then((h) => h.result());

describe('paths outside the allowed roots', () => {
  it('ingests inside, refuses outside, traversal and symlinks out, for data and for labels', async () => {
    expect((await ingest(env.client, env.config, { dataset: 'inside', source: path.join(allowed, 'ok.csv'), contract })).rows.accepted).toBe(2);
    for (const source of [path.join(outside, 'secret.csv'), `${allowed}/../outside/secret.csv`, path.join(allowed, 'link.csv'), path.join(allowed, '*.csv')]) {
      const failure = await rootFailure(ingest(env.client, env.config, { dataset: 'outside', source, contract }));
      expect(failure.type, source).toBe('InvalidInput');
      expect(failure.message).toMatch(/is outside the folders this worker may read \(MLOPS_INGEST_ALLOWED_ROOTS=/);
    }
    expect(fs.existsSync(env.store.path('datasets', 'outside'))).toBe(false);
    expect(fs.existsSync(env.store.path('raw', 'outside'))).toBe(false);

    const labels = await rootFailure(startLabels(env.client, env.config, { dataset: 'inside', source: path.join(outside, 'secret.csv'), label: 'x' }).then((h) => h.result()));
    expect(labels.message).toMatch(/outside the folders this worker may read/);
  });

  it('admits files under a root that is itself reached through a symlink', async () => {
    const linkedRoot = path.join(base, 'linked-root');
    fs.symlinkSync(allowed, linkedRoot);
    const db = await openDuckDb();
    try {
      const conn = await db.connect();
      expect(await resolveSourceFiles(conn, path.join(allowed, 'ok.csv'), [linkedRoot])).toEqual([path.join(allowed, 'ok.csv')]);
      await expect(resolveSourceFiles(conn, path.join(outside, 'secret.csv'), [linkedRoot])).rejects.toThrow(/outside the folders/);
    } finally {
      db.closeSync();
    }
  });
});

describe('hostile names sent straight to the workflows', () => {
  it('are refused by the worker before anything touches the store', async () => {
    const before = fs.readdirSync(path.dirname(env.config.dataDir)).sort();
    for (const dataset of ['../escape', '..', 'a/b', 'a\\b', '', '.hidden', 'x'.repeat(101), 'ümlaut', 'nul\0byte']) {
      const failure = await rootFailure(rawStart('ingestDataset', [{ dataset, source: path.join(allowed, 'ok.csv'), contract }]));
      expect(failure.message, JSON.stringify(dataset)).toMatch(/dataset name must be 1-100 characters/);
    }
    const model = await rootFailure(rawStart('trainModel', [{ model: '../../models', dataset: 'inside', datasetVersion: 'latest', trainer: { kind: 'logistic', params: {} } }]));
    expect(model.message).toMatch(/model name must be 1-100 characters/);
    // Run ids name prediction-log folders; the scoring activity parses its request with this schema.
    expect(scoreRequestSchema.safeParse({ model: 'm', dataset: 'inside', runId: '../../../tmp/x' }).error?.message).toMatch(/run name must be 1-100 characters/);
    // Nothing was created beside the store, and the store holds only what the valid ingest wrote.
    expect(fs.readdirSync(path.dirname(env.config.dataDir)).sort()).toEqual(before);
    expect(() => new ArtifactStore(env.config.dataDir).path('datasets', '..', '..', 'x')).toThrow(/escapes the artifact store/);
  });
});
