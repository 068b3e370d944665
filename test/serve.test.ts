import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listPending, rollbackProduction, startPromotion } from '../src/client/promote';
import { startLabels, startMonitor } from '../src/client/retrain';
import { acknowledgeAlert, startScoring } from '../src/client/score';
import { startTraining } from '../src/client/train';
import { startModelServer, type ModelServer } from '../src/serving/http';
import { createPredictor, type PredictorOptions } from '../src/serving/predictor';
import { quoteString } from '../src/sql/quote';
import { scoreStatusQuery } from '../src/workflows/score-messages';
import { ingestChurnData } from './helpers/churn';
import { type TestEnv, startTestEnv } from './helpers/env';
import { until } from './helpers/wait';
import { sql } from './helpers/sql';

let env: TestEnv;
const MODEL = 'online';
let v1: string;

/** Gates that any trained churn model passes: these tests are about serving, not model quality. */
const LENIENT = { thresholds: { rocAuc: { min: 0.5 } }, minImprovement: -1, maxSliceRegression: 1, maxLatencyRatio: 1000 };

async function trainAndPromote(trainer: 'logistic' | 'gbdt', nEstimators = 20): Promise<string> {
  const trained = await (
    await startTraining(env.client, env.config, { model: MODEL, dataset: 'churn-train', trainer: { kind: trainer, params: trainer === 'gbdt' ? { nEstimators } : {} } })
  ).result();
  const promoted = await (await startPromotion(env.client, env.config, { model: MODEL, candidateVersion: trained.summary.version, gates: LENIENT })).result();
  expect(promoted.phase, JSON.stringify(promoted.decision)).toBe('promoted');
  return trained.summary.version;
}

async function serve(options: Partial<PredictorOptions> = {}, server: { token?: string; bodyLimit?: number } = {}): Promise<ModelServer> {
  const predictor = await createPredictor({ model: MODEL, store: env.store, client: env.client, taskQueue: env.config.taskQueue, pollIntervalMs: 200, ...options });
  return startModelServer({ predictor, model: MODEL, port: 0, ...server });
}

async function post(server: ModelServer, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.url}/v1/models/${MODEL}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

const row = (id: number, x1 = 0.5, x2: number | null = -0.25, color = 'red') => ({ id, x1, x2, color });

beforeAll(async () => {
  env = await startTestEnv('serve');
  await ingestChurnData(env, { dataset: 'churn-train', rows: 6000 });
  v1 = await trainAndPromote('logistic');
});
afterAll(async () => {
  await env?.shutdown();
});

describe('mlops serve', () => {
  it('answers every row as batch scoring does: output, label, probabilities, flag and contributions', async () => {
    const live = await ingestChurnData(env, { dataset: 'churn-live', rows: 400, idOffset: 100_000, outliers: 10, unlabeled: true });
    const run = (await (await startScoring(env.client, env.config, { model: MODEL, dataset: 'churn-live', runId: 'batch-1', maxFlaggedShare: 1 })).result()).run!;
    const batch = await sql<{ key: string; output: number; predicted_label: string; flag: string | null; contributions: Record<string, number> }>(
      `SELECT key, output, predicted_label, flag, contributions FROM read_parquet([${run.parts.map(quoteString).join(', ')}]) ORDER BY row_number`,
    );
    const rows = await sql<{ id: number; x1: number; x2: number | null; color: string }>(
      `SELECT id, x1, x2, color FROM read_parquet(${quoteString(live.snapshotUri)}) ORDER BY file_row_number`,
    );
    const server = await serve({ alerts: false });
    try {
      const many = await post(
        server,
        rows.map((r) => ({ ...r, id: Number(r.id) })),
      );
      expect(many.status, JSON.stringify(many.json)).toBe(200);
      expect(many.json).toMatchObject({ model: MODEL, modelVersion: v1 });
      expect(many.json.predictions).toHaveLength(400);
      expect(batch.filter((b) => b.flag !== null).length).toBeGreaterThanOrEqual(10);
      many.json.predictions.forEach((p: any, i: number) => {
        const b = batch[i]!;
        expect(p.key).toBe(b.key);
        expect(p.output).toBe(b.output);
        expect(p.predictedLabel).toBe(b.predicted_label);
        expect(p.flag).toBe(b.flag);
        expect(p.contributions).toEqual(b.contributions);
        expect(p.probabilities.true).toBe(b.output);
      });
      // One row as an object gets one prediction back, with the same numbers.
      const one = await post(server, { ...rows[3]!, id: Number(rows[3]!.id) });
      expect(one.status).toBe(200);
      expect(one.json.prediction.output).toBe(batch[3]!.output);
      expect(typeof one.json.requestId).toBe('string');
      // Single rows sent together (the server may answer them from one shared session.run) get
      // exactly their own numbers, each request its own row.
      const together = await Promise.all(rows.slice(0, 40).map((r) => post(server, { ...r, id: Number(r.id) })));
      together.forEach((res, i) => {
        expect(res.status).toBe(200);
        expect(res.json.prediction.key).toBe(batch[i]!.key);
        expect(res.json.prediction.output).toBe(batch[i]!.output);
        expect(res.json.prediction.contributions).toEqual(batch[i]!.contributions);
      });
    } finally {
      await server.close();
    }
  });

  it('refuses bad input with a 400 naming each bad field, and oversized, unauthorized or misaddressed requests clearly', async () => {
    const server = await serve({ alerts: false, log: false }, { token: 's3cret', bodyLimit: 4096 });
    const auth = { authorization: 'Bearer s3cret' };
    try {
      const bad = await post(server, [row(1), { id: 2, x1: 'high', x2: null, colour: 'red' }, { id: 3, x1: 1, x2: 2, color: 'purple' }], auth);
      expect(bad.status).toBe(400);
      expect(bad.json.error).toBe('InvalidInput');
      expect(bad.json.issues).toEqual(
        expect.arrayContaining([
          { row: 1, field: 'x1', problem: 'expected a number, got the string "high"' },
          { row: 1, field: 'colour', problem: expect.stringContaining('did you mean "color"') },
          { row: 1, field: 'color', problem: expect.stringMatching(/^missing/) },
          { row: 2, field: 'color', problem: expect.stringContaining('"purple" is not a category the model was trained on') },
        ]),
      );
      expect(bad.json.issues).toHaveLength(4);
      // JSON.parse reads 1e999 as Infinity: refused, not fed to the model.
      const infinite = await post(server, '{"id": 1, "x1": 1e999, "x2": 0, "color": "red"}', auth);
      expect(infinite.status).toBe(400);
      expect(infinite.json.issues).toEqual([{ row: 0, field: 'x1', problem: expect.stringContaining('finite number') }]);
      expect((await post(server, '{"id": 1, "x1": ', auth)).json).toMatchObject({ error: 'BadRequest', message: expect.stringContaining('not valid JSON') });
      expect((await post(server, [], auth)).status).toBe(400);
      expect((await post(server, '"a row"', auth)).json.issues[0].problem).toMatch(/one row as a JSON object/);
      const big = await post(
        server,
        Array.from({ length: 200 }, (_, i) => row(i)),
        auth,
      );
      expect(big.status).toBe(413);
      expect(big.json.message).toMatch(/limit of 4096 bytes.*--body-limit/);
      expect((await post(server, row(1))).status).toBe(401);
      expect((await post(server, row(1), { authorization: 'Bearer wrong!' })).status).toBe(401);
      const other = await fetch(`${server.url}/v1/models/nope/predict`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: '{}' });
      expect(other.status).toBe(404);
      expect(((await other.json()) as any).message).toContain(`serves model "${MODEL}"`);
      // Probes stay open; metrics do not.
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
      const ok = await post(server, row(1), auth);
      expect(ok.status).toBe(200);
      const metrics = await (await fetch(`${server.url}/metrics`, { headers: auth })).text();
      expect(metrics).toContain(`mlops_serve_model_info{model="${MODEL}",version="${v1}",registry_production="${v1}"} 1`);
      expect(metrics).toMatch(/mlops_serve_requests_total\{route="\/v1\/models\/:model\/predict",status="400"\} [1-9]/);
      expect(metrics).toMatch(/mlops_serve_request_duration_seconds_bucket\{le="\+Inf",route="\/v1\/models\/:model\/predict"\} [1-9]/);
      expect(metrics).toContain('mlops_serve_flagged_share 0');
    } finally {
      await server.close();
    }
  });

  it('raises one alert through Temporal for a burst of out-of-range predictions, acknowledged like a batch alert', async () => {
    const server = await serve({ log: false, alerts: { windowRows: 50, minRows: 20, maxFlaggedShare: 0.1 } });
    try {
      for (let i = 0; i < 30; i++) expect((await post(server, row(i))).status).toBe(200);
      // The burst: x1 far outside anything seen in training, in requests of several rows.
      for (let i = 0; i < 8; i++) {
        const r = await post(
          server,
          Array.from({ length: 5 }, (_, k) => row(1000 + i * 5 + k, 500)),
        );
        expect(r.json.predictions.every((p: any) => p.flag === 'out-of-range')).toBe(true);
      }
      for (let i = 0; i < 10; i++) await post(server, row(2000 + i, 500));
      const alerts = async () => {
        const found: string[] = [];
        for await (const wf of env.client.workflow.list({ query: `WorkflowType = "servingAlert" AND MlopsModel = "${MODEL}"` })) {
          if (wf.workflowId.includes('flagged-share')) found.push(wf.workflowId);
        }
        return found;
      };
      const ids = await until('the alert', async () => ((await alerts()).length ? alerts() : undefined));
      expect(ids).toHaveLength(1);
      const handle = env.client.workflow.getHandle(ids[0]!);
      expect(await handle.query(scoreStatusQuery)).toMatchObject({ phase: 'waiting-for-acknowledgement', model: MODEL });
      expect(((await fetch(`${server.url}/readyz`).then((r) => r.json())) as any).alerting).toBe(true);
      const runId = ids[0]!.split(':')[2]!;
      await acknowledgeAlert(env.client, { model: MODEL, runId, by: 'ana', reason: 'load test' });
      expect(await handle.result()).toMatchObject({ phase: 'done', acknowledgement: { by: 'ana' } });
    } finally {
      await server.close();
    }
  });

  it('logs every online prediction in the background (batch columns), and late labels join them in monitoring', async () => {
    const server = await serve({ alerts: false, log: { flushIntervalMs: 200 } });
    const ids = Array.from({ length: 250 }, (_, i) => 500_000 + i);
    let dir = '';
    try {
      for (let i = 0; i < ids.length; i += 50)
        expect(
          (
            await post(
              server,
              ids.slice(i, i + 50).map((id) => row(id, (id % 40) / 10 - 2)),
            )
          ).status,
        ).toBe(200);
      const one = await post(server, { x1: 0.1, x2: null, color: 'green' }, { 'x-request-id': 'req-no-key' });
      expect(one.json.prediction.key).toBe('req-no-key');
      // What a crash can lose: only rows still waiting. One flush interval later, all are on disk
      // while the server runs on (nothing closed, nothing flushed by hand).
      const status = await until('the log written', async () => {
        const s = server.predictor.status();
        return s.log && s.log.written === 251 && s.log.buffered === 0 ? s : undefined;
      });
      dir = status.log!.dir;
      const logged = await sql<Record<string, unknown>>(`SELECT * FROM read_parquet(${quoteString(`${dir}/part-*.parquet`)}) ORDER BY row_number`);
      expect(logged).toHaveLength(251);
      expect(fs.readdirSync(dir).filter((f) => !f.startsWith('part-'))).toEqual([]);
      expect(logged[0]).toMatchObject({ row_number: 0, key: '500000', model: MODEL, model_version: v1, dataset: 'churn-train', dataset_version: 'online', flag: null });
      expect(Object.keys(logged[0]!.features as object)).toEqual(['x1', 'x2', 'color']);
      expect(Object.keys(logged[0]!.contributions as object)).toEqual(['x1', 'x2', 'color', '(bias)']);
      expect(logged.at(-1)).toMatchObject({ key: 'req-no-key', request_id: 'req-no-key' });
      // A missing number is NULL in the log (not NaN), a value is the float32 the model was fed.
      expect(logged.at(-1)!.features).toEqual({ x1: Math.fround(0.1), x2: null, color: 'green' });
      // The batch log's columns, in its order and with its types, then request_id.
      const schema = (glob: string) =>
        sql<{ column_name: string; column_type: string }>(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(${quoteString(glob)}))`);
      const batchSchema = await schema(`${env.store.path('predictions', MODEL, 'batch-1')}/part-*.parquet`);
      expect(batchSchema.length).toBeGreaterThan(10);
      expect(await schema(`${dir}/part-*.parquet`)).toEqual([...batchSchema, { column_name: 'request_id', column_type: 'VARCHAR' }]);
    } finally {
      await server.close();
    }
    const labels = `${env.inputDir}/online-labels.csv`;
    fs.writeFileSync(labels, `id,churned\n${ids.map((id) => `${id},${id % 40 >= 20}`).join('\n')}\n`);
    expect((await (await startLabels(env.client, env.config, { dataset: 'churn-train', source: labels })).result()).rows).toBe(250);
    const report = await (await startMonitor(env.client, env.config, { model: MODEL, dataset: 'churn-train', runId: 'online-check', retrainOnTrigger: false })).result();
    expect(report.live).toMatchObject({ rows: 250, primaryMetric: 'rocAuc' });
    expect(report.live!.value).toBeGreaterThan(0.9);
  });

  it('swaps to each new production (promotion, then rollback) under a request loop without one failed response', async () => {
    const server = await serve({ alerts: false, log: false });
    const seen = new Map<string, number>();
    const failures: string[] = [];
    let stop = false;
    const loop = async () => {
      for (let i = 0; !stop; i++) {
        try {
          const r = await post(server, i % 2 ? row(i) : [row(i), row(i + 1, -1, null, 'blue')]);
          if (r.status !== 200) failures.push(`${r.status} ${JSON.stringify(r.json)}`);
          else seen.set(r.json.modelVersion, (seen.get(r.json.modelVersion) ?? 0) + 1);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const loops = [loop(), loop(), loop()];
    try {
      const v2 = await trainAndPromote('gbdt');
      await until('the server serves v2', async () => (((await (await fetch(`${server.url}/readyz`)).json()) as any).version === v2 ? true : undefined));
      const afterPromotion = seen.get(v2) ?? 0;
      await rollbackProduction(env.client, { model: MODEL, by: 'test', reason: 'swap under load' });
      await until('the server serves v1 again', async () => (((await (await fetch(`${server.url}/readyz`)).json()) as any).version === v1 ? true : undefined));
      const beforeStop = seen.get(v1) ?? 0;
      await until('requests answered by v1 after the rollback', async () => ((seen.get(v1) ?? 0) > beforeStop + 20 ? true : undefined));
      stop = true;
      await Promise.all(loops);
      expect(failures).toEqual([]);
      expect(afterPromotion).toBeGreaterThan(0);
      expect(seen.get(v2)).toBeGreaterThan(0);
      expect([...seen.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(100);
    } finally {
      stop = true;
      await Promise.all(loops);
      await server.close();
    }
  });

  it('keeps serving the old version and raises a flag when the new production fails its sha256 check', async () => {
    // Polls only when told to, so the file can be damaged between the promotion and the swap.
    const server = await serve({ pollIntervalMs: 3_600_000, log: false });
    try {
      const before = (await post(server, row(1))).json.modelVersion;
      const v3 = await trainAndPromote('gbdt', 7);
      const onnx = `${env.store.modelVersionDir(MODEL, v3)}/model.onnx`;
      const original = fs.readFileSync(onnx);
      fs.writeFileSync(onnx, Buffer.concat([original, Buffer.from('tampered')]));
      await server.predictor.refresh();
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(200);
      const status = (await ready.json()) as any;
      expect(status).toMatchObject({
        ready: true,
        version: before,
        registryProduction: v3,
        loadFailures: 1,
        failedVersion: { version: v3, message: expect.stringContaining('changed after registration') },
      });
      expect((await post(server, row(2))).json.modelVersion).toBe(before);
      const flag = await until('the model-load alert', async () => (await listPending(env.client)).find((p) => p.workflowId.startsWith(`score:${MODEL}:online-model-load-`)));
      expect(flag).toMatchObject({ type: 'servingAlert', model: MODEL, stage: 'serve' });
      // Once the file is back, the next check swaps to it.
      fs.writeFileSync(onnx, original);
      await server.predictor.refresh();
      expect((await post(server, row(3))).json.modelVersion).toBe(v3);
      await acknowledgeAlert(env.client, { model: MODEL, runId: flag.workflowId.split(':')[2]!, by: 'test', reason: 'file restored' });
    } finally {
      await server.close();
    }
  });
});
