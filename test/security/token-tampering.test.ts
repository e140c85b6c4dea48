/** Forged, altered, expired and revoked tokens are refused on HTTP and at the WebSocket upgrade. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthResult } from '../../src/protocol/index.js';
import { CLOSE_CODES } from '../../src/protocol/index.js';
import { Api, WsClient } from '../helpers/client.js';
import { startTarget, type Target } from './target.js';
import { expiredToken, signToken, tamperedToken, unsignedToken, OTHER_SECRET, TEST_JWT_SECRET } from './forge.js';
import { tryUpgrade } from './wire.js';

describe('token tampering', () => {
  let target: Target;
  let api: Api;
  let victim: AuthResult;
  let attacker: AuthResult;

  before(async () => {
    target = await startTarget({ env: { GOCHAT_JWT_SECRET: TEST_JWT_SECRET } });
    api = new Api(target.baseUrl);
    victim = await api.user('victim');
    attacker = await api.user('attacker');
  });
  after(async () => {
    await target?.stop();
  });

  /** The token is refused with `code` by an HTTP call and by the upgrade. */
  async function refused(token: string, code: string): Promise<void> {
    const res = await api.get('/api/users/info', token);
    assert.equal(res.status, 401);
    assert.equal(res.body.code, code);
    const upgrade = await tryUpgrade(target.wsUrl, token);
    assert.equal(upgrade.status, 401);
    assert.equal(upgrade.body?.code, code);
  }

  it('the genuine token works (control)', async () => {
    const res = await api.get<{ userId: string }>('/api/users/info', victim.token);
    assert.equal(res.body.data.userId, victim.user.userId);
    assert.equal((await tryUpgrade(target.wsUrl, victim.token)).status, 101);
  });

  it('a token signed with another secret is refused', async () => {
    await refused(await signToken(victim.user, { secret: OTHER_SECRET }), 'UNAUTHORIZED');
  });

  it('an unsigned token with alg "none" is refused', async () => {
    await refused(unsignedToken(victim.user), 'UNAUTHORIZED');
  });

  it('a token signed with the right secret but another algorithm (HS512) is refused: the algorithm is pinned', async () => {
    await refused(await signToken(victim.user, { alg: 'HS512' }), 'UNAUTHORIZED');
  });

  it('a genuine token whose payload was edited to another user is refused', async () => {
    await refused(tamperedToken(attacker.token, { sub: victim.user.userId, name: victim.user.username }), 'UNAUTHORIZED');
  });

  it('a genuine token whose expiry was pushed back is refused', async () => {
    await refused(tamperedToken(attacker.token, { exp: Math.floor(Date.now() / 1000) + 10 * 365 * 24 * 3600 }), 'UNAUTHORIZED');
  });

  it('an expired token with a valid signature gets TOKEN_EXPIRED', async () => {
    await refused(await expiredToken(victim.user), 'TOKEN_EXPIRED');
  });

  it('a validly signed token without the claims GoChat issues is refused', async () => {
    const { SignJWT } = await import('jose');
    const bare = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    await refused(bare, 'UNAUTHORIZED');
  });

  it('garbage, truncated and oversized tokens are refused with UNAUTHORIZED, never a server error', async () => {
    const parts = victim.token.split('.');
    for (const token of ['x', 'a.b.c', '...', `${parts[0]}.${parts[1]}`, `${victim.token}x`, 'e'.repeat(6000), '%00', '\u00e9\u00e9']) {
      const res = await api.request('GET', '/api/users/info', { headers: { authorization: `Bearer ${encodeURIComponent(token)}` } });
      assert.equal(res.status, 401, token.slice(0, 20));
      assert.equal(res.body.code, 'UNAUTHORIZED');
      const upgrade = await tryUpgrade(target.wsUrl, token);
      assert.equal(upgrade.status, 401);
    }
  });

  it('logout revokes the token at once: the open socket is closed and the token refused', async () => {
    const session = await api.post<AuthResult>('/api/auth/login', { username: victim.user.username, password: 'correct horse' });
    const token = session.body.data.token;
    const ws = await WsClient.connect(target.wsUrl, token);
    assert.equal((await api.post('/api/auth/logout', undefined, token)).status, 200);
    const closed = await Promise.race([ws.closed, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('socket stayed open')), 5_000))]);
    assert.equal(closed.code, CLOSE_CODES.TOKEN_REVOKED);
    await refused(token, 'TOKEN_REVOKED');
  });
});

describe('token expiry with a short TTL', () => {
  it('a token expires on its own: HTTP answers TOKEN_EXPIRED and an open socket is closed', async () => {
    // 3 s: long enough for sign-up and the socket upgrade on a loaded machine (through the
    // distributed topology too), short enough to watch the token run out.
    await using target = await startTarget({ env: { GOCHAT_JWT_SECRET: TEST_JWT_SECRET, GOCHAT_TOKEN_TTL_SECONDS: '3', GOCHAT_WS_IDLE_TIMEOUT_MS: '4000' } });
    const api = new Api(target.baseUrl);
    const me = await api.user('shortlived');
    assert.equal(me.expiresIn, 3);
    const ws = await WsClient.connect(target.wsUrl, me.token);
    const closed = await Promise.race([ws.closed, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('socket outlived its token')), 15_000))]);
    assert.equal(closed.code, CLOSE_CODES.TOKEN_EXPIRED);
    const res = await api.get('/api/users/info', me.token);
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 'TOKEN_EXPIRED');
  });
});
