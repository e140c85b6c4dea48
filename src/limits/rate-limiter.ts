/**
 * Fixed-window counters keyed by a string (user id, IP, username). Bounded: the table is
 * swept when it grows past `maxKeys`, so a flood of distinct keys cannot grow memory forever.
 */
import { AppError } from '../protocol/index.js';

export interface RateRule {
  limit: number;
  windowMs: number;
}

interface Window {
  start: number;
  count: number;
}

export class RateLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly rule: RateRule,
    private readonly maxKeys = 100_000,
  ) {}

  /** Counts `cost` hits (default 1) for `key`; throws RATE_LIMITED (with retryAfter seconds) past the limit. */
  hit(key: string, now = Date.now(), cost = 1): void {
    const retryAfter = this.take(key, now, cost);
    if (retryAfter > 0) throw new AppError('RATE_LIMITED', undefined, undefined, { retryAfter });
  }

  /**
   * Counts `cost` hits for `key` and answers 0 when within the limit, else the seconds until the
   * window ends. Throws nothing: the hot path of a flood refuses without building an error.
   */
  take(key: string, now = Date.now(), cost = 1): number {
    if (this.rule.limit <= 0) return 0;
    let window = this.windows.get(key);
    if (!window || now - window.start >= this.rule.windowMs) {
      if (!window && this.windows.size >= this.maxKeys) this.sweep(now);
      window = { start: now, count: 0 };
      this.windows.set(key, window);
    }
    window.count += cost;
    if (window.count <= this.rule.limit) return 0;
    return Math.max(1, Math.ceil((window.start + this.rule.windowMs - now) / 1000));
  }

  /** Seconds until `key` may go on when it is past its limit in the current window, else 0 (counts nothing). */
  exhaustedFor(key: string, now = Date.now()): number {
    if (this.rule.limit <= 0) return 0;
    const window = this.windows.get(key);
    if (window === undefined || now - window.start >= this.rule.windowMs || window.count < this.rule.limit) return 0;
    return Math.max(1, Math.ceil((window.start + this.rule.windowMs - now) / 1000));
  }

  /** Forgets `key` (e.g. a successful login clears its failures). */
  reset(key: string): void {
    this.windows.delete(key);
  }

  private sweep(now: number): void {
    for (const [key, window] of this.windows) if (now - window.start >= this.rule.windowMs) this.windows.delete(key);
    // Still full: everyone is active. Drop the oldest half rather than grow without bound.
    if (this.windows.size >= this.maxKeys) {
      let drop = Math.floor(this.windows.size / 2);
      for (const key of this.windows.keys()) {
        if (drop-- <= 0) break;
        this.windows.delete(key);
      }
    }
  }
}
