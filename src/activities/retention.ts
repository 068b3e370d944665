import { type SweepReport, sweepExpiredRaw } from '../datasets/retention';
import type { ArtifactStore } from '../store/artifact-store';

export function createRetentionActivities(deps: { store: ArtifactStore }) {
  return {
    async sweepExpiredRaw(input: { sweepId: string; asOf: string }): Promise<SweepReport> {
      return sweepExpiredRaw(deps.store, input.sweepId, new Date(input.asOf));
    },
  };
}
