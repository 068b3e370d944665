import { configDefaults, defineConfig } from 'vitest/config';

/**
 * `npm test`: every file, on the Temporal dev server (SQLite). `npm run test:postgres`
 * (MLOPS_TEST_SERVER=postgres): the files whose outcome depends on the server's own behaviour,
 * again on the official server on PostgreSQL with SQL visibility, as production runs it — plus
 * the tests of that server itself (test/postgres-*.test.ts, which only run there).
 */
const SERVER_BEHAVIOUR = [
  'test/promote.test.ts', // MlopsNeedsAttention queries (pending reviews), update-with-start into the registry
  'test/cli.test.ts', // `mlops pending`, schedules, the whole command set
  'test/monitor.test.ts', // signal-with-start of the retraining loop, Schedules that run
  'test/retrain.test.ts', // continue-as-new across attempts, escalation updates
  'test/registry-bounds.test.ts', // the registry's continue-as-new with 160 versions
  'test/retention.test.ts', // a Schedule created and updated
  'test/score.test.ts', // alerts found by search attribute, acknowledge updates
  'test/web-ui.test.ts', // the Web UI's queries on SQL visibility
  'test/apply.test.ts', // Schedules described, compared, updated and deleted by a spec
  'test/deploy.test.ts', // Worker Deployments: routing, ramps, pinning, visibility by deployment version
];
const POSTGRES_ONLY = 'test/postgres-*.test.ts';
const onPostgres = process.env.MLOPS_TEST_SERVER === 'postgres';
/**
 * `npm run test:unit` (MLOPS_TEST_KIND=unit): the files that need no server, no browser and no
 * provisioning — pure code, real DuckDB and ONNX Runtime; `npm run test:integration`: all the
 * others; plain `npm test`: everything.
 */
const UNIT = [
  'test/cli-defaults.test.ts',
  'test/cli-output.test.ts',
  'test/command-paths.test.ts',
  'test/compose.test.ts',
  'test/contract.test.ts',
  'test/contributions.test.ts',
  'test/drift-stats.test.ts',
  'test/drift.test.ts',
  'test/gates.test.ts',
  'test/gbdt-bins.test.ts',
  'test/gbdt-threads.test.ts',
  'test/histogram-kernel.test.ts',
  'test/import-graph.test.ts',
  'test/log-writer.test.ts',
  'test/metrics.test.ts',
  'test/onnx-names.test.ts',
  'test/profile.test.ts',
  'test/score-parts.test.ts',
  'test/spec.test.ts',
  'test/suggest.test.ts',
  'test/thread-session.test.ts',
  'test/training-gbdt.test.ts',
  'test/training-linear.test.ts',
];
const kind = process.env.MLOPS_TEST_KIND;

export default defineConfig({
  test: {
    include: onPostgres ? [...SERVER_BEHAVIOUR, POSTGRES_ONLY] : kind === 'unit' ? UNIT : ['test/**/*.test.ts'],
    exclude: onPostgres ? configDefaults.exclude : [...configDefaults.exclude, POSTGRES_ONLY, ...(kind === 'integration' ? UNIT : [])],
    // The Temporal SDK's native bridge is not safe in worker threads; one process per file.
    pool: 'forks',
    // Unit files need none of what the setup provisions and starts.
    globalSetup: kind === 'unit' ? [] : ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
