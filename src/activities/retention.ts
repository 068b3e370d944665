import { type SweepReport, sweepExpiredRawAndPredictionLogs } from '../datasets/retention';
import type { ArtifactStore } from '../store/artifact-store';
import { retentionSweepRequestSchema } from '../datasets/request';
import { parseInput } from '../validation';

export function createRetentionActivities(deps: { store: ArtifactStore }) {
  return {
    /** Raw copies and prediction logs past their retention; the activity keeps the name histories record. */
    async sweepExpiredRaw(input: { sweepId: string; asOf: string; onlineLogRetentionDays?: number }): Promise<SweepReport> {
      // Histories from before online logs were swept pass no onlineLogRetentionDays: the default.
      const { asOf, onlineLogRetentionDays } = parseInput(retentionSweepRequestSchema, { asOf: input.asOf, onlineLogRetentionDays: input.onlineLogRetentionDays }, 'sweep request');
      return sweepExpiredRawAndPredictionLogs(deps.store, input.sweepId, new Date(asOf!), onlineLogRetentionDays);
    },
  };
}
