/**
 * `npm run bench:window [-- --rows 1000000]`
 *
 * The retraining loop's data step (planRetrainingData: labeled production data, training window and
 * judging rows, each published as a dataset version) against one ingestion activity
 * (buildDatasetVersion) of the original data, in the same process and run. Input: N original rows
 * and N scored live rows (half of them customers of the original data), all labeled late.
 * Prints both times, the first run (everything published) and a rerun (every version found by its
 * content), and the ratio data step / ingestion.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatTable } from '../src/cli/output';
import { parseContract } from '../src/contract/schema';
import { buildDatasetVersion } from '../src/datasets/ingest';
import { stageRawSource } from '../src/datasets/raw';
import type { ModelCard } from '../src/models/card';
import { recordLabels } from '../src/monitoring/labels';
import { windowOptionsSchema } from '../src/retraining/request';
import { planRetrainingData } from '../src/retraining/window';
import { RUN_FILE } from '../src/scoring/runs';
import { openDuckDb } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { ArtifactStore } from '../src/store/artifact-store';

const OUT = path.join(__dirname, 'out', 'window');

const contract = parseContract({
  columns: [
    { name: 'id', type: 'integer', nullable: false },
    ...Array.from({ length: 8 }, (_, j) => ({ name: `x${j}`, type: 'double' as const })),
    { name: 'segment', type: 'string' },
    { name: 'churned', type: 'boolean', nullable: false },
  ],
  key: ['id'],
  label: 'churned',
});
const unlabeled = parseContract({ ...contract, columns: contract.columns.filter((c) => c.name !== 'churned'), label: undefined });

function argRows(): number[] {
  const i = process.argv.indexOf('--rows');
  return (i >= 0 ? process.argv[i + 1]! : '1000000').split(',').map(Number);
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

async function main(): Promise<void> {
  const duckdb = await openDuckDb({ spillDir: path.join(OUT, 'spill') });
  const conn = await duckdb.connect();
  const results: Array<Record<string, unknown>> = [];
  for (const rows of argRows()) {
    const root = path.join(OUT, `${rows}`);
    fs.rmSync(root, { recursive: true, force: true });
    fs.mkdirSync(root, { recursive: true });
    const store = new ArtifactStore(path.join(root, 'store'));
    const write = (name: string, from: number, labeled: boolean) =>
      conn.run(
        `COPY (SELECT i AS id, ${Array.from({ length: 8 }, (_, j) => `((hash(i, ${j}) % 100000) / 1000.0) AS x${j}`).join(', ')}, 's' || (hash(i, 9) % 12) AS segment
               ${labeled ? ', hash(i, 10) % 3 = 0 AS churned' : ''} FROM range(${from}, ${from + rows}) t(i)) TO ${quoteString(path.join(root, name))} (FORMAT parquet)`,
      );
    await write('original.parquet', 0, true);
    await write('live.parquet', rows / 2, false);
    await write('labels.parquet', rows / 2, true);
    const now = new Date();
    const ingest = async (dataset: string, file: string, c: typeof contract) => {
      const staged = await stageRawSource({ conn, store, dataset, source: path.join(root, file), retentionDays: 1, allowedRoots: [], now });
      return timed(() => buildDatasetVersion({ conn, store, dataset, staged, contract: c, maxRejectedFraction: 0.05, now }));
    };
    const original = await ingest('original', 'original.parquet', contract);
    const live = (await ingest('live', 'live.parquet', unlabeled)).value;
    // A scoring run of the live snapshot (what scoreBatch leaves beside its log), then its late labels.
    const runDir = path.join(store.path('predictions', 'm', 'run-1'));
    fs.mkdirSync(runDir, { recursive: true });
    fs.writeFileSync(
      path.join(runDir, RUN_FILE),
      JSON.stringify({ runId: 'run-1', model: 'm', modelVersion: 'v1', dataset: 'live', datasetVersion: live.version, createdAt: now.toISOString(), rows }),
    );
    await recordLabels({
      conn,
      store,
      dataset: 'live',
      contract: unlabeled,
      source: path.join(root, 'labels.parquet'),
      label: 'churned',
      allowedRoots: [],
      receivedAt: now.toISOString(),
    });
    const production = { model: 'm', dataset: { name: 'original', version: original.value.version, manifestUri: original.value.manifestUri } } as ModelCard;
    const plan = () => planRetrainingData({ conn, store, production, trainingWindow: 'original+production', window: windowOptionsSchema.parse({}), now });
    const first = await timed(plan);
    const again = await timed(plan);
    results.push({
      rows,
      'ingest s': (original.ms / 1000).toFixed(2),
      'data step s': (first.ms / 1000).toFixed(2),
      'rerun s': (again.ms / 1000).toFixed(2),
      window: first.value.trainedOn.rows,
      judging: first.value.judgedOn.rows,
      'ratio data step / ingest': (first.ms / original.ms).toFixed(1),
    });
    console.log(formatTable(results.slice(-1)));
    fs.rmSync(root, { recursive: true, force: true });
  }
  console.log(`\nRetraining data step vs one ingestion of the original rows\n${formatTable(results)}`);
  duckdb.closeSync();
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
