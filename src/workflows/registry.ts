import { allHandlersFinished, condition, continueAsNew, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { z } from 'zod';
import { userError } from '../errors';
import { modelName } from '../store/names';
import { parseInput } from '../validation';
import { type RegistryInput, registrySearchAttributes, type RegistryState, registryWorkflowId } from '../api/registry';
import { registerRegistryHandlers } from './registry/handlers';
import { describe, emptyRegistry } from './registry/state';

export { KEPT_VERSIONS, retireOldVersions } from './registry/state';

const registryInputSchema = z
  .object({
    model: modelName,
    /** Carried over by continue-as-new; checked against the run's origin, not field by field. */
    state: z.custom<RegistryState>((s) => typeof s === 'object' && s !== null && (s as RegistryState).model !== undefined).optional(),
  })
  .strict();

/** Continue as new well before Temporal's history limits, carrying the state. */
const MAX_HISTORY_EVENTS = 2000;

/**
 * The model registry: one long-running entity workflow per model name. It owns the list of
 * versions, the `production`/`candidate` aliases and the decision log; every change is an update
 * (registry/handlers.ts) with a validator that refuses bad input with a message, before anything
 * is recorded. The workflow itself only holds the state and hands it to its next run.
 */
export async function modelRegistry(raw: RegistryInput): Promise<void> {
  const input = parseInput(registryInputSchema, raw, 'registry input');
  if (workflowInfo().workflowId !== registryWorkflowId(input.model)) {
    throw userError(
      'InvalidInput',
      `Workflow ${workflowInfo().workflowId} cannot hold model "${input.model}": the registry of "${input.model}" is ${registryWorkflowId(input.model)}`,
    );
  }
  // The state names production: only the registry's own previous run may hand it over.
  if (input.state !== undefined && !workflowInfo().continuedFromExecutionRunId) {
    throw userError('InvalidInput', "A registry's state is carried over by the registry itself (continue-as-new); start it with { model } only");
  }
  const state = input.state ?? emptyRegistry(input.model);
  upsertSearchAttributes(registrySearchAttributes(state.model));
  describe(state);
  registerRegistryHandlers(state);

  await condition(() => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > MAX_HISTORY_EVENTS);
  await condition(allHandlersFinished);
  await continueAsNew<typeof modelRegistry>({ model: state.model, state });
}
