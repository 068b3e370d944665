import { ApplicationFailure } from '@temporalio/common';

/**
 * Errors a user can cause and fix. They are non-retryable ApplicationFailures with a stable
 * `type`, so a workflow fails fast with a message that says what to change instead of retrying
 * the same bad input until a timeout.
 */
export const USER_ERROR_TYPES = [
  'ContractViolation',
  'SchemaMismatch',
  'InvalidContract',
  'InvalidInput',
  'EmptySource',
  'SourceNotFound',
  'SourceReadError',
  /** A source pinned by its sha256 (a landed file) whose bytes are different now: replaced or rewritten after it was found. */
  'SourceChanged',
  'DatasetNotFound',
  'DatasetIntegrityError',
  'ModelLoadError',
  'TrainerFailed',
  'TrainerTimeout',
  'RegistryRefused',
  /** A compare-and-set on an alias lost: it points elsewhere now (another promotion finished first). */
  'AliasChanged',
  'NoProductionModel',
  'BaselineLoadError',
  'NoWorker',
  'TooManyColumns',
  /** A file from a landing folder whose chain (ingest, score, monitor, retrain request) failed at a step; the message names both. */
  'LandedFileFailed',
  /** The store cannot be reached as configured: wrong credentials, a missing bucket, an unreachable endpoint. */
  'StoreUnavailable',
  /** An artifact kind this store backend does not hold yet (e.g. models on S3): refused, never written elsewhere. */
  'StoreUnsupported',
  // Resources, not input: the same work would exhaust them again, so retrying only burns time.
  'OutOfMemory',
  'DiskFull',
] as const;
export type UserErrorType = (typeof USER_ERROR_TYPES)[number];

export function userError(type: UserErrorType, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: details === undefined ? [] : [details] });
}

/**
 * The store is not there as configured. Wrong credentials or a missing bucket stay wrong until a
 * person changes the setting the message names; an endpoint that does not answer may be
 * restarting, so that one is retried like any other activity failure.
 */
export function storeUnavailable(message: string, options: { retryable: boolean; details?: unknown }): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'StoreUnavailable',
    message,
    nonRetryable: !options.retryable,
    details: options.details === undefined ? [] : [options.details],
  });
}

/** The failure at the root of `err` if it is of this catalogued type: what callers branch on, never the message. */
export function failureOfType(err: unknown, type: UserErrorType): ApplicationFailure | undefined {
  const root = rootApplicationFailure(err);
  return root?.type === type ? root : undefined;
}

/** The ApplicationFailure at the root of a failure chain (WorkflowFailedError → ActivityFailure → …). */
export function rootApplicationFailure(err: unknown): ApplicationFailure | undefined {
  let current: unknown = err;
  while (current instanceof Error) {
    if (current instanceof ApplicationFailure) return current;
    current = current.cause;
  }
  return undefined;
}
