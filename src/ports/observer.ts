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
