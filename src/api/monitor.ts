import { stageAttributes } from './search';

/** The `monitorModel` API: one pass is `monitor:<model>:<runId>`; a schedule's runs get `monitor:<model>:scheduled-<time>`. */
export function monitorWorkflowId(model: string, runId: string): string {
  return `monitor:${model}:${runId}`;
}

/** The id a monitor schedule starts its runs under (Temporal appends the time). */
export function monitorScheduledWorkflowId(model: string): string {
  return monitorWorkflowId(model, 'scheduled');
}

/** The run id that a pass's workflow id names (a schedule's `scheduled-<time>` made a valid run id). */
export function runIdOfMonitorWorkflowId(workflowId: string): string {
  return workflowId
    .split(':')
    .slice(2)
    .join(':')
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 100);
}

export const monitorSearchAttributes = (model: string, dataset?: string) => stageAttributes('monitor', { model, dataset });

export function monitorSummary(model: string): string {
  return `Monitor production ${model}: drift, prediction drift, live metrics`;
}
