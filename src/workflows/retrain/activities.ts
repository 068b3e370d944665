import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { activityOptions } from '../activity-options';

export const { readRegistry, trainingSpecOf, checkModelLoads, setRegistryAlias } = proxyActivities<Activities>(activityOptions.quick);

export const { reproduceTraining, prepareRetrainingData } = proxyActivities<Activities>(activityOptions.modelWork);
