/**
 * Prometheus metrics of one GoChat process (prom-client, its own registry). Every role serves
 * them at GET /metrics: gateways on their HTTP port, logic and task on a small listener.
 * Labels stay low-cardinality: method names, error codes and storage operations, never ids.
 * The ports report into these through the observers of `observers.ts`.
 */
import client from 'prom-client';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class Metrics {
  readonly registry = new client.Registry();
  readonly messagesReceived: client.Counter;
  readonly messagesAcked: client.Counter;
  readonly messagesRejected: client.Counter<'code'>;
  readonly messagesDelivered: client.Counter;
  readonly fanoutLag: client.Histogram;
  readonly fanoutPublishes: client.Counter;
  readonly grpcServer: client.Histogram<'method' | 'code'>;
  readonly grpcClient: client.Histogram<'method' | 'code'>;
  readonly db: client.Histogram<'operation'>;
  readonly dbFailures: client.Counter<'operation' | 'outcome'>;
  readonly bus: client.Histogram<'operation' | 'outcome'>;
  readonly deliveryDuplicatesDropped: client.Counter;
  readonly deliveryGapsSkipped: client.Counter;
  readonly fanoutQueue: client.Histogram<'operation' | 'outcome'>;
  private connectionSource: () => number = () => 0;

  constructor(role: string, instanceId: string) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ role, instance_id: instanceId });
    client.collectDefaultMetrics({ register: this.registry, prefix: 'gochat_process_' });
    const source = () => this.connectionSource();
    new client.Gauge({
      name: 'gochat_ws_connections',
      help: 'Open WebSocket connections on this gateway.',
      registers,
      collect() {
        this.set(source());
      },
    });
    this.deliveryDuplicatesDropped = new client.Counter({
      name: 'gochat_delivery_duplicates_dropped_total',
      help: 'Deliveries a gateway dropped because that seqId was already delivered (fan-out retries, stragglers).',
      registers,
    });
    this.deliveryGapsSkipped = new client.Counter({
      name: 'gochat_delivery_gaps_skipped_total',
      help: 'Times a gateway stopped waiting for a missing seqId and delivered past it (clients catch up with afterSeq).',
      registers,
    });
    this.messagesReceived = new client.Counter({ name: 'gochat_messages_received_total', help: 'send-message requests that reached logic.', registers });
    this.messagesAcked = new client.Counter({ name: 'gochat_messages_acked_total', help: 'Messages durably stored and acked.', registers });
    this.messagesRejected = new client.Counter({
      name: 'gochat_messages_rejected_total',
      help: 'send-message requests answered with an error, by code.',
      labelNames: ['code'],
      registers,
    });
    this.messagesDelivered = new client.Counter({
      name: 'gochat_messages_delivered_total',
      help: 'Message deliveries this gateway handed to its connections (one per message per gateway).',
      registers,
    });
    this.fanoutLag = new client.Histogram({
      name: 'gochat_fanout_lag_seconds',
      help: 'Time from queueing a large-conversation delivery to routing it to gateways.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.fanoutPublishes = new client.Counter({
      name: 'gochat_fanout_gateway_publishes_total',
      help: 'Gateway channel publishes made by fan-out workers.',
      registers,
    });
    this.grpcServer = new client.Histogram({
      name: 'gochat_grpc_server_duration_seconds',
      help: 'Logic gRPC calls served, by method and result code.',
      labelNames: ['method', 'code'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.grpcClient = new client.Histogram({
      name: 'gochat_grpc_client_duration_seconds',
      help: 'Logic gRPC calls made by this gateway, by method and result code (including failover).',
      labelNames: ['method', 'code'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.db = new client.Histogram({
      name: 'gochat_db_duration_seconds',
      help: 'Storage calls, by operation.',
      labelNames: ['operation'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.dbFailures = new client.Counter({
      name: 'gochat_db_failures_total',
      help: 'Storage calls that failed, by operation and outcome (an error code, or "error").',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.bus = new client.Histogram({
      name: 'gochat_bus_duration_seconds',
      help: 'Bus calls (publish, route), by operation and outcome.',
      labelNames: ['operation', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.fanoutQueue = new client.Histogram({
      name: 'gochat_fanout_queue_duration_seconds',
      help: 'Fan-out queue calls (enqueue, read, claimStale, ack, pending), by operation and outcome; a read includes its blocking wait.',
      labelNames: ['operation', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
  }

  /** The gateway reports its connection count through this (read at scrape time). */
  countConnectionsWith(source: () => number): void {
    this.connectionSource = source;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
