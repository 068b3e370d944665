/**
 * The artifact store's layout: every key (folder or file) the project reads or writes, as path
 * segments below the store's root. This is the one module that spells them, so a backend that is
 * not a local folder (S3: the same segments joined by `/` under a prefix) maps one place.
 */
export const MANIFEST_FILE = 'manifest.json';
export const CARD_FILE = 'card.json';
/** A model version's ONNX file, beside its card (on S3 under the attempt the card names). */
export const MODEL_FILE = 'model.onnx';
/** What an external trainer printed, kept with the version it trained. */
export const TRAINER_LOG = 'trainer.log';
/** A dataset version's rows. */
export const SNAPSHOT_FILE = 'data.parquet';
export const RUN_FILE = 'run.json';
/** A scoring run's page with charts, beside its run.json. */
export const RUN_PAGE = 'report.html';
/** A model's page and the registry state it was drawn from, in reports/models/<model>/. */
export const MODEL_PAGE = 'index.html';
export const MODEL_PAGE_DATA = 'model.json';

/** A name as one segment: other characters (`/`, `:`…) as %XX, so distinct names stay distinct. */
function safeSegment(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export const layout = {
  datasets: () => ['datasets'],
  dataset: (dataset: string) => ['datasets', dataset],
  datasetVersions: (dataset: string) => ['datasets', dataset, 'versions'],
  datasetVersion: (dataset: string, version: string) => ['datasets', dataset, 'versions', version],
  manifest: (dataset: string, version: string) => ['datasets', dataset, 'versions', version, MANIFEST_FILE],
  quarantine: (dataset: string, version: string) => ['datasets', dataset, 'quarantine', `${version}.parquet`],
  raw: () => ['raw'],
  rawCopy: (dataset: string, sourceHash: string) => ['raw', dataset, sourceHash],
  /** Contracts that came by reference (too large to ride in payloads), by the sha256 of their bytes. */
  contract: (sha256: string) => ['contracts', `${sha256}.json`],
  labels: () => ['labels'],
  datasetLabels: (dataset: string) => ['labels', dataset],
  models: () => ['models'],
  modelVersion: (model: string, version: string) => ['models', model, 'versions', version],
  card: (model: string, version: string) => ['models', model, 'versions', version, CARD_FILE],
  evaluations: (model: string) => ['reports', 'evaluations', model],
  monitoring: (model: string) => ['reports', 'monitoring', model],
  /** The model page (index.html) and its data (model.json). */
  modelPage: (model: string) => ['reports', 'models', model],
  /** Live traffic model servers saw during one promotion run: one cumulative JSON file per server (api/online.ts). */
  onlineTraffic: (model: string, candidate: string, promotionRun: string) => ['reports', 'online', model, candidate, promotionRun],
  retentionReport: (sweepId: string) => ['reports', 'retention', `${sweepId.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`],
  predictions: () => ['predictions'],
  /** A model's scoring runs: predictions/<model>/<runId>/ with run.json and part-*.parquet. */
  predictionRuns: (model: string) => ['predictions', model],
  predictionRun: (model: string, runId: string) => ['predictions', model, runId],
  /** The run's record, written last: a run folder without it is not (yet) a run. */
  scoringRun: (model: string, runId: string) => ['predictions', model, runId, RUN_FILE],
  /**
   * A split scoring run's parts before they are published: .staging/scoring/<model>/<runId>/<part>/
   * (fewer segments: the folders above). Outside predictions/, so no reader of the logs sees them.
   */
  scoringStaging: (...run: [] | [model: string] | [model: string, runId: string] | [model: string, runId: string, part: string]) => ['.staging', 'scoring', ...run],
  /** The applied spec of a model (`mlops apply`): what `mlops get` prints and what it owns on the server. */
  specs: () => ['specs'],
  spec: (model: string) => ['specs', `${model}.json`],
  /** Files taken from a dataset's landing folder, one marker per sha256 (see landing/scan.ts). */
  landed: (model: string, dataset: string) => ['landing', model, dataset],
  landedFile: (model: string, dataset: string, sha256: string) => ['landing', model, dataset, `${sha256}.json`],
  /**
   * Flag deliveries (notifications/deliver.ts): one marker per (delivery id, channel) written with
   * putIfAbsent once a channel took the message, so a retried delivery resends only to the others;
   * and one record per delivery that failed for good, listed by `mlops notifications --failed`.
   */
  notificationsDelivered: () => ['notifications', 'delivered'],
  notificationDelivered: (deliveryId: string, channel: string) => ['notifications', 'delivered', safeSegment(deliveryId), `${channel}.json`],
  notificationsFailed: () => ['notifications', 'failed'],
  notificationFailed: (deliveryId: string) => ['notifications', 'failed', `${safeSegment(deliveryId)}.json`],
  /** Process groups of running external trainers (see training/process-groups.ts). */
  trainerGroups: () => ['.trainers'],
  tmp: () => ['.tmp'],
} as const;

/** Globs over the layout, for the lineage views (`mlops sql`). */
export const layoutGlobs = {
  manifests: ['datasets', '*', 'versions', '*', MANIFEST_FILE],
  cards: ['models', '*', 'versions', '*', CARD_FILE],
  evaluations: ['reports', 'evaluations', '*', '*.json'],
  monitoring: ['reports', 'monitoring', '*', '*.json'],
  scoringRuns: ['predictions', '*', '*', RUN_FILE],
  labelFiles: ['labels', '*', '*.parquet'],
} as const;
