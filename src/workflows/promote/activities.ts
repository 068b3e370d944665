import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { activityOptions } from '../activity-options';

export const { readRegistry, setRegistryAlias, rejectRegistryVersion, checkModelLoads, readOnlineTraffic, recordOnlineShadow } = proxyActivities<Activities>(activityOptions.quick);

export const { evaluateCandidate } = proxyActivities<Activities>(activityOptions.modelWork);
