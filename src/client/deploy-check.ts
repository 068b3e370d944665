import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import type { MlopsConfig } from '../config';
import { defaultBuildId } from '../temporal/build-id';
import { dataConverterOf } from '../temporal/codec';
import { modulePath } from '../temporal/module-path';
import { type ReplayCheckRecord, recordReplayCheck } from './deploy';

/**
 * The CI gate of a worker build (`mlops deploy check`): recorded histories, and the histories of
 * the open workflows that would move to the new build, replayed against the build's workflow
 * code. A workflow the new code would take down another path fails here, by name, before the build
 * gets any of it. The verdict is left on the deployment version, where `set-current` and `ramp`
 * look for it.
 */
export interface ReplayCheckOptions {
  /** Files or folders (every .json in it) of recorded histories: test/fixtures/histories' form ({ workflowId, history }) or `temporal workflow show -o json`. */
  historyDirs: string[];
  /**
   * Also the open workflows of the task queue: 'moving' (default) those that are not pinned to a
   * build (the registries, and anything started before versioning), which follow the current
   * build; 'all' every open one; 'none' only the recorded files.
   */
  open: 'moving' | 'all' | 'none';
  /** The new build's workflow code; default: this installation's src/workflows. */
  workflowsPath?: string;
  /** Record the verdict on this build of MLOPS_DEPLOYMENT_NAME; default: this installation's build id. */
  buildId?: string;
}

export interface ReplayFailure {
  workflowId: string;
  workflowType: string;
  /** The file, or `server` for an open workflow's history. */
  source: string;
  message: string;
}

export interface ReplayCheckResult {
  replayed: number;
  failures: ReplayFailure[];
  /** Where the verdict went, or why it went nowhere. */
  recorded: string;
}

interface NamedHistory {
  workflowId: string;
  workflowType: string;
  source: string;
  history: temporal.api.history.v1.IHistory;
}

/** The bundler's progress lines would bury the verdict a CD log needs. */
const quietLogger = new DefaultLogger('WARN');

export class ReplayCheckInputError extends Error {
  override name = 'ReplayCheckInputError';
}

function typeOf(history: temporal.api.history.v1.IHistory): string {
  return history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? 'unknown';
}

/** JSON as protobuf's toObject writes it, or as `temporal workflow show -o json` prints it (enum names in UPPER_SNAKE). */
function readHistoryFile(file: string): NamedHistory {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ReplayCheckInputError(`${file} is not a JSON history: ${(err as Error).message}`);
  }
  const wrapped = parsed as { workflowId?: string; history?: unknown; events?: unknown };
  const raw = wrapped.history ?? (wrapped.events ? parsed : undefined);
  if (!raw || !Array.isArray((raw as { events?: unknown }).events)) {
    throw new ReplayCheckInputError(`${file} holds no history: expected { "events": [...] } or { "workflowId", "history": { "events": [...] } }`);
  }
  const history = temporal.api.history.v1.History.fromObject(raw as Record<string, unknown>);
  return { workflowId: wrapped.workflowId ?? path.basename(file, '.json'), workflowType: typeOf(history), source: file, history };
}

function recordedHistories(dirs: string[]): NamedHistory[] {
  return dirs.flatMap((dir) => {
    if (!fs.existsSync(dir)) throw new ReplayCheckInputError(`--histories ${dir} does not exist`);
    if (fs.statSync(dir).isFile()) return [readHistoryFile(dir)];
    return fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => readHistoryFile(path.join(dir, f)));
  });
}

async function openHistories(client: Client, config: MlopsConfig, which: 'moving' | 'all'): Promise<NamedHistory[]> {
  const found: NamedHistory[] = [];
  for await (const wf of client.workflow.list({ query: `ExecutionStatus = "Running" AND TaskQueue = "${config.taskQueue}"` })) {
    // Pinned runs finish on the build they started on: the new code never sees them.
    if (which === 'moving' && wf.searchAttributes?.TemporalWorkflowVersioningBehavior?.[0] === 'Pinned') continue;
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    found.push({ workflowId: wf.workflowId, workflowType: wf.type, source: 'server', history });
  }
  return found;
}

export async function runReplayCheck(client: Client, config: MlopsConfig, options: ReplayCheckOptions): Promise<ReplayCheckResult> {
  const histories = [...recordedHistories(options.historyDirs), ...(options.open === 'none' ? [] : await openHistories(client, config, options.open))];
  const workflowsPath = options.workflowsPath ? path.resolve(options.workflowsPath) : modulePath(path.join(__dirname, '..', 'workflows'), 'index');
  if (!fs.existsSync(workflowsPath)) throw new ReplayCheckInputError(`--workflows ${workflowsPath} does not exist`);
  const dataConverter = dataConverterOf(config.payloadEncryption);
  // Bundled once; each history is then replayed alone, so each failure names its own source.
  const workflowBundle = await bundleWorkflowCode({ workflowsPath, failureConverterPath: dataConverter?.failureConverterPath, logger: quietLogger });
  const failures: ReplayFailure[] = [];
  for (const named of histories) {
    try {
      await Worker.runReplayHistory({ workflowBundle, replayName: 'deploy-check', dataConverter }, named.history, named.workflowId);
    } catch (err) {
      failures.push({ workflowId: named.workflowId, workflowType: named.workflowType, source: named.source, message: (err as Error).message });
    }
  }
  const record: ReplayCheckRecord = {
    passed: failures.length === 0,
    at: new Date().toISOString(),
    replayed: histories.length,
    failed: failures.map((f) => `${f.workflowType} ${f.workflowId}`),
  };
  return { replayed: histories.length, failures, recorded: await recordVerdict(client, config, options, record) };
}

async function recordVerdict(client: Client, config: MlopsConfig, options: ReplayCheckOptions, record: ReplayCheckRecord): Promise<string> {
  if (!config.deployment) return 'not recorded: MLOPS_DEPLOYMENT_NAME is not set';
  const buildId = options.buildId ?? config.deployment.buildId ?? defaultBuildId();
  try {
    await recordReplayCheck(client, config, config.deployment.name, buildId, record);
    return `recorded on ${config.deployment.name} build ${buildId}`;
  } catch (err) {
    if ((err as { code?: number }).code === 5) {
      return `not recorded: build ${buildId} is not a version of ${config.deployment.name} yet (start its workers, then check again)`;
    }
    throw err;
  }
}
