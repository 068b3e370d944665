import { patched, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { activityOptions } from '../activity-options';
import { failureOfType, rootApplicationFailure, userError } from '../../errors';
import {
  ALIASES,
  archiveUpdate,
  type PromotionEvidence,
  registerVersionUpdate,
  registryStateQuery,
  registryVersionQuery,
  type RegistryState,
  rejectVersionUpdate,
  rollbackUpdate,
  type SetAliasInput,
  setAliasUpdate,
  versionOf,
} from '../../api/registry';
import { requireText } from '../handler-input';
import { record, register, setAlias, unknownVersion } from './state';

/**
 * Registrations and production changes are checked against the store first (models/evidence.ts),
 * by local activities: they need no activity slot, so a worker whose slots all wait on registry
 * updates cannot deadlock on the checks. Histories from before the checks replay without them.
 */
const CHECKED_CHANGES = 'registry-checks-files-and-evidence';
const { verifyRegistration, verifyProductionChange } = proxyLocalActivities<Activities>(activityOptions.localCheck);
const PROMOTION_EVIDENCE: ReadonlyArray<PromotionEvidence['kind']> = ['gates-passed', 'approved', 'forced'];

/**
 * The start of the message a lost compare-and-set failed with before it had its own type
 * (AliasChanged): only to read failures recorded in histories from then (see promote/steps.ts).
 */
export const ALIAS_CHANGED = 'alias changed';

/** A check that refused (or could not run) fails the update with its own message, as a refusal. */
async function checked<T>(check: Promise<T>): Promise<T> {
  try {
    return await check;
  } catch (err) {
    throw userError('RegistryRefused', rootApplicationFailure(err)?.message ?? (err as Error).message);
  }
}

/** What may change an alias: a known, active version; production only with evidence of a promotion. */
function validateSetAlias(state: RegistryState, { alias, version, by, reason, expectedCurrent, evidence }: SetAliasInput): void {
  if (!ALIASES.includes(alias)) throw new Error(`alias must be one of ${ALIASES.join(', ')}`);
  if (expectedCurrent !== undefined && (state.aliases[alias] ?? null) !== expectedCurrent) {
    throw userError('AliasChanged', `${ALIAS_CHANGED}: ${alias} is ${state.aliases[alias] ?? 'unset'} now, not ${expectedCurrent ?? 'unset'} as expected`);
  }
  const v = versionOf(state, version);
  if (!v) throw unknownVersion(state, version);
  if (v.status === 'archived') throw new Error(`version ${version} is archived`);
  requireText(by, 'by');
  requireText(reason, 'reason');
  if (alias === 'production' && state.aliases.production !== version && !(PROMOTION_EVIDENCE as readonly string[]).includes(evidence?.kind ?? '')) {
    throw new Error(
      `production changes only through a promotion (\`mlops promote\`: gates passed, or a person's approval), \`mlops rollback\`, or a retraining loop's force-promote; ` +
        `this update carries no evidence of one (evidence.kind: ${PROMOTION_EVIDENCE.join(' | ')})`,
    );
  }
}

/**
 * Every message of the registry, in one place: two queries and the updates that change it, each
 * with a validator that refuses bad input with a message before anything is recorded.
 */
export function registerRegistryHandlers(state: RegistryState): void {
  const find = (version: string) => versionOf(state, version);
  setHandler(registryStateQuery, () => state);
  setHandler(registryVersionQuery, (version) => find(version));

  setHandler(
    registerVersionUpdate,
    async (input) => {
      const existing = find(input.summary.version);
      if (existing || !patched(CHECKED_CHANGES)) return existing ?? register(state, input);
      // What is kept is the store's card, checked against the files, not what the sender claims.
      const summary = await checked(verifyRegistration({ summary: input.summary }));
      return register(state, { ...input, summary });
    },
    {
      validator: ({ summary, by }) => {
        if (summary?.model !== state.model) throw new Error(`version belongs to model "${summary?.model}", not "${state.model}"`);
        if (!/^[0-9a-f]{16}$/.test(summary.version)) throw new Error(`"${summary.version}" is not a version id`);
        requireText(by, 'by');
      },
    },
  );

  setHandler(
    setAliasUpdate,
    async (input) => {
      if (input.alias !== 'production' || state.aliases.production === input.version || !patched(CHECKED_CHANGES)) return setAlias(state, input);
      const production = state.aliases.production ?? null;
      await checked(verifyProductionChange({ model: state.model, version: input.version, production, evidence: input.evidence! }));
      // Again: other changes may have landed while the evidence was read (a second promotion).
      try {
        validateSetAlias(state, { ...input, expectedCurrent: production });
      } catch (err) {
        throw failureOfType(err, 'AliasChanged') ?? userError('RegistryRefused', (err as Error).message);
      }
      return setAlias(state, input);
    },
    { validator: (input) => validateSetAlias(state, input) },
  );

  setHandler(
    rollbackUpdate,
    ({ by, reason }) => {
      const current = state.productionHistory.pop()!;
      const previous = state.productionHistory[state.productionHistory.length - 1]!;
      state.aliases.production = previous;
      record(state, { action: 'rollback', alias: 'production', version: previous, previous: current, by, reason });
      return state;
    },
    {
      validator: ({ by, reason }) => {
        if (state.productionHistory.length < 2) throw new Error(`model "${state.model}" has no earlier production version to roll back to`);
        const previous = state.productionHistory[state.productionHistory.length - 2]!;
        if (find(previous)?.status === 'archived') throw new Error(`the previous production version ${previous} is archived; set production explicitly`);
        requireText(by, 'by');
        requireText(reason, 'reason');
      },
    },
  );

  setHandler(
    archiveUpdate,
    ({ version, by, reason }) => {
      find(version)!.status = 'archived';
      if (state.aliases.candidate === version) delete state.aliases.candidate;
      record(state, { action: 'archive', version, by, reason });
      return state;
    },
    {
      validator: ({ version, by, reason }) => {
        if (!find(version)) throw unknownVersion(state, version);
        if (state.aliases.production === version) throw new Error(`version ${version} is production; promote or roll back first`);
        requireText(by, 'by');
        requireText(reason, 'reason');
      },
    },
  );

  setHandler(
    rejectVersionUpdate,
    ({ version, by, reason, evidenceUri }) => {
      if (state.aliases.candidate === version) delete state.aliases.candidate;
      record(state, { action: 'reject', version, by, reason, evidenceUri });
      return state;
    },
    {
      validator: ({ version, by, reason }) => {
        if (!find(version)) throw unknownVersion(state, version);
        if (state.aliases.production === version) throw new Error(`version ${version} is production; roll back instead`);
        requireText(by, 'by');
        requireText(reason, 'reason');
      },
    },
  );
}
