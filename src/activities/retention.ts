import { type SweepReport, sweepExpiredRaw } from '../datasets/retention';
import type { ArtifactStore } from '../store/artifact-store';
import { retentionSweepRequestSchema } from '../datasets/request';
import { parseInput } from '../validation';

export function createRetentionActivities(deps: { store: ArtifactStore }) {
  return {
    async sweepExpiredRaw(input: { sweepId: string; asOf: string }): Promise<SweepReport> {
      const { asOf } = parseInput(retentionSweepRequestSchema, { asOf: input.asOf }, 'sweep request');
      return sweepExpiredRaw(deps.store, input.sweepId, new Date(asOf!));
    },
  };
}
