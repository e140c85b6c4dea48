import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { TokenService } from '../../src/logic/tokens.js';
import { AppError } from '../../src/protocol/index.js';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';

describe('TokenService verified-token cache', () => {
  it('answers TOKEN_EXPIRED for a token it verified before, once its expiry passes', async () => {
    const tokens = new TokenService(SECRET, 60);
    const { token } = await tokens.issue({ userId: '7', username: 'ann', isGuest: false, accountKey: 'k7' });
    const claims = await tokens.verify(token);
    assert.equal(claims.userId, '7');
    mock.timers.enable({ apis: ['Date'], now: claims.expiresAt });
    try {
      await assert.rejects(tokens.verify(token), (err: unknown) => err instanceof AppError && err.code === 'TOKEN_EXPIRED');
    } finally {
      mock.timers.reset();
    }
  });

  it('never accepts a token that differs from a verified one, even by its signature', async () => {
    const tokens = new TokenService(SECRET, 60);
    const { token } = await tokens.issue({ userId: '7', username: 'ann', isGuest: false, accountKey: 'k7' });
    await tokens.verify(token);
    const forged = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
    await assert.rejects(tokens.verify(forged), (err: unknown) => err instanceof AppError && err.code === 'UNAUTHORIZED');
    const other = new TokenService(`${SECRET}-other`, 60);
    await assert.rejects(other.verify(token), (err: unknown) => err instanceof AppError && err.code === 'UNAUTHORIZED');
  });
});
