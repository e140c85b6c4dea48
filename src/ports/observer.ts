/**
 * How every port (storage, bus, fan-out queue, RPC server) reports the operations it performs.
 * Ports take one of these in their options instead of importing a metrics library or being
 * wrapped in a Proxy: the composition root (`src/app/`) turns the reports into metrics.
 */
export type OperationObserver = (
  /** What finished: a method name of the port ("appendMessages", "publish"…). */
  operation: string,
  /** How long it took. */
  seconds: number,
  /** "ok", or the failure: an AppError code, or "error" for anything else. */
  outcome: string,
) => void;

/** The observer of a port nobody watches (tests, tools). */
export const unobserved: OperationObserver = () => {};
