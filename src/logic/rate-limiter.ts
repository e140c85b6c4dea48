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
    if (this.rule.limit <= 0) return;
    let window = this.windows.get(key);
    if (!window || now - window.start >= this.rule.windowMs) {
      if (!window && this.windows.size >= this.maxKeys) this.sweep(now);
      window = { start: now, count: 0 };
      this.windows.set(key, window);
    }
    window.count += cost;
    if (window.count > this.rule.limit) {
      const retryAfter = Math.max(1, Math.ceil((window.start + this.rule.windowMs - now) / 1000));
      throw new AppError('RATE_LIMITED', undefined, undefined, { retryAfter });
    }
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
