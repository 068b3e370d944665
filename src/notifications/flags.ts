/**
 * The catalogue of flags: every way a workflow stops to wait for a person (MlopsNeedsAttention),
 * and the one payload sent about it to webhooks and Slack. Library code, no Temporal imports: the
 * workflow side (workflows/flags.ts) builds a Flag, the deliverFlag activity sends it.
 */
export const FLAG_SCHEMA = 'mlops.flag/v1';

export const FLAG_KINDS = [
  /** A promotion waits for `mlops approve|reject` (policy manual, or a failed gate under ask-on-failure). */
  'promotion-review',
  /** A scoring run's flagged share crossed its threshold; it waits for `mlops acknowledge`. */
  'scoring-alert',
  /** A model server reported a problem (serving-alert workflow); it waits for `mlops acknowledge`. */
  'serving-alert',
  /** The retraining loop ran out of attempts or time; it waits for `mlops decide`. */
  'retrain-escalated',
  /** A person paused a canary; it holds its share until `mlops canary advance|abort`. */
  'canary-paused',
  /** A canary rolled back. */
  'canary-rollback',
  /** A monitoring pass crossed its drift/performance threshold. */
  'monitoring-crossing',
  /** A landed file's chain failed at a step; it waits for `mlops landed retry|dismiss`. */
  'landing-chain-failed',
] as const;
export type FlagKind = (typeof FLAG_KINDS)[number];

/** What the workflow knows when it raises a flag. */
export interface FlagInput {
  kind: FlagKind;
  model: string;
  workflowId: string;
  /** Which raise of this kind in this workflow (1, 2…): one message per flag, however often the delivery is retried. */
  episode: number;
  /** What happened, in one sentence. */
  summary: string;
  /** The exact commands that answer the flag. */
  commands: string[];
  /** Small facts for receivers (version, run id, metric…). */
  details?: Record<string, string | number | boolean>;
  /** When the flag was raised (workflow time, ISO). */
  raisedAt: string;
}

/** The webhook body (schema mlops.flag/v1), documented in the README. */
export interface FlagPayload extends FlagInput {
  schema: typeof FLAG_SCHEMA;
  /** The dedupe key, also sent as the X-Mlops-Delivery-Id header: the same for every resend of this flag. */
  deliveryId: string;
  /** The workflow in the Temporal Web UI. */
  webUiUrl: string;
}

/** The header every channel sends the delivery id in (HTTP requests and emails alike). */
export const DELIVERY_ID_HEADER = 'X-Mlops-Delivery-Id';

export const DEFAULT_WEB_UI_URL = 'http://localhost:8233';

/** The key a flag is deduplicated by: workflow id + kind + episode. */
export function flagDeliveryId(flag: Pick<FlagInput, 'workflowId' | 'kind' | 'episode'>): string {
  return `${flag.workflowId}/${flag.kind}/${flag.episode}`;
}

/** The workflow's page in the Web UI (MLOPS_WEB_UI_URL, default http://localhost:8233). */
export function workflowWebUiUrl(webUi: string, namespace: string, workflowId: string): string {
  return `${webUi.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

export function flagPayload(flag: FlagInput, options: { webUi: string; namespace: string }): FlagPayload {
  return {
    schema: FLAG_SCHEMA,
    ...flag,
    deliveryId: flagDeliveryId(flag),
    webUiUrl: workflowWebUiUrl(options.webUi, options.namespace, flag.workflowId),
  };
}

/** Commands that answer each flag, spelled as the CLI takes them (see src/cli/commands). */
export const answerCommands = {
  promotionReview: (model: string, version: string) => [`mlops approve ${model} ${version} --reason "…"`, `mlops reject ${model} ${version} --reason "…"`],
  scoringAlert: (model: string, runId: string) => [`mlops acknowledge ${model} ${runId} --reason "…"`],
  retrainEscalated: (model: string) => [`mlops decide ${model} retry|accept-current|force-promote|abort --reason "…"`],
  /** Nothing waits: what to read, and the loop it started (if any) to follow. */
  monitoringCrossing: (model: string, runId: string, retraining: boolean) => [
    `mlops report ${model} --monitoring ${runId} --open`,
    ...(retraining ? [`mlops retrain-status ${model}`] : [`mlops retrain ${model} --reason "…"`]),
  ],
  canaryRollback: (model: string) => [`mlops status ${model}`, `mlops retrain ${model} --reason "…"`],
};
