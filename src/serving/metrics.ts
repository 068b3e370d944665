import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Predictor } from './predictor';
import type { ScoredBatch } from './scored';

/**
 * The model server's Prometheus metrics (GET /metrics). Counters move as requests are answered;
 * what the predictor knows (version in use, window share, load failures, log) is read when
 * Prometheus scrapes, so it is never stale and costs nothing between scrapes.
 */
export class ServingMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'status'>;
  private readonly latency: Histogram<'route'>;
  private readonly predictions: Counter<'model_version'>;
  private readonly flagged: Counter<'model_version' | 'flag'>;

  constructor(predictor: Predictor) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'mlops_serve_' });
    this.requests = new Counter({ name: 'mlops_serve_requests_total', help: 'HTTP requests answered, by route and status code', labelNames: ['route', 'status'], registers });
    this.latency = new Histogram({
      name: 'mlops_serve_request_duration_seconds',
      help: 'Time from request to response, by route',
      labelNames: ['route'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.predictions = new Counter({ name: 'mlops_serve_predictions_total', help: 'Rows predicted, by model version', labelNames: ['model_version'], registers });
    this.flagged = new Counter({
      name: 'mlops_serve_flagged_predictions_total',
      help: 'Rows whose prediction was flagged by the range check',
      labelNames: ['model_version', 'flag'],
      registers,
    });
    new Gauge({
      name: 'mlops_serve_flagged_share',
      help: 'Flagged share of the sliding window of recent predictions (an alert is raised above the limit)',
      registers,
      collect() {
        this.set(predictor.status().flaggedShare);
      },
    });
    new Gauge({
      name: 'mlops_serve_model_info',
      help: 'The model version in use (value 1), and the one the registry names as production',
      labelNames: ['model', 'version', 'registry_production'],
      registers,
      collect() {
        const s = predictor.status();
        this.reset();
        this.set({ model: s.model, version: s.version ?? 'none', registry_production: s.registryProduction ?? 'none' }, 1);
      },
    });
    new Gauge({
      name: 'mlops_serve_ready',
      help: '1 when a verified production version is loaded',
      registers,
      collect() {
        this.set(predictor.status().ready ? 1 : 0);
      },
    });
    new Gauge({
      name: 'mlops_serve_model_load_failures',
      help: 'Production versions that failed to load since start (the previous one kept serving)',
      registers,
      collect() {
        this.set(predictor.status().loadFailures);
      },
    });
    new Gauge({
      name: 'mlops_serve_promotion_info',
      help: 'The promotion this server follows (value 1): its candidate, and whether it shadows it or serves it a canary share',
      labelNames: ['candidate', 'mode'],
      registers,
      collect() {
        const p = predictor.status().promotion;
        this.reset();
        if (p) this.set({ candidate: p.candidate, mode: p.mode }, 1);
      },
    });
    new Gauge({
      name: 'mlops_serve_canary_share',
      help: "Percent of requests the candidate answers in the followed promotion's canary step (0: none)",
      registers,
      collect() {
        this.set(predictor.status().promotion?.share ?? 0);
      },
    });
    new Gauge({
      name: 'mlops_serve_shadow_requests',
      help: 'Requests of the followed promotion scored by its candidate off the response path, waiting to be, and dropped (queue full)',
      labelNames: ['state'],
      registers,
      collect() {
        const p = predictor.status().promotion;
        this.reset();
        if (!p) return;
        this.set({ state: 'shadowed' }, p.shadowed);
        this.set({ state: 'queued' }, p.shadowQueued);
        this.set({ state: 'dropped' }, p.shadowDropped);
      },
    });
    new Gauge({
      name: 'mlops_serve_log_rows',
      help: 'Online prediction log rows: written to Parquet, waiting in memory, dropped (writes behind or failing)',
      labelNames: ['state'],
      registers,
      collect() {
        const log = predictor.status().log;
        if (!log) return;
        this.set({ state: 'written' }, log.written);
        this.set({ state: 'buffered' }, log.buffered);
        this.set({ state: 'dropped' }, log.dropped);
      },
    });
  }

  observeRequest(route: string, status: number, seconds: number): void {
    this.requests.inc({ route, status: String(status) });
    this.latency.observe({ route }, seconds);
  }

  observePredictions(modelVersion: string, batch: ScoredBatch): void {
    this.predictions.inc({ model_version: modelVersion }, batch.rows);
    for (let r = 0; r < batch.rows; r++) if (batch.flagCodes[r] !== 0) this.flagged.inc({ model_version: modelVersion, flag: batch.flag(r)! });
  }
}
