import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DatasetManifest } from '../src/datasets/manifest';
import { verifySnapshotOnce } from '../src/datasets/verified-snapshots';
import { MAX_SCORE_PARTS, planScoreParts } from '../src/scoring/parts';
import { scoreRequestSchema } from '../src/scoring/request';
import { sweepScoringStaging } from '../src/scoring/staging';
import { ArtifactStore } from '../src/store/artifact-store';
import { sha256File } from '../src/store/hash';
import { layout, RUN_FILE } from '../src/store/layout';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-score-parts-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Every row of [0, total) exactly once, in order, as the parts' ranges cover it. */
function coverage(parts: ReturnType<typeof planScoreParts>): number {
  let next = 0;
  for (const p of parts) {
    expect(p.firstRow).toBe(next);
    next += p.rows;
  }
  return next;
}

describe('planScoreParts', () => {
  it('cuts the rows into even parts of at most splitRows, covering each row once', () => {
    const parts = planScoreParts(10_000_001, 2_000_000);
    expect(parts).toHaveLength(6);
    expect(coverage(parts)).toBe(10_000_001);
    expect(Math.max(...parts.map((p) => p.rows))).toBeLessThanOrEqual(2_000_000);
    // Even: no part is a small remainder.
    expect(Math.max(...parts.map((p) => p.rows)) - Math.min(...parts.map((p) => p.rows))).toBeLessThanOrEqual(1);
    expect(parts.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(parts.map((p) => p.last)).toEqual([false, false, false, false, false, true]);
  });

  it('is one part up to splitRows rows, and for an empty dataset', () => {
    expect(planScoreParts(2_000_000, 2_000_000)).toEqual([{ index: 0, firstRow: 0, rows: 2_000_000, last: true }]);
    expect(planScoreParts(0, 1_000)).toEqual([{ index: 0, firstRow: 0, rows: 0, last: true }]);
    expect(planScoreParts(2_000_001, 2_000_000)).toHaveLength(2);
  });

  it(`never makes more than ${MAX_SCORE_PARTS} parts: beyond that, parts grow`, () => {
    const parts = planScoreParts(1_000_000_000, 1_000);
    expect(parts).toHaveLength(MAX_SCORE_PARTS);
    expect(coverage(parts)).toBe(1_000_000_000);
  });

  it('refuses counts that are not whole numbers', () => {
    expect(() => planScoreParts(-1, 10)).toThrow(/non-negative integer/);
    expect(() => planScoreParts(10, 0)).toThrow(/positive integer/);
    expect(() => planScoreParts(1.5, 10)).toThrow(/non-negative integer/);
  });
});

describe('the splitRows setting of a score request', () => {
  const base = { model: 'm', runId: 'r', dataset: 'd' };
  it('defaults to 2M rows per part and takes whole numbers from 1,000', () => {
    expect(scoreRequestSchema.parse(base).splitRows).toBe(2_000_000);
    expect(scoreRequestSchema.parse({ ...base, splitRows: 50_000 }).splitRows).toBe(50_000);
    for (const bad of [999, 1.5, -5, '1000']) expect(scoreRequestSchema.safeParse({ ...base, splitRows: bad }).success).toBe(false);
  });
});

describe('verifySnapshotOnce', () => {
  it('accepts the recorded file and, after any change to it, hashes again and refuses it', async () => {
    const file = path.join(root, 'snapshot.parquet');
    fs.writeFileSync(file, 'original bytes of a snapshot');
    const manifest = {
      dataset: 'd',
      version: 'abc',
      snapshot: { uri: file, sha256: await sha256File(file), bytes: 28 },
      raw: { uri: root, expiresAt: '2000-01-01T00:00:00Z' },
      source: { files: [] },
      contractInferred: true,
    } as unknown as DatasetManifest;
    await verifySnapshotOnce(manifest, new ArtifactStore(root));
    await verifySnapshotOnce(manifest, new ArtifactStore(root)); // verified before, unchanged since
    // Same size, the old modification time put back: the inode's change time still tells.
    const { mtime } = fs.statSync(file);
    fs.writeFileSync(file, 'Original bytes of a snapshot');
    fs.utimesSync(file, mtime, mtime);
    await expect(verifySnapshotOnce(manifest, new ArtifactStore(root))).rejects.toThrow(/changed after it was recorded/);
    fs.rmSync(file);
    await expect(verifySnapshotOnce(manifest, new ArtifactStore(root))).rejects.toThrow(/is missing/);
  });
});

describe('sweepScoringStaging', () => {
  it("removes the staging of published runs and of runs left alone past the grace, and keeps a live run's", async () => {
    const store = new ArtifactStore(path.join(root, 'store'));
    const stage = (run: string) => {
      const dir = store.path(...layout.scoringStaging('m', run, 'part-000'));
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'part-00000.parquet'), 'x');
      return path.dirname(dir);
    };
    const live = stage('live');
    const failed = stage('failed');
    const published = stage('published');
    fs.mkdirSync(store.path(...layout.predictionRuns('m'), 'published'), { recursive: true });
    fs.writeFileSync(store.path(...layout.predictionRuns('m'), 'published', RUN_FILE), '{}');
    const old = new Date(Date.now() - 48 * 3600_000);
    for (const p of [failed, path.join(failed, 'part-000'), path.join(failed, 'part-000', 'part-00000.parquet')]) fs.utimesSync(p, old, old);

    const removed = await sweepScoringStaging(store, 24 * 3600_000);
    expect(removed.sort()).toEqual([failed, published].sort());
    expect(fs.existsSync(live)).toBe(true);
    expect(fs.existsSync(failed)).toBe(false);
    expect(fs.existsSync(published)).toBe(false);
  });
});
