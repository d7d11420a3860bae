import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { RollingFailureRate, type SendAttemptOutcome } from './failure-rate';

/**
 * The metric set of one process (API or worker), on its own registry. Both processes
 * create all of it; each sets what it observes (README "Metrics" says which process
 * exports what). Names and labels of the first block are the contract (DESIGN.md).
 */
export function createMetrics(opts: { defaults?: boolean; now?: () => number } = {}) {
  const registry = new Registry();
  if (opts.defaults !== false) collectDefaultMetrics({ register: registry });
  const failureWindow = new RollingFailureRate(undefined, opts.now);
  const sendAttempts = new Counter({
    name: 'turumba_send_attempts_total',
    help: 'Provider send calls, by channel type and outcome (ok, permanent, transient, rate_limited, error)',
    labelNames: ['channel_type', 'outcome'] as const,
    registers: [registry],
  });
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
    queueDepth: new Gauge({
      name: 'turumba_dispatch_queue_depth',
      help: 'Approximate backlog of the Temporal activity task queue send-<channel_type>, read from the server',
      labelNames: ['channel_type'] as const,
      registers: [registry],
    }),
    failureRate: new Gauge({
      name: 'turumba_dispatch_failure_rate',
      help: 'Failed provider calls / provider calls over the last 5 minutes in this worker (429s are not failures)',
      labelNames: ['channel_type'] as const,
      registers: [registry],
      collect() {
        for (const channelType of failureWindow.keys()) this.set({ channel_type: channelType }, failureWindow.rate(channelType));
      },
    }),
    rateLimitHits: new Counter({
      name: 'turumba_rate_limit_hits_total',
      help: 'Sends that had to wait for a rate: shared limiter refusals, send gate saturation, provider 429s',
      labelNames: ['channel_id'] as const,
      registers: [registry],
    }),
    groupFanoutDuration: new Histogram({
      name: 'turumba_group_message_fanout_duration_seconds',
      help: 'Time from a group message start to its last message workflow started',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600],
      registers: [registry],
    }),
    outboxPending: new Gauge({
      name: 'turumba_outbox_pending_count',
      help: 'Accepted messages whose workflow has not been started',
      registers: [registry],
    }),
    webhookResponse: new Histogram({
      name: 'turumba_webhook_response_seconds',
      help: 'Time to answer a provider webhook',
      labelNames: ['channel_type'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),

    // Beyond the contract: what the alerts and dashboards also need.
    sendAttempts,
    /** One provider call made by the send activity: counted, and fed to the rolling failure rate. */
    recordSendAttempt(channelType: string, outcome: SendAttemptOutcome): void {
      sendAttempts.inc({ channel_type: channelType, outcome });
      failureWindow.record(channelType, outcome);
    },
    webhookRejected: new Counter({
      name: 'turumba_webhook_rejected_total',
      help: 'Webhook requests refused, by reason',
      labelNames: ['channel_type', 'reason'] as const,
      registers: [registry],
    }),
    partitionsAhead: new Gauge({
      name: 'turumba_partitions_ahead_months',
      help: 'Whole months after the current one covered by partitions of the table (-1: not even the current month)',
      // Labelled so that a process that never measured it (the API) exports no series, rather than a 0 that would page.
      labelNames: ['table'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
