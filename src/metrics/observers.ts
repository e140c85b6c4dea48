/**
 * The observers the composition root hands to the ports: each turns the port's reports
 * (operation, seconds, outcome; or measurement, value) into the metrics of `metrics.ts`. They
 * run on the hot paths (every publish and delivery), so label children are looked up once and
 * kept: no object is built per report.
 */
import type { MeasurementObserver, OperationObserver } from '../ports/observer.js';
import type { Metrics } from './metrics.js';

/** A label child per (operation, outcome), made on first use. Both sets are small and fixed by the code. */
function children<C>(make: (operation: string, outcome: string) => C): (operation: string, outcome: string) => C {
  const byOperation = new Map<string, Map<string, C>>();
  return (operation, outcome) => {
    let byOutcome = byOperation.get(operation);
    if (!byOutcome) byOperation.set(operation, (byOutcome = new Map()));
    let child = byOutcome.get(outcome);
    if (!child) byOutcome.set(outcome, (child = make(operation, outcome)));
    return child;
  };
}

/** A bus: deliveries and what the reorder stage did are counted, calls are timed. */
export function observeBus(metrics: Metrics): OperationObserver {
  const timed = children((operation, outcome) => metrics.bus.labels(operation, outcome));
  return (operation, seconds, outcome) => {
    if (operation === 'deliver') {
      if (outcome === 'ok') metrics.messagesDelivered.inc();
      else if (outcome === 'duplicate') metrics.deliveryDuplicatesDropped.inc();
    } else if (operation === 'reorder') {
      if (outcome === 'gap-skipped') metrics.deliveryGapsSkipped.inc();
    } else {
      timed(operation, outcome).observe(seconds);
    }
  };
}

/** The fan-out queue: every call timed. */
export function observeFanoutQueue(metrics: Metrics): OperationObserver {
  const timed = children((operation, outcome) => metrics.fanoutQueue.labels(operation, outcome));
  return (operation, seconds, outcome) => timed(operation, outcome).observe(seconds);
}

/** The logic role's gRPC server: calls by method and result code ("OK" as before, else the code). */
export function observeRpcServer(metrics: Metrics): OperationObserver {
  const timed = children((method, outcome) => metrics.grpcServer.labels(method, outcome === 'ok' ? 'OK' : outcome));
  return (method, seconds, outcome) => timed(method, outcome).observe(seconds);
}

/** A gateway's gRPC client of logic: calls by method and the code they ended with ("OK" as before, else the code). */
export function observeRpcClient(metrics: Metrics): OperationObserver {
  const timed = children((method, outcome) => metrics.grpcClient.labels(method, outcome === 'ok' ? 'OK' : outcome));
  return (method, seconds, outcome) => timed(method, outcome).observe(seconds);
}

/** The fan-out worker: the lag of each entry it handled, and the gateway publishes its routings made. */
export function observeFanoutWorker(metrics: Metrics): MeasurementObserver {
  return (measurement, value) => {
    if (measurement === 'lag') metrics.fanoutLag.observe(value);
    else if (measurement === 'routed') metrics.fanoutPublishes.inc(value);
  };
}

/**
 * Sends, as the edge that accepted them reports them once answered (the WebSocket gateway; in
 * the logic role, the gRPC server's SendMessage calls): received, then acked or rejected by code.
 */
export function observeSends(metrics: Metrics): OperationObserver {
  const rejected = new Map<string, { inc(): void }>();
  return (_operation, _seconds, outcome) => {
    metrics.messagesReceived.inc();
    if (outcome === 'ok') return metrics.messagesAcked.inc();
    let counter = rejected.get(outcome);
    if (!counter) rejected.set(outcome, (counter = metrics.messagesRejected.labels(outcome)));
    counter.inc();
  };
}

/**
 * Storage: every Repo call timed by method name (`gochat_db_duration_seconds{operation}`), and the
 * failed ones counted by outcome (`gochat_db_failures_total`: a full disk shows as
 * SERVICE_UNAVAILABLE on appendMessages).
 */
export function observeRepo(metrics: Metrics): OperationObserver {
  const timed = children((operation) => metrics.db.labels(operation));
  const failures = children((operation, outcome) => metrics.dbFailures.labels(operation, outcome));
  return (operation, seconds, outcome) => {
    timed(operation, '').observe(seconds);
    if (outcome !== 'ok') failures(operation, outcome).inc();
  };
}
