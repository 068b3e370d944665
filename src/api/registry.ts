import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { ModelVersionSummary } from '../models/card';
import { stageAttributes } from './search';

/**
 * The API of the per-model registry workflow (`registry:<model>`): its id, how it is started, its
 * messages, shared by the workflow, its clients and the activities that call it. All changes to a
 * model's registry are updates, so each is validated, serialized with the others and recorded in
 * the workflow's history.
 */
export const REGISTRY_WORKFLOW_TYPE = 'modelRegistry';

const ID_PREFIX = 'registry:';

export function registryWorkflowId(model: string): string {
  return `${ID_PREFIX}${model}`;
}

/** The model a registry's workflow id names, or undefined for any other id. */
export function parseRegistryWorkflowId(workflowId: string): string | undefined {
  return workflowId.startsWith(ID_PREFIX) ? workflowId.slice(ID_PREFIX.length) : undefined;
}

export const registrySearchAttributes = (model: string) => stageAttributes('registry', { model });

export function registryStartOptions(model: string) {
  return {
    workflowId: registryWorkflowId(model),
    typedSearchAttributes: registrySearchAttributes(model),
    staticSummary: `Registry of model ${model}: versions, aliases, decisions`,
  };
}

/** What the registry starts with: the model; its state only when it continues as new. */
export interface RegistryInput {
  model: string;
  state?: RegistryState;
}

export const ALIASES = ['production', 'candidate'] as const;
export type Alias = (typeof ALIASES)[number];

export interface RegistryVersion extends ModelVersionSummary {
  registeredAt: string;
  status: 'active' | 'archived';
}

export interface Decision {
  at: string;
  action: 'register' | 'set-alias' | 'rollback' | 'archive' | 'reject';
  version: string;
  alias?: Alias;
  previous?: string;
  by: string;
  reason: string;
  evidenceUri?: string;
}

export interface RegistryState {
  model: string;
  versions: RegistryVersion[];
  aliases: Partial<Record<Alias, string>>;
  /** Versions that were production, oldest first; rollback returns to the one before the current. */
  productionHistory: string[];
  /** The most recent decisions (older ones stay in earlier runs' histories). */
  decisions: Decision[];
  /** How many old versions left the carried state (their cards stay in the artifact store). */
  retiredVersions?: number;
}

/** The version the `production` alias points at, if the registry still holds it. */
export function productionOf(state: Pick<RegistryState, 'versions' | 'aliases'>): RegistryVersion | undefined {
  const production = state.aliases.production;
  return production === undefined ? undefined : state.versions.find((v) => v.version === production);
}

export function versionOf(state: Pick<RegistryState, 'versions'>, version: string): RegistryVersion | undefined {
  return state.versions.find((v) => v.version === version);
}

export interface RegisterVersionInput {
  summary: ModelVersionSummary;
  /** Also point the `candidate` alias at it. */
  asCandidate: boolean;
  by: string;
}

/**
 * What entitles a version to become production. The registry checks it against the artifact store
 * and the workflow that decided, before production moves (a Temporal client can send any update;
 * the store is written only by workers):
 * - gates-passed: the stored evaluation report of this candidate against the current production passed;
 * - approved: a person approved it in its promotion (`promote:<model>:<version>`), on that report;
 * - forced: a person chose force-promote in the model's retraining loop, for a version it trained.
 */
export type PromotionEvidence = { kind: 'gates-passed'; reportUri: string } | { kind: 'approved'; reportUri: string; promotion: string } | { kind: 'forced'; loop: string };

export interface SetAliasInput {
  alias: Alias;
  version: string;
  by: string;
  reason: string;
  evidenceUri?: string;
  /** Required for `production`. */
  evidence?: PromotionEvidence;
  /**
   * Compare-and-set: refuse unless the alias still points here (null: points nowhere). A promotion
   * passes the production version it was evaluated against, so it never replaces a version it
   * was not compared with.
   */
  expectedCurrent?: string | null;
}

/** A candidate that will not be promoted: recorded, and the `candidate` alias released if it points to it. */
export interface RejectInput {
  version: string;
  by: string;
  reason: string;
  evidenceUri?: string;
}

export interface RollbackInput {
  by: string;
  reason: string;
}

export interface ArchiveInput {
  version: string;
  by: string;
  reason: string;
}

export const registerVersionUpdate = defineUpdate<RegistryVersion, [RegisterVersionInput]>('registerVersion');
export const setAliasUpdate = defineUpdate<RegistryState, [SetAliasInput]>('setAlias');
export const rollbackUpdate = defineUpdate<RegistryState, [RollbackInput]>('rollback');
export const archiveUpdate = defineUpdate<RegistryState, [ArchiveInput]>('archive');
export const rejectVersionUpdate = defineUpdate<RegistryState, [RejectInput]>('rejectVersion');
export const registryStateQuery = defineQuery<RegistryState>('state');
export const registryVersionQuery = defineQuery<RegistryVersion | undefined, [string]>('version');
