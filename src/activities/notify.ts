import { Context } from '@temporalio/activity';
import { notifySpecSchema, type NotifyChannel } from '../notifications/channels';
import { deliverFlagTo, recordFailedDelivery, type DeliveryResult } from '../notifications/deliver';
import { DEFAULT_WEB_UI_URL, flagDeliveryId, flagPayload, type FlagInput } from '../notifications/flags';
import type { ArtifactStore } from '../store/artifact-store';
import { layout } from '../store/layout';

export interface NotifyActivityDeps {
  store: ArtifactStore;
  /** MLOPS_WEB_UI_URL: where the links in messages point. */
  webUiUrl?: string;
}

/**
 * The model's channels as applied now (specs/<model>.json, written by `mlops apply`): read at
 * delivery time, so workflows carry no channel config and a re-applied spec takes effect for the
 * next flag. Undefined without a spec or without a notify section.
 */
async function appliedChannels(store: ArtifactStore, model: string): Promise<NotifyChannel[] | undefined> {
  const record = await store.readJson<{ spec?: { notify?: unknown } }>(store.url(...layout.spec(model)));
  if (record?.spec?.notify === undefined) return undefined;
  return notifySpecSchema.parse(record.spec.notify);
}

export function createNotifyActivities(deps: NotifyActivityDeps) {
  return {
    /** Sends a flag to the model's channels; retried by its workflow, resending only to channels that failed. */
    async deliverFlag(flag: FlagInput): Promise<DeliveryResult> {
      const { namespace } = Context.current().info;
      const payload = flagPayload(flag, { webUi: deps.webUiUrl || process.env.MLOPS_WEB_UI_URL || DEFAULT_WEB_UI_URL, namespace });
      return deliverFlagTo(deps.store, await appliedChannels(deps.store, flag.model), payload);
    },
    /** A delivery that failed after its retries: kept for `mlops notifications --failed`. */
    async recordFailedFlagDelivery(input: { flag: FlagInput; error: string }): Promise<void> {
      const { flag } = input;
      await recordFailedDelivery(deps.store, {
        deliveryId: flagDeliveryId(flag),
        kind: flag.kind,
        model: flag.model,
        workflowId: flag.workflowId,
        error: input.error,
        failedAt: new Date().toISOString(),
      });
    },
  };
}
