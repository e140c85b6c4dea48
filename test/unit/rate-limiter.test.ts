import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from '../../src/limits/rate-limiter.js';
import { AppError } from '../../src/protocol/index.js';

describe('RateLimiter', () => {
  it('allows `limit` hits per window, then throws RATE_LIMITED with the seconds left', () => {
    const limiter = new RateLimiter({ limit: 2, windowMs: 10_000 });
    limiter.hit('k', 0);
    limiter.hit('k', 1);
    assert.throws(
      () => limiter.hit('k', 2_500),
      (err: unknown) => err instanceof AppError && err.code === 'RATE_LIMITED' && err.retryAfter === 8,
    );
  });

  it('opens again in the next window, and keys are independent', () => {
    const limiter = new RateLimiter({ limit: 1, windowMs: 1_000 });
    limiter.hit('a', 0);
    limiter.hit('b', 0);
    assert.throws(() => limiter.hit('a', 999));
    limiter.hit('a', 1_000);
  });

  it('forgets a key on reset', () => {
    const limiter = new RateLimiter({ limit: 1, windowMs: 1_000 });
    limiter.hit('a', 0);
    limiter.reset('a');
    limiter.hit('a', 1);
  });

  it('stays bounded under a flood of distinct keys', () => {
    const limiter = new RateLimiter({ limit: 5, windowMs: 60_000 }, 1_000);
    for (let i = 0; i < 50_000; i++) limiter.hit(`ip-${i}`, i);
    assert.ok((limiter as unknown as { windows: Map<string, unknown> }).windows.size <= 1_000);
  });
});
