/** Reconnect delays: exponential growth, capped, with jitter so that a server restart is not met by a stampede. */

export interface BackoffOptions {
  /** First delay, before jitter. Default 500 ms. */
  minDelayMs?: number;
  /** Cap on the delay, before jitter. Default 20 s. */
  maxDelayMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
}

/**
 * The delay before reconnect attempt `attempt` (0-based): `min(max, min * factor^attempt)`,
 * then "equal jitter" — a random point in its upper half — so delays still grow but spread out.
 *
 * @example
 * ```ts
 * backoffDelay(0, { minDelayMs: 500, random: () => 0 }); // 250
 * backoffDelay(10, { maxDelayMs: 20_000, random: () => 0.999 }); // just under 20000
 * ```
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const min = options.minDelayMs ?? 500;
  const max = Math.max(min, options.maxDelayMs ?? 20_000);
  const factor = options.factor ?? 2;
  const random = options.random ?? Math.random;
  const cap = Math.min(max, min * Math.pow(factor, Math.max(0, attempt)));
  return Math.round(cap / 2 + random() * (cap / 2));
}

/**
 * Counts attempts and hands out growing delays; `reset()` after a connection succeeds.
 *
 * @example
 * ```ts
 * const backoff = new Backoff({ minDelayMs: 100 });
 * setTimeout(reconnect, backoff.next());
 * // …once connected:
 * backoff.reset();
 * ```
 */
export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions = {}) {}

  /** Attempts made since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  next(): number {
    return backoffDelay(this.attempt++, this.options);
  }

  reset(): void {
    this.attempt = 0;
  }
}
