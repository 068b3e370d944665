import { setCurrentDetails } from '@temporalio/workflow';
import { type Decision, type RegisterVersionInput, type RegistryState, type RegistryVersion, type SetAliasInput, versionOf } from '../../api/registry';

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

export function emptyRegistry(model: string): RegistryState {
  return { model, versions: [], aliases: {}, productionHistory: [], decisions: [] };
}

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

/** The refusal for a version the registry does not hold (any more, when it retired some). */
export function unknownVersion(state: RegistryState, version: string): Error {
  return new Error(
    `model "${state.model}" has no version "${version}"` +
      (state.retiredVersions ? ` (the registry keeps the latest ${KEPT_VERSIONS} versions; train the same request again to register an older one anew)` : ''),
  );
}

/** The Web UI's "current details": where the aliases point and what changed last. */
export function describe(state: RegistryState): void {
  const last = state.decisions.at(-1);
  setCurrentDetails(
    `**production** ${state.aliases.production ?? '(none)'} · **candidate** ${state.aliases.candidate ?? '(none)'} · ${state.versions.length} version(s)` +
      (last ? `\n\nLast: ${last.action}${last.alias ? ` ${last.alias}` : ''} ${last.version} by ${last.by} — ${last.reason}` : ''),
  );
}

/** Appends to the decision log (bounded) and shows the change. */
export function record(state: RegistryState, d: Omit<Decision, 'at'>): void {
  state.decisions.push({ at: new Date().toISOString(), ...d });
  if (state.decisions.length > KEPT_DECISIONS) state.decisions.splice(0, state.decisions.length - KEPT_DECISIONS);
  describe(state);
}

export function register(state: RegistryState, { summary, asCandidate, by }: RegisterVersionInput): RegistryVersion {
  const existing = versionOf(state, summary.version);
  // Registering the same version again (a retried activity) changes nothing.
  if (existing) return existing;
  const registered = { ...summary, registeredAt: new Date().toISOString(), status: 'active' as const };
  state.versions.push(registered);
  retireOldVersions(state);
  record(state, { action: 'register', version: summary.version, by, reason: `trained by ${summary.trainer.kind} on ${summary.dataset.name}@${summary.dataset.version}` });
  if (asCandidate) {
    const previous = state.aliases.candidate;
    state.aliases.candidate = summary.version;
    record(state, { action: 'set-alias', alias: 'candidate', version: summary.version, previous, by, reason: 'newly trained' });
  }
  return registered;
}

export function setAlias(state: RegistryState, { alias, version, by, reason, evidenceUri }: SetAliasInput): RegistryState {
  const previous = state.aliases[alias];
  if (previous === version) return state;
  state.aliases[alias] = version;
  if (alias === 'production') {
    state.productionHistory.push(version);
    if (state.aliases.candidate === version) delete state.aliases.candidate;
  }
  record(state, { action: 'set-alias', alias, version, previous, by, reason, evidenceUri });
  return state;
}
