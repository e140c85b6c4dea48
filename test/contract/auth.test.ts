import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, uniqueName, WsClient } from '../helpers/client.js';
import type { AuthResult, User } from '../../src/protocol/index.js';

let server: TestServer;
let api: Api;

before(async () => {
  server = await startServer();
  api = new Api(server.baseUrl);
});
after(async () => server.stop());

function assertUser(user: User, username: string, isGuest = false) {
  assert.deepEqual(Object.keys(user).sort(), ['avatar', 'createdAt', 'isGuest', 'userId', 'username']);
  assert.equal(typeof user.userId, 'string');
  assert.equal(user.username, username);
  assert.equal(user.isGuest, isGuest);
  assert.equal(user.avatar, '');
  assert.match(user.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
}

describe('POST /api/auth/register', () => {
  it('creates a user and answers 201 with the User, never a password hash', async () => {
    const username = uniqueName('reg');
    const res = await api.post<User>('/api/auth/register', { username, password: 'secret-pass' });
    assert.equal(res.status, 201);
    assert.equal(res.body.success, true);
    assertUser(res.body.data, username);
    assert.doesNotMatch(JSON.stringify(res.body), /secret-pass|scrypt/);
  });

  it('accepts letters of any script, digits, underscore, dash and dot', async () => {
    const username = `Zoë_王.${Date.now() % 100000}-x`;
    const res = await api.post<User>('/api/auth/register', { username, password: 'secret-pass' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.data.username, username);
  });

  it('refuses a username taken case-insensitively with 409 USERNAME_TAKEN', async () => {
    const username = uniqueName('Case');
    assert.equal((await api.post('/api/auth/register', { username, password: 'secret-pass' })).status, 201);
    const again = await api.post('/api/auth/register', { username: username.toUpperCase(), password: 'secret-pass' });
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'USERNAME_TAKEN');
  });

  for (const [label, body, field] of [
    ['a one-character username', { username: 'a', password: 'secret-pass' }, 'username'],
    ['a 33-character username', { username: 'a'.repeat(33), password: 'secret-pass' }, 'username'],
    ['a username with a space', { username: 'bad name', password: 'secret-pass' }, 'username'],
    ['a username with a slash', { username: '../etc', password: 'secret-pass' }, 'username'],
    ['a 7-character password', { username: 'someone', password: '1234567' }, 'password'],
    ['a 129-character password', { username: 'someone', password: 'p'.repeat(129) }, 'password'],
    ['a missing password', { username: 'someone' }, 'password'],
    ['a numeric username', { username: 12345, password: 'secret-pass' }, 'username'],
    ['an unknown field', { username: 'someone', password: 'secret-pass', admin: true }, 'admin'],
  ] as const) {
    it(`refuses ${label} with 400 VALIDATION_ERROR naming the field`, async () => {
      const res = await api.post('/api/auth/register', body);
      assert.equal(res.status, 400);
      assert.equal(res.body.success, false);
      assert.equal(res.body.code, 'VALIDATION_ERROR');
      assert.match(res.body.message, new RegExp(field));
    });
  }
});

describe('POST /api/auth/login', () => {
  it('returns a token, its lifetime in seconds and the user', async () => {
    const username = uniqueName('login');
    await api.post('/api/auth/register', { username, password: 'secret-pass' });
    const res = await api.post<AuthResult>('/api/auth/login', { username, password: 'secret-pass' });
    assert.equal(res.status, 200);
    assert.equal(typeof res.body.data.token, 'string');
    assert.ok(res.body.data.expiresIn > 0);
    assertUser(res.body.data.user, username);
  });

  it('logs in with the username in another case', async () => {
    const username = uniqueName('Mixed');
    await api.post('/api/auth/register', { username, password: 'secret-pass' });
    const res = await api.post<AuthResult>('/api/auth/login', { username: username.toLowerCase(), password: 'secret-pass' });
    assert.equal(res.status, 200);
    assert.equal(res.body.data.user.username, username);
  });

  it('answers a wrong password and an unknown user the same: 401 INVALID_CREDENTIALS', async () => {
    const username = uniqueName('wrong');
    await api.post('/api/auth/register', { username, password: 'secret-pass' });
    const wrong = await api.post('/api/auth/login', { username, password: 'not-the-pass' });
    const unknown = await api.post('/api/auth/login', { username: uniqueName('nobody'), password: 'secret-pass' });
    for (const res of [wrong, unknown]) {
      assert.equal(res.status, 401);
      assert.equal(res.body.code, 'INVALID_CREDENTIALS');
    }
    assert.equal(wrong.body.message, unknown.body.message);
  });
});

describe('POST /api/auth/guest', () => {
  it('enters as a guest with a generated name when none is given', async () => {
    const res = await api.post<AuthResult>('/api/auth/guest');
    assert.equal(res.status, 200);
    assert.equal(res.body.data.user.isGuest, true);
    assert.ok(res.body.data.user.username.length >= 2);
    const me = await api.get<User>('/api/users/info', res.body.data.token);
    assert.equal(me.body.data.userId, res.body.data.user.userId);
  });

  it('uses the wished-for guest name', async () => {
    const guestName = uniqueName('visitor');
    const res = await api.post<AuthResult>('/api/auth/guest', { guestName });
    assert.equal(res.body.data.user.username, guestName);
  });

  it('never collides with an existing username', async () => {
    const member = await api.user('taken');
    const res = await api.post<AuthResult>('/api/auth/guest', { guestName: member.user.username });
    assert.equal(res.status, 200);
    assert.notEqual(res.body.data.user.username.toLowerCase(), member.user.username.toLowerCase());
    assert.notEqual(res.body.data.user.userId, member.user.userId);
  });

  it('refuses an invalid guest name with VALIDATION_ERROR', async () => {
    const res = await api.post('/api/auth/guest', { guestName: '<script>' });
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'VALIDATION_ERROR');
  });
});

describe('GET /api/users/info', () => {
  it('returns the authenticated user', async () => {
    const alice = await api.user('info');
    const res = await api.get<User>('/api/users/info', alice.token);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.data, alice.user);
  });

  it('refuses a missing token with 401 UNAUTHORIZED', async () => {
    const res = await api.get('/api/users/info');
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 'UNAUTHORIZED');
  });

  it('refuses a malformed token with 401 UNAUTHORIZED', async () => {
    const res = await api.get('/api/users/info', 'not.a.jwt');
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 'UNAUTHORIZED');
  });

  it('refuses a token whose signature was tampered with', async () => {
    const alice = await api.user('tamper');
    const [h, p, s] = alice.token.split('.');
    const flipped = `${h}.${p}.${s!.startsWith('A') ? 'B' : 'A'}${s!.slice(1)}`;
    const res = await api.get('/api/users/info', flipped);
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 'UNAUTHORIZED');
  });
});

describe('POST /api/auth/logout', () => {
  it('revokes the token at once for HTTP: 401 TOKEN_REVOKED afterwards', async () => {
    const alice = await api.user('logout');
    const res = await api.post('/api/auth/logout', undefined, alice.token);
    assert.equal(res.status, 200);
    assert.equal(res.body.data, null);
    const after = await api.get('/api/users/info', alice.token);
    assert.equal(after.status, 401);
    assert.equal(after.body.code, 'TOKEN_REVOKED');
  });

  it('leaves the user’s other tokens working', async () => {
    const alice = await api.user('twotokens');
    const second = await api.post<AuthResult>('/api/auth/login', { username: alice.user.username, password: 'correct horse' });
    await api.post('/api/auth/logout', undefined, alice.token);
    assert.equal((await api.get('/api/users/info', second.body.data.token)).status, 200);
  });

  it('closes the sockets opened with that token (terminal close code 4501) and no others', async () => {
    const alice = await api.user('wslogout');
    const other = await api.post<AuthResult>('/api/auth/login', { username: alice.user.username, password: 'correct horse' });
    const revoked = await WsClient.connect(server.wsUrl, alice.token);
    const kept = await WsClient.connect(server.wsUrl, other.body.data.token);
    await api.post('/api/auth/logout', undefined, alice.token);
    const closed = await revoked.closed;
    assert.equal(closed.code, 4501);
    kept.send({ type: 'ping' });
    await kept.nextOfType('pong');
    kept.close();
  });

  it('refuses a WebSocket upgrade with a revoked token with 401', async () => {
    const alice = await api.user('wsrevoked');
    await api.post('/api/auth/logout', undefined, alice.token);
    await assert.rejects(WsClient.connect(server.wsUrl, alice.token), (err: { status?: number }) => err.status === 401);
  });
});
