import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { datasetName } from '../src/store/names';
import { ArtifactStore } from '../src/store/artifact-store';

describe('configuration from the environment', () => {
  it('has working defaults for a local dev server', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ temporalAddress: '127.0.0.1:7233', namespace: 'default', taskQueue: 'mlops' });
    expect(c.tls).toBeUndefined();
    expect(path.isAbsolute(c.dataDir)).toBe(true);
    expect(c.maxConcurrentActivities).toBe(4 * os.availableParallelism());
    expect(loadConfig({ MLOPS_MAX_CONCURRENT_ACTIVITIES: '3' }).maxConcurrentActivities).toBe(3);
  });

  it('bounds DuckDB per process and the width of a table', () => {
    const c = loadConfig({ MLOPS_DATA_DIR: '/srv/mlops' });
    // A quarter of the RAM this process may use, in the MiB DuckDB takes.
    const quarter = Number(/^(\d+)MiB$/.exec(c.duckdb.memoryLimit)![1]);
    expect(quarter).toBeGreaterThan(0);
    expect(quarter).toBeLessThanOrEqual(Math.floor(os.totalmem() / 4 / 2 ** 20));
    expect(c.duckdb.spillDir).toBe('/srv/mlops/.tmp/duckdb-spill');
    expect(c.maxColumns).toBe(2000);
    expect(loadConfig({ MLOPS_DUCKDB_MEMORY_LIMIT: '4GB', MLOPS_DUCKDB_TEMP_DIR: '/scratch', MLOPS_MAX_COLUMNS: '500' })).toMatchObject({
      duckdb: { memoryLimit: '3814MiB', spillDir: '/scratch' },
      maxColumns: 500,
    });
    expect(loadConfig({ MLOPS_DUCKDB_MEMORY_LIMIT: '512MiB' }).duckdb.memoryLimit).toBe('512MiB');
    expect(() => loadConfig({ MLOPS_DUCKDB_MEMORY_LIMIT: 'lots' })).toThrow(/MLOPS_DUCKDB_MEMORY_LIMIT: expected a size such as 4GB, 512MiB or a share of RAM such as 25%/);
    expect(() => loadConfig({ MLOPS_DUCKDB_MEMORY_LIMIT: '1MB' })).toThrow(/needs at least 16 MiB/);
    expect(() => loadConfig({ MLOPS_MAX_COLUMNS: '0' })).toThrow(/MLOPS_MAX_COLUMNS/);
  });

  it('turns on TLS for certificates or an API key, and expands ~', () => {
    const cloud = loadConfig({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: 'k', MLOPS_DATA_DIR: '~/mlops' });
    expect(cloud.tls).toBeDefined();
    expect(cloud.apiKey).toBe('k');
    expect(cloud.dataDir).toBe(path.join(os.homedir(), 'mlops'));
    const mtls = loadConfig({ TEMPORAL_TLS_CERT_PATH: '/c.pem', TEMPORAL_TLS_KEY_PATH: '/k.pem' });
    expect(mtls.tls).toMatchObject({ clientCertPath: '/c.pem', clientKeyPath: '/k.pem' });
    expect(loadConfig({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_CA_PATH: '/ca.pem' }).tls).toBeUndefined();
  });

  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ TEMPORAL_ADDRESS: 'http://x:7233' })).toThrow(/TEMPORAL_ADDRESS: expected host:port/);
    expect(() => loadConfig({ TEMPORAL_TLS: 'maybe' })).toThrow(/TEMPORAL_TLS/);
    expect(() => loadConfig({ TEMPORAL_TLS_CERT_PATH: '/c.pem' })).toThrow(/must be set together/);
    expect(() => loadConfig({ MLOPS_MAX_CONCURRENT_ACTIVITIES: '0' })).toThrow(/MLOPS_MAX_CONCURRENT_ACTIVITIES/);
    expect(() => loadConfig({ MLOPS_MAX_CONCURRENT_ACTIVITIES: 'many' })).toThrow(/MLOPS_MAX_CONCURRENT_ACTIVITIES/);
  });
});

describe('names and paths', () => {
  it('accepts portable names and refuses traversal', () => {
    for (const ok of ['churn', 'churn-v2', 'a.b_c', '9lives']) expect(datasetName.safeParse(ok).success).toBe(true);
    for (const bad of ['', '../x', 'a/b', '.hidden', 'a..b', 'x'.repeat(101), 'sp ace', 'ü']) {
      expect(datasetName.safeParse(bad).success, bad).toBe(false);
    }
  });

  it('never resolves a store path outside its root', () => {
    const store = new ArtifactStore('/tmp/store-root');
    expect(store.path('datasets', 'a')).toBe('/tmp/store-root/datasets/a');
    expect(() => store.path('..', 'etc')).toThrow(/escapes the artifact store/);
    expect(() => store.path('/etc/passwd')).toThrow(/escapes/);
  });
});
