import { type Client, WithStartWorkflowOperation, WorkflowIdConflictPolicy, WorkflowNotFoundError } from '@temporalio/client';
import { promoteWorkflowId, promotionStatusQuery } from '../api/promote';
import {
  type PromotionEvidence,
  REGISTRY_WORKFLOW_TYPE,
  type RegisterVersionInput,
  type RegistryInput,
  type RegistryState,
  type RegistryVersion,
  type RejectInput,
  registerVersionUpdate,
  registryStartOptions,
  registryStateQuery,
  registryWorkflowId,
  rejectVersionUpdate,
  type SetAliasInput,
  setAliasUpdate,
} from '../api/registry';
import { retrainStatusQuery, retrainWorkflowId } from '../api/retrain';
import { userError } from '../errors';
import type { ModelVersionSummary } from '../models/card';
import { readEvaluationEvidence, verifyModelFiles } from '../models/evidence';
import type { ArtifactStore } from '../store/artifact-store';
import { refusalAsUserError } from '../temporal/updates';

export interface RegistryActivityDeps {
  store: ArtifactStore;
  client: Client;
  taskQueue: string;
}

/**
 * Calls to the registry workflow get a deadline well below the activities' 2-minute timeout: under
 * load a call was seen hanging until that timeout (bench:load); all of them are idempotent, so
 * failing fast and retrying is safe.
 */
const REGISTRY_CALL_MS = 30_000;

/** The model registry's activities: calls into `registry:<model>` through the injected client, and the checks it runs. */
export function createRegistryActivities(deps: RegistryActivityDeps) {
  const withDeadline = <T>(call: () => Promise<T>) => deps.client.withDeadline(Date.now() + REGISTRY_CALL_MS, call);
  return {
    /** The registry's current state (versions, aliases, decisions). */
    async readRegistry(input: { model: string }): Promise<RegistryState> {
      return withDeadline(() => deps.client.workflow.getHandle(registryWorkflowId(input.model)).query(registryStateQuery)).catch((err: Error) => {
        // No registry is an answer; anything else (timeouts, a query racing continue-as-new) is retried.
        if (err instanceof WorkflowNotFoundError) throw userError('RegistryRefused', `Model "${input.model}" has no registry (train a version first)`);
        throw err;
      });
    },

    /** Sets an alias; a refusal by the registry's validator (e.g. production changed meanwhile) comes back as RegistryRefused. */
    async setRegistryAlias(input: SetAliasInput & { model: string }): Promise<RegistryState> {
      const { model, ...update } = input;
      return refusalAsUserError(
        withDeadline(() => deps.client.workflow.getHandle(registryWorkflowId(model)).executeUpdate(setAliasUpdate, { args: [update] })),
        'RegistryRefused',
      );
    },

    async rejectRegistryVersion(input: RejectInput & { model: string }): Promise<RegistryState> {
      const { model, ...update } = input;
      return refusalAsUserError(
        withDeadline(() => deps.client.workflow.getHandle(registryWorkflowId(model)).executeUpdate(rejectVersionUpdate, { args: [update] })),
        'RegistryRefused',
      );
    },

    /** registerVersion's check of the files, run by the registry (local activity); returns the card's summary. */
    async verifyRegistration(input: { summary: ModelVersionSummary }): Promise<ModelVersionSummary> {
      return verifyModelFiles(deps.store, input.summary);
    },

    /** setAlias production's check of the evidence, run by the registry (local activity): refuses unless it holds. */
    async verifyProductionChange(input: { model: string; version: string; production: string | null; evidence: PromotionEvidence }): Promise<void> {
      const { model, version, production, evidence } = input;
      const refuse = (message: string) => userError('RegistryRefused', `production cannot become ${version}: ${message}`);
      /** The running workflow that decided, of the type that may decide; refused if it is not there. */
      const decider = async (workflowId: string, type: string) => {
        const handle = deps.client.workflow.getHandle(workflowId);
        const description = await withDeadline(() => handle.describe()).catch((err: Error) => {
          if (err instanceof WorkflowNotFoundError) throw refuse(`no workflow ${workflowId} made that decision`);
          throw err;
        });
        if (description.type !== type || description.status.name !== 'RUNNING') throw refuse(`${workflowId} is not a running ${type}`);
        return handle;
      };
      switch (evidence?.kind) {
        case 'gates-passed': {
          const report = await readEvaluationEvidence(deps.store, model, version, production, evidence.reportUri);
          if (!report.passed) {
            const failed = report.gates.filter((g) => !g.passed).map((g) => g.gate);
            throw refuse(`evaluation report ${evidence.reportUri} failed its gates (${failed.join(', ')}); production needs passed gates or a person's approval`);
          }
          return;
        }
        case 'approved': {
          await readEvaluationEvidence(deps.store, model, version, production, evidence.reportUri);
          if (evidence.promotion !== promoteWorkflowId(model, version))
            throw refuse(`the promotion of ${model}@${version} is ${promoteWorkflowId(model, version)}, not ${evidence.promotion}`);
          const status = await withDeadline(async () => (await decider(evidence.promotion, 'promoteModel')).query(promotionStatusQuery));
          if (status.phase !== 'promoting' || !status.approval || status.evaluation?.reportUri !== evidence.reportUri) {
            throw refuse(`${evidence.promotion} records no approval of ${version} on ${evidence.reportUri}`);
          }
          return;
        }
        case 'forced': {
          if (evidence.loop !== retrainWorkflowId(model)) throw refuse(`the retraining loop of ${model} is ${retrainWorkflowId(model)}, not ${evidence.loop}`);
          const status = await withDeadline(async () => (await decider(evidence.loop, 'retrainUntilImproved')).query(retrainStatusQuery));
          if (status.decision?.action !== 'forcePromote' || status.decision.version !== version || !status.attempts.some((a) => a.version === version)) {
            throw refuse(`${evidence.loop} records no force-promote decision for ${version}, a version it trained`);
          }
          return;
        }
        default:
          throw refuse('no evidence of a promotion (gates passed, an approval, or a forced promotion) came with the change');
      }
    },

    /** Registers a version in the model's registry workflow, starting the registry if it is not running. */
    async registerModelVersion(input: RegisterVersionInput): Promise<RegistryVersion> {
      const model = input.summary.model;
      const startWorkflowOperation = new WithStartWorkflowOperation<(input: RegistryInput) => Promise<void>>(REGISTRY_WORKFLOW_TYPE, {
        ...registryStartOptions(model),
        taskQueue: deps.taskQueue,
        args: [{ model }],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      });
      return withDeadline(() => deps.client.workflow.executeUpdateWithStart(registerVersionUpdate, { args: [input], startWorkflowOperation }));
    },
  };
}
