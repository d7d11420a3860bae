import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The metric set of one process (API or worker), on its own registry. */
export function createMetrics(opts: { defaults?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaults !== false) collectDefaultMetrics({ register: registry });
  return {
    registry,
    messagesDispatched: new Counter({
      name: 'turumba_messages_dispatched_total',
      help: 'Messages that reached a status, by channel type and status',
      labelNames: ['channel_type', 'status'] as const,
      registers: [registry],
    }),
    dispatchDuration: new Histogram({
      name: 'turumba_dispatch_duration_seconds',
      help: 'Provider send call time',
      labelNames: ['channel_type'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    rateLimitHits: new Counter({
      name: 'turumba_rate_limit_hits_total',
      help: 'Send slots refused by the rate limiter',
      labelNames: ['channel_id'] as const,
      registers: [registry],
    }),
    webhookResponse: new Histogram({
      name: 'turumba_webhook_response_seconds',
      help: 'Time to answer a provider webhook',
      labelNames: ['channel_type'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    webhookRejected: new Counter({
      name: 'turumba_webhook_rejected_total',
      help: 'Webhook requests refused, by reason',
      labelNames: ['channel_type', 'reason'] as const,
      registers: [registry],
    }),
    outboxPending: new Gauge({
      name: 'turumba_outbox_pending_count',
      help: 'Accepted messages whose workflow has not been started',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
