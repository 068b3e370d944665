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
