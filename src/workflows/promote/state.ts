import { userError } from '../../errors';
import type { PromoteRequest } from '../../evaluation/request';
import { type RegistryState, type RegistryVersion, versionOf } from '../../api/registry';
import type { PromotionStatus } from '../../api/promote';

/** A person's answer to the review, as the `approve` or `reject` update delivered it. */
export interface Review {
  approved: boolean;
  by: string;
  reason: string;
}

/** A running promotion: what was asked, the status it reports, and the review once one came. */
export interface Promotion {
  readonly request: PromoteRequest;
  readonly status: PromotionStatus;
  review?: Review;
  /** An `advanceCanary` or `abortCanary` the canary loop has not acted on yet. */
  canaryControl?: { kind: 'advance' | 'abort'; by: string; reason: string };
}

export function newPromotion(request: PromoteRequest): Promotion {
  return { request, status: { model: request.model, candidate: request.candidateVersion ?? '', phase: 'evaluating' } };
}

/** The version to promote: the one asked for, else the registry's candidate; known and not archived. */
export function candidateIn(registry: RegistryState, request: PromoteRequest): RegistryVersion {
  const { model } = request;
  const candidateVersion = request.candidateVersion ?? registry.aliases.candidate;
  if (!candidateVersion) throw userError('InvalidInput', `Model "${model}" has no candidate to promote`);
  const candidate = versionOf(registry, candidateVersion);
  if (!candidate) throw userError('InvalidInput', `Model "${model}" has no version ${candidateVersion}`);
  if (candidate.status === 'archived') throw userError('InvalidInput', `Version ${candidateVersion} is archived`);
  return candidate;
}
