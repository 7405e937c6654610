import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics, one registry per server instance (served at GET /metrics). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    connections: new Gauge({
      name: 'parley_connections',
      help: 'Open WebSocket connections',
      registers: [registry],
    }),
    messagesIn: new Counter({
      name: 'parley_messages_in_total',
      help: 'Messages stored (new, not duplicates)',
      registers: [registry],
    }),
    messagesOut: new Counter({
      name: 'parley_messages_out_total',
      help: 'Message frames written to sockets (live and catch-up)',
      registers: [registry],
    }),
    duplicates: new Counter({
      name: 'parley_duplicate_sends_total',
      help: 'Sends answered with the original ack (client id seen before)',
      registers: [registry],
    }),
    storeWrite: new Histogram({
      name: 'parley_store_write_seconds',
      help: 'Duration of one group-commit store transaction, from hand-off to commit (waiting behind an earlier batch included)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    storeBusy: new Counter({
      name: 'parley_store_append_busy_seconds_total',
      help: 'Time during which at least one group-commit batch was with the store',
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'parley_store_batch_size',
      help: 'Messages per group-commit transaction',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers: [registry],
    }),
    pushEnqueued: new Counter({
      name: 'parley_push_enqueued_total',
      help: 'Push notifications queued (one per message and subscription), by kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    pushSent: new Counter({
      name: 'parley_push_sent_total',
      help: 'Push notifications accepted by the push service (2xx), by kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    pushFailed: new Counter({
      name: 'parley_push_failed_total',
      help: 'Push attempts that failed (an error answer or none), by kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    pushRetried: new Counter({
      name: 'parley_push_retried_total',
      help: 'Push notifications scheduled for another attempt (429, 5xx, network), by kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    pushDropped: new Counter({
      name: 'parley_push_dropped_total',
      help: 'Push notifications given up, by reason (gone, rejected, expired, max_attempts, no_provider, enqueue_failed)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    errors: new Counter({
      name: 'parley_errors_total',
      help: 'Errors answered to clients, by code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
