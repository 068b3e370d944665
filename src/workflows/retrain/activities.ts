import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';

export const { readRegistry, trainingSpecOf, checkModelLoads, setRegistryAlias } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 10 },
});

export const { reproduceTraining, prepareRetrainingData } = proxyActivities<Activities>({
  startToCloseTimeout: '4 hours',
  heartbeatTimeout: '30 seconds',
  retry: { maximumAttempts: 5 },
});
