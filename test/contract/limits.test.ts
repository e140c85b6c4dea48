import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SignJWT } from 'jose';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, uniqueName, WsClient } from '../helpers/client.js';

let server: TestServer;
let api: Api;

before(async () => {
  server = await startServer({
    env: {
      GOCHAT_LOG_LEVEL: 'debug',
      GOCHAT_RATE_LOGIN_PER_USERNAME: '3',
      GOCHAT_RATE_LOGIN_PER_USERNAME_WINDOW_MS: '60000',
    },
  });
  api = new Api(server.baseUrl);
});
after(async () => server.stop());

/** A token signed with the server's own secret (kept in the data dir) but already expired. */
async function expiredToken(userId: string, username: string): Promise<string> {
  const secret = fs.readFileSync(path.join(server.dataDir, 'jwt-secret'), 'utf8').trim();
  const past = Math.floor(Date.now() / 1000) - 3600;
  return new SignJWT({ name: username, guest: false })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setJti(`expired-${Date.now()}`)
    .setIssuedAt(past - 60)
    .setExpirationTime(past)
    .sign(new TextEncoder().encode(secret));
}

describe('token expiry', () => {
  it('refuses an expired token with 401 TOKEN_EXPIRED over HTTP', async () => {
    const alice = await api.user('expired');
    const res = await api.get('/api/users/info', await expiredToken(alice.user.userId, alice.user.username));
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 'TOKEN_EXPIRED');
  });

  it('refuses an expired token at the WebSocket upgrade with 401', async () => {
    const alice = await api.user('expiredws');
    const token = await expiredToken(alice.user.userId, alice.user.username);
    await assert.rejects(WsClient.connect(server.wsUrl, token), (err: { status?: number }) => err.status === 401);
  });
});

describe('login attempts per username', () => {
  it('are limited with 429 RATE_LIMITED and Retry-After', async () => {
    const username = uniqueName('brute');
    await api.post('/api/auth/register', { username, password: 'right-password' });
    for (let i = 0; i < 3; i++) assert.equal((await api.post('/api/auth/login', { username, password: `wrong-${i}` })).status, 401);
    const limited = await api.post('/api/auth/login', { username, password: 'right-password' });
    assert.equal(limited.status, 429);
    assert.equal(limited.body.code, 'RATE_LIMITED');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  });

  it('do not limit other usernames', async () => {
    const alice = await api.user('notlimited');
    assert.ok(alice.token);
  });
});

describe('logs', () => {
  it('never contain passwords or tokens, even at debug level', async () => {
    const username = uniqueName('logged');
    const password = 'very-secret-password-123';
    await api.post('/api/auth/register', { username, password });
    const login = await api.post<{ token: string }>('/api/auth/login', { username, password });
    const token = login.body.data.token;
    await api.get('/api/users/info', token);
    const ws = await WsClient.connect(server.wsUrl, token);
    ws.send('{broken');
    await ws.nextOfType('error');
    ws.close();
    await api.post('/api/auth/logout', undefined, token);
    await api.get('/api/users/info', token);
    const output = server.output();
    assert.ok(output.length > 0);
    assert.ok(!output.includes(password), 'no password in logs');
    assert.ok(!output.includes(token), 'no token in logs');
    assert.ok(!output.includes(token.split('.')[2]!), 'no token signature in logs');
  });
});
