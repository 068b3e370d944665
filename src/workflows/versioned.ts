import { setWorkflowOptions } from '@temporalio/workflow';
import { modelRegistry } from './registry';

/**
 * The workflow bundle of a versioned worker (MLOPS_DEPLOYMENT_NAME set): every workflow of
 * index.ts, with the versioning behaviours that differ from the worker's default (PINNED).
 *
 * The registry never finishes, so pinned it would keep its first build running forever; it moves
 * to the current build at its next task instead, and `mlops deploy check` replays the open
 * registries against a build before `mlops deploy set-current` makes it current.
 *
 * Its own entry, not a line in registry.ts: an unversioned worker whose workflow declares a
 * versioning behaviour has every workflow task refused ("versioning behavior cannot be specified
 * without deployment options being set with versioned mode"), so unversioned workers bundle
 * index.ts. It adds no command: histories replay on either entry.
 */
export * from './index';

setWorkflowOptions({ versioningBehavior: 'AUTO_UPGRADE' }, modelRegistry);
