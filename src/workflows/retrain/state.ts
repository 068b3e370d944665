import type { RetrainRequest, RetryOverrides } from '../../retraining/request';
import type { AttemptRecord, DecisionInput, RetrainStatus } from '../../api/retrain';

/** Attempts and triggers kept in the carried status; earlier ones remain in earlier runs' histories. */
const KEEP_RECORDS = 20;

/** A person's answer to an escalation, taken by one of the four updates. */
export type Decision =
  | { action: 'retry'; input: DecisionInput & { overrides?: RetryOverrides } }
  | { action: 'acceptCurrent'; input: DecisionInput }
  | { action: 'forcePromote'; input: DecisionInput & { version: string } }
  | { action: 'abort'; input: DecisionInput };

/**
 * What the loop knows: the request (a retry's overrides change it), the status it reports and
 * carries over to its next run, and a person's decision while it waits for one.
 */
export interface RetrainLoop {
  request: RetrainRequest;
  readonly status: RetrainStatus;
  decision?: Decision;
}

export const now = () => new Date().toISOString();

/** A new loop, or the next run of one (continue-as-new) with its status carried. */
export function newLoop(request: RetrainRequest, carried: RetrainStatus | undefined): RetrainLoop {
  const status: RetrainStatus = carried
    ? { ...carried, runs: carried.runs + 1 }
    : {
        model: request.model,
        phase: 'proving-baseline',
        attempts: [],
        attemptsMade: 0,
        maxAttempts: request.maxAttempts,
        budgetFrom: 0,
        budgetStartedAt: now(),
        startedAt: now(),
        triggers: [{ at: now(), reason: request.reason, by: request.by }],
        runs: 1,
      };
  return { request, status };
}

/** Another trigger (signal-with-start while the loop runs): recorded; the loop it joins answers it. */
export function addTrigger({ status }: RetrainLoop, trigger: { reason: string; by: string }): void {
  // Signal-with-start also delivers the trigger that started the loop, which the request already recorded.
  const last = status.triggers.at(-1);
  if (status.runs === 1 && status.triggers.length === 1 && last?.reason === trigger.reason && last.by === trigger.by) return;
  status.triggers = [...status.triggers, { at: now(), ...trigger }].slice(-KEEP_RECORDS);
}

export function addAttempt({ status }: RetrainLoop, record: AttemptRecord): void {
  status.attempts = [...status.attempts, record].slice(-KEEP_RECORDS);
  status.current = undefined;
}

/** The versions this loop trained that a person may force-promote. */
export function triedVersions({ status }: RetrainLoop): string[] {
  return status.attempts.filter((a) => a.version && a.outcome !== 'same-as-production').map((a) => a.version!);
}

/** Takes a person's decision; any further one is refused until the next escalation. */
export function take(loop: RetrainLoop, d: Decision): RetrainStatus {
  const { status } = loop;
  loop.decision = d;
  status.phase = 'attempting';
  status.decision = { action: d.action, by: d.input.by, reason: d.input.reason, at: now(), ...(d.action === 'forcePromote' ? { version: d.input.version } : {}) };
  return status;
}

/** `retry`: the overrides change the request, and a new budget of attempts and time starts now. */
export function retryWith(loop: RetrainLoop, o: RetryOverrides): void {
  const { status } = loop;
  let request = loop.request;
  if (o.maxDuration) request = { ...request, maxDuration: o.maxDuration };
  if (o.strategies) request = { ...request, strategies: o.strategies };
  if (o.gates) request = { ...request, gates: o.gates };
  if (o.skipBaselineProof) request = { ...request, baselineProof: { ...request.baselineProof, enabled: false } };
  if (o.trainingWindow) request = { ...request, trainingWindow: o.trainingWindow };
  loop.request = request;
  if (status.proof && !status.proof.passed) status.proof = undefined; // prove again, unless skipped
  status.maxAttempts = o.maxAttempts ?? request.maxAttempts;
  status.budgetFrom = status.attemptsMade;
  // New strategies start from their first; without them, the rotation goes on where it was.
  if (o.strategies) status.strategyFrom = status.attemptsMade;
  status.budgetStartedAt = now();
  status.phase = 'attempting';
}
