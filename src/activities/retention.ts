import { type SweepReport, sweepExpiredRawAndPredictionLogs } from '../datasets/retention';
import type { ArtifactStore } from '../store/artifact-store';
import { retentionSweepRequestSchema } from '../datasets/request';
import { parseInput } from '../validation';

export function createRetentionActivities(deps: { store: ArtifactStore }) {
  return {
    /** Raw copies and prediction logs past their retention; the activity keeps the name histories record. */
    async sweepExpiredRaw(input: { sweepId: string; asOf: string }): Promise<SweepReport> {
      const { asOf } = parseInput(retentionSweepRequestSchema, { asOf: input.asOf }, 'sweep request');
      return sweepExpiredRawAndPredictionLogs(deps.store, input.sweepId, new Date(asOf!));
    },
  };
}
