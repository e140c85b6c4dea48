/**
 * How every port (storage, bus, fan-out queue, RPC server and client) and the edge that accepts
 * sends report the operations they perform. They take one of these in their options instead of
 * importing a metrics library or being wrapped in a Proxy: the composition root (`src/app/`)
 * hands them the observers of `src/metrics/observers.ts`, which turn the reports into metrics.
 * An observer is called on hot paths (each publish, each delivery): it must not throw or block.
 */
export type OperationObserver = (
  /** What finished: a method name of the port ("appendMessages", "publish"…), or an event ("deliver"). */
  operation: string,
  /** How long it took; 0 for an event that takes no time of its own (a delivery dropped as a repeat). */
  seconds: number,
  /** "ok", or the failure: an AppError code, or "error" for anything else; an event names what happened ("duplicate"). */
  outcome: string,
) => void;

/** The observer of a port nobody watches (tests, tools). */
export const unobserved: OperationObserver = () => {};

/**
 * How a component reports a figure that is not an operation with a duration and an outcome: how
 * long a queued entry waited before it was handled, how many publishes one routing made. Handed
 * over like an `OperationObserver`, and under the same rules: it must not throw or block.
 */
export type MeasurementObserver = (
  /** What was measured, named by the component that measures it ("lag", "routed"…). */
  measurement: string,
  /** The figure, in the measurement's own unit: seconds for a wait, a count for a tally. */
  value: number,
) => void;

/** The measurement observer of a component nobody watches. */
export const unmeasured: MeasurementObserver = () => {};
