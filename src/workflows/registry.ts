import {
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { z } from 'zod';
import type { Activities } from '../activities';
import { activityOptions } from './activity-options';
import { failureOfType, rootApplicationFailure, userError } from '../errors';
import { modelName } from '../store/names';
import { parseInput } from '../validation';
import {
  ALIASES,
  archiveUpdate,
  type Decision,
  type PromotionEvidence,
  type RegisterVersionInput,
  type RegistryInput,
  registerVersionUpdate,
  registrySearchAttributes,
  registryStateQuery,
  registryVersionQuery,
  type RegistryState,
  type RegistryVersion,
  registryWorkflowId,
  versionOf,
  rejectVersionUpdate,
  type SetAliasInput,
  rollbackUpdate,
  setAliasUpdate,
} from '../api/registry';

const registryInputSchema = z
  .object({
    model: modelName,
    /** Carried over by continue-as-new; checked against the run's origin, not field by field. */
    state: z.custom<RegistryState>((s) => typeof s === 'object' && s !== null && (s as RegistryState).model !== undefined).optional(),
  })
  .strict();

/** Decisions kept in the carried state; earlier ones remain in the histories of earlier runs. */
const KEPT_DECISIONS = 200;
/**
 * The state travels as one payload (continue-as-new input, update results, readRegistry), so it
 * must stay bounded: at about 1.2 KB per version summary, 100 versions plus 200 decisions stay
 * well below 256 KB. Older versions leave the state unless an alias or the rollback history
 * still names them; their cards stay in the store and training the same request registers one again.
 */
export const KEPT_VERSIONS = 100;
const KEPT_PRODUCTION_HISTORY = 20;

/** Drops the oldest versions nothing points at, beyond KEPT_VERSIONS; pure, so replay-safe. */
export function retireOldVersions(state: RegistryState): void {
  if (state.productionHistory.length > KEPT_PRODUCTION_HISTORY) {
    state.productionHistory.splice(0, state.productionHistory.length - KEPT_PRODUCTION_HISTORY);
  }
  let excess = state.versions.length - KEPT_VERSIONS;
  if (excess <= 0) return;
  const pinned = new Set<string>([...Object.values(state.aliases), ...state.productionHistory]);
  state.versions = state.versions.filter((v) => {
    if (excess <= 0 || pinned.has(v.version)) return true;
    excess--;
    state.retiredVersions = (state.retiredVersions ?? 0) + 1;
    return false;
  });
}
/** Continue as new well before Temporal's history limits, carrying the state. */
const MAX_HISTORY_EVENTS = 2000;

/**
 * Registrations and production changes are checked against the store first (models/evidence.ts),
 * by local activities: they need no activity slot, so a worker whose slots all wait on registry
 * updates cannot deadlock on the checks. Histories from before the checks replay without them.
 */
const CHECKED_CHANGES = 'registry-checks-files-and-evidence';
const { verifyRegistration, verifyProductionChange } = proxyLocalActivities<Activities>(activityOptions.localCheck);
const PROMOTION_EVIDENCE: ReadonlyArray<PromotionEvidence['kind']> = ['gates-passed', 'approved', 'forced'];

/** A check that refused (or could not run) fails the update with its own message, as a refusal. */
async function checked<T>(check: Promise<T>): Promise<T> {
  try {
    return await check;
  } catch (err) {
    throw userError('RegistryRefused', rootApplicationFailure(err)?.message ?? (err as Error).message);
  }
}

/**
 * The start of the message a lost compare-and-set failed with before it had its own type
 * (AliasChanged): only to read failures recorded in histories from then (see promote.ts).
 */
export const ALIAS_CHANGED = 'alias changed';

export function requireText(value: unknown, what: string): void {
  if (typeof value !== 'string' || value.trim().length === 0) throw new Error(`${what} must be a non-empty text`);
}

/**
 * The model registry: one long-running entity workflow per model name. It owns the list of
 * versions, the `production`/`candidate` aliases and the decision log; every change is an update
 * with a validator that refuses bad input with a message, before anything is recorded.
 */
export async function modelRegistry(raw: RegistryInput): Promise<void> {
  const input = parseInput(registryInputSchema, raw, 'registry input');
  if (workflowInfo().workflowId !== registryWorkflowId(input.model)) {
    throw userError('InvalidInput', `Workflow ${workflowInfo().workflowId} cannot hold model "${input.model}": the registry of "${input.model}" is ${registryWorkflowId(input.model)}`);
  }
  // The state names production: only the registry's own previous run may hand it over.
  if (input.state !== undefined && !workflowInfo().continuedFromExecutionRunId) {
    throw userError('InvalidInput', "A registry's state is carried over by the registry itself (continue-as-new); start it with { model } only");
  }
  const state: RegistryState = input.state ?? {
    model: input.model,
    versions: [],
    aliases: {},
    productionHistory: [],
    decisions: [],
  };
  upsertSearchAttributes(registrySearchAttributes(state.model));
  const find = (version: string) => versionOf(state, version);
  const unknown = (version: string) =>
    new Error(
      `model "${state.model}" has no version "${version}"` +
        (state.retiredVersions ? ` (the registry keeps the latest ${KEPT_VERSIONS} versions; train the same request again to register an older one anew)` : ''),
    );
  // The Web UI's "current details": where the aliases point and what changed last.
  const describe = () => {
    const last = state.decisions.at(-1);
    setCurrentDetails(
      `**production** ${state.aliases.production ?? '(none)'} · **candidate** ${state.aliases.candidate ?? '(none)'} · ${state.versions.length} version(s)` +
        (last ? `\n\nLast: ${last.action}${last.alias ? ` ${last.alias}` : ''} ${last.version} by ${last.by} — ${last.reason}` : ''),
    );
  };
  const record = (d: Omit<Decision, 'at'>) => {
    state.decisions.push({ at: new Date().toISOString(), ...d });
    if (state.decisions.length > KEPT_DECISIONS) state.decisions.splice(0, state.decisions.length - KEPT_DECISIONS);
    describe();
  };
  describe();

  setHandler(registryStateQuery, () => state);
  setHandler(registryVersionQuery, (version) => find(version));

  const register = ({ summary, asCandidate, by }: RegisterVersionInput): RegistryVersion => {
    const existing = find(summary.version);
    // Registering the same version again (a retried activity) changes nothing.
    if (existing) return existing;
    const registered = { ...summary, registeredAt: new Date().toISOString(), status: 'active' as const };
    state.versions.push(registered);
    retireOldVersions(state);
    record({ action: 'register', version: summary.version, by, reason: `trained by ${summary.trainer.kind} on ${summary.dataset.name}@${summary.dataset.version}` });
    if (asCandidate) {
      const previous = state.aliases.candidate;
      state.aliases.candidate = summary.version;
      record({ action: 'set-alias', alias: 'candidate', version: summary.version, previous, by, reason: 'newly trained' });
    }
    return registered;
  };

  setHandler(
    registerVersionUpdate,
    async (input) => {
      const existing = find(input.summary.version);
      if (existing || !patched(CHECKED_CHANGES)) return existing ?? register(input);
      // What is kept is the store's card, checked against the files, not what the sender claims.
      const summary = await checked(verifyRegistration({ summary: input.summary }));
      return register({ ...input, summary });
    },
    {
      validator: ({ summary, by }) => {
        if (summary?.model !== state.model) throw new Error(`version belongs to model "${summary?.model}", not "${state.model}"`);
        if (!/^[0-9a-f]{16}$/.test(summary.version)) throw new Error(`"${summary.version}" is not a version id`);
        requireText(by, 'by');
      },
    },
  );

  const setAlias = ({ alias, version, by, reason, evidenceUri }: SetAliasInput): RegistryState => {
    const previous = state.aliases[alias];
    if (previous === version) return state;
    state.aliases[alias] = version;
    if (alias === 'production') {
      state.productionHistory.push(version);
      if (state.aliases.candidate === version) delete state.aliases.candidate;
    }
    record({ action: 'set-alias', alias, version, previous, by, reason, evidenceUri });
    return state;
  };
  const validateSetAlias = ({ alias, version, by, reason, expectedCurrent, evidence }: SetAliasInput) => {
    if (!ALIASES.includes(alias)) throw new Error(`alias must be one of ${ALIASES.join(', ')}`);
    if (expectedCurrent !== undefined && (state.aliases[alias] ?? null) !== expectedCurrent) {
      throw userError('AliasChanged', `${ALIAS_CHANGED}: ${alias} is ${state.aliases[alias] ?? 'unset'} now, not ${expectedCurrent ?? 'unset'} as expected`);
    }
    const v = find(version);
    if (!v) throw unknown(version);
    if (v.status === 'archived') throw new Error(`version ${version} is archived`);
    requireText(by, 'by');
    requireText(reason, 'reason');
    if (alias === 'production' && state.aliases.production !== version && !(PROMOTION_EVIDENCE as readonly string[]).includes(evidence?.kind ?? '')) {
      throw new Error(
        `production changes only through a promotion (\`mlops promote\`: gates passed, or a person's approval), \`mlops rollback\`, or a retraining loop's force-promote; ` +
          `this update carries no evidence of one (evidence.kind: ${PROMOTION_EVIDENCE.join(' | ')})`,
      );
    }
  };

  setHandler(
    setAliasUpdate,
    async (input) => {
      if (input.alias !== 'production' || state.aliases.production === input.version || !patched(CHECKED_CHANGES)) return setAlias(input);
      const production = state.aliases.production ?? null;
      await checked(verifyProductionChange({ model: state.model, version: input.version, production, evidence: input.evidence! }));
      // Again: other changes may have landed while the evidence was read (a second promotion).
      try {
        validateSetAlias({ ...input, expectedCurrent: production });
      } catch (err) {
        throw failureOfType(err, 'AliasChanged') ?? userError('RegistryRefused', (err as Error).message);
      }
      return setAlias(input);
    },
    { validator: validateSetAlias },
  );

  setHandler(
    rollbackUpdate,
    ({ by, reason }) => {
      const current = state.productionHistory.pop()!;
      const previous = state.productionHistory[state.productionHistory.length - 1]!;
      state.aliases.production = previous;
      record({ action: 'rollback', alias: 'production', version: previous, previous: current, by, reason });
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
      record({ action: 'archive', version, by, reason });
      return state;
    },
    {
      validator: ({ version, by, reason }) => {
        const v = find(version);
        if (!v) throw unknown(version);
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
      record({ action: 'reject', version, by, reason, evidenceUri });
      return state;
    },
    {
      validator: ({ version, by, reason }) => {
        if (!find(version)) throw unknown(version);
        if (state.aliases.production === version) throw new Error(`version ${version} is production; roll back instead`);
        requireText(by, 'by');
        requireText(reason, 'reason');
      },
    },
  );

  await condition(() => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > MAX_HISTORY_EVENTS);
  await condition(allHandlersFinished);
  await continueAsNew<typeof modelRegistry>({ model: state.model, state });
}
