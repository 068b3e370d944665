import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';

export const { readRegistry, setRegistryAlias, rejectRegistryVersion, checkModelLoads } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 10 },
});

export const { evaluateCandidate } = proxyActivities<Activities>({
  startToCloseTimeout: '4 hours',
  heartbeatTimeout: '30 seconds',
  retry: { maximumAttempts: 5 },
});
