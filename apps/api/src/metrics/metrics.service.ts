import { Injectable } from '@nestjs/common';
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const QUEUE_DEPTH_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
/** Job states published by {@link MetricsService.trackQueueDepth}. */
export type QueueDepthState = (typeof QUEUE_DEPTH_STATES)[number];

/**
 * Owns the Prometheus registry of this process (served at `/metrics`).
 *
 * `http_request_duration_seconds{method,route,status_code}`: a histogram in
 * seconds, labelled by the route template (never the raw URL, so ids do not
 * explode the label set). Alert rules in ops/prometheus/alerts.yml read it.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency in seconds, by method, route template and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
  }

  /** Records one finished request; `route` is the template (`/api/v1/stores/:storeId`) or `unmatched`. */
  observeHttp(method: string, route: string, statusCode: number, seconds: number): void {
    this.httpDuration.observe({ method, route, status_code: String(statusCode) }, seconds);
  }

  /**
   * Publishes a job queue's depth as the gauges `queue_jobs_waiting`, `queue_jobs_active`,
   * `queue_jobs_delayed` and `queue_jobs_failed` (jobs, label `queue`), read from `read` at each
   * scrape (alert QueueBacklogHigh in ops/prometheus/alerts.yml watches
   * `queue_jobs_waiting`). A failed read (Redis away) leaves the queue out of that scrape.
   */
  trackQueueDepth(queue: string, read: () => Promise<Record<QueueDepthState, number>>): void {
    for (const state of QUEUE_DEPTH_STATES) {
      const gauge: Gauge<'queue'> = new Gauge({
        name: `queue_jobs_${state}`,
        help: `Jobs ${state} in the job queue`,
        labelNames: ['queue'],
        registers: [this.registry],
        async collect() {
          gauge.reset();
          const counts = await read().catch(() => null);
          if (counts) gauge.set({ queue }, counts[state]);
        },
      });
    }
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
