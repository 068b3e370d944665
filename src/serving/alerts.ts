import type { Client } from '@temporalio/client';
import { MlopsModel, MlopsStage } from '../temporal/search-attributes';
import type { servingAlert, ServingAlertInput } from '../workflows/serving-alert';
import { scoreWorkflowId } from '../api/score';

/**
 * The flagged share of the last `size` predictions. An episode starts when the share exceeds the
 * limit (with at least `minRows` seen) and ends only when it has fallen to half the limit, so a
 * share hovering around the limit is one episode, one alert — not one per request.
 */
export class FlagWindow {
  private readonly flags: Uint8Array;
  private next = 0;
  private filled = 0;
  private flagged = 0;
  private inEpisode = false;

  constructor(
    readonly size: number,
    readonly minRows: number,
    readonly maxFlaggedShare: number,
  ) {
    this.flags = new Uint8Array(size);
  }

  get share(): number {
    return this.filled === 0 ? 0 : this.flagged / this.filled;
  }

  /** Predictions in the window now (up to `size`). */
  get count(): number {
    return this.filled;
  }

  get episode(): boolean {
    return this.inEpisode;
  }

  /** Adds one prediction; true when this one starts an episode. */
  add(isFlagged: boolean): boolean {
    if (this.filled === this.size) this.flagged -= this.flags[this.next]!;
    else this.filled++;
    this.flags[this.next] = isFlagged ? 1 : 0;
    this.flagged += isFlagged ? 1 : 0;
    this.next = (this.next + 1) % this.size;
    if (!this.inEpisode && this.filled >= this.minRows && this.share > this.maxFlaggedShare) {
      this.inEpisode = true;
      return true;
    }
    if (this.inEpisode && this.share <= this.maxFlaggedShare / 2) this.inEpisode = false;
    return false;
  }
}

/** Compact UTC time for ids people read: 20261202T081500123Z. */
function stamp(now: Date): string {
  return now.toISOString().replace(/[-:.]/g, '');
}

/**
 * Starts a `servingAlert` workflow (`score:<model>:online-<kind>-<time>`): the flag a person
 * answers with `mlops acknowledge <model> <runId>`. The server never waits on it.
 */
export async function raiseServingAlert(
  client: Client,
  taskQueue: string,
  input: Omit<ServingAlertInput, 'runId'> & { kind: 'flagged-share' | 'model-load'; now?: Date },
): Promise<string> {
  const { kind, now, ...rest } = input;
  const runId = `online-${kind}-${stamp(now ?? new Date())}`;
  await client.workflow.start<typeof servingAlert>('servingAlert', {
    taskQueue,
    workflowId: scoreWorkflowId(input.model, runId),
    args: [{ ...rest, runId }],
    typedSearchAttributes: [
      { key: MlopsModel, value: input.model },
      { key: MlopsStage, value: 'serve' },
    ],
    staticSummary: `Model server alert for ${input.model}: ${kind}`,
  });
  return runId;
}
