import * as fs from 'node:fs';
import * as path from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';

/**
 * Shipping new worker code safely: long-running loops and registries outlive a deploy, so the
 * recorded history of every workflow type is replayed against the current workflow code. A
 * non-deterministic change fails here, not in production; such changes need `patched()` or
 * worker versioning. Refresh the fixtures with `MLOPS_RECORD_HISTORIES=test/fixtures/histories npm test`
 * (deleting the old ones first) when a change is deliberate and patched; keep a history from the
 * code before it as `<type>.v<N>.json` while workflows started by that code may still be running
 * (retrainUntilImproved.v1.json: an attempt from before training windows; modelRegistry.v1.json:
 * a registry from before its registration and production checks; scoreBatch.v1.json: a run in one
 * activity, from before `patched('score-in-parts')`, scoreBatch.json: a run in six parts;
 * promoteModel.v1.json: a promotion from before `patched('online-shadow-section')` and policy
 * canary, promoteModel.json: a canary paused, advanced, checked and aborted).
 */
const FIXTURES = path.join(__dirname, 'fixtures', 'histories');
const WORKFLOW_TYPES = [
  'ingestDataset',
  'repairDataset',
  'retentionSweep',
  'modelRegistry',
  'trainModel',
  'promoteModel',
  'trainAndPromote',
  'shadowEvaluate',
  'scoreBatch',
  'retrainUntilImproved',
  'monitorModel',
  'recordLabelsWorkflow',
  'scheduledRetrain',
  // Recorded with patched('notify-flags') in: raiseFlag's delivery activity.
  'servingAlert',
];

describe('recorded histories replay on the current workflow code', () => {
  it('has a history for every workflow type, and each replays without a determinism error', async () => {
    const files = fs
      .readdirSync(FIXTURES)
      .filter((f) => f.endsWith('.json'))
      .sort();
    expect([...new Set(files.map((f) => f.replace(/(\.v\d+)?\.json$/, '')))].sort()).toEqual([...WORKFLOW_TYPES].sort());
    const histories = files.map((f) => {
      const recorded = JSON.parse(fs.readFileSync(path.join(FIXTURES, f), 'utf8')) as { workflowId: string; history: Record<string, unknown> };
      return { workflowId: recorded.workflowId, history: temporal.api.history.v1.History.fromObject(recorded.history) };
    });
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowsPath: path.join(__dirname, '..', 'src', 'workflows', 'index.ts'), replayName: 'fixtures' }, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  });
});
