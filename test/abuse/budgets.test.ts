/**
 * Budgets that outlive a connection and bound what one client can cost: frames per user and per
 * address (a reconnecting ping flood stays refused), sockets per address, messages and bytes per
 * sender (tighter for guests), groups per user, lookups of other users, and password hashing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import WebSocket from 'ws';
import type { AuthResult, Conversation, Message } from '../../src/protocol/index.js';
import { CLOSE_CODES } from '../../src/protocol/index.js';
import { Api, fullHistory, uniqueName, WsClient } from '../helpers/client.js';
import { startServer } from '../helpers/server.js';
import { tryUpgrade } from '../security/wire.js';

/** Opens a WebSocket from `localAddress` and resolves with its HTTP status (101 when accepted). */
async function upgradeFrom(wsUrl: string, token: string, localAddress: string): Promise<{ status: number; socket?: WebSocket }> {
  const socket = new WebSocket(`${wsUrl}?token=${encodeURIComponent(token)}`, { localAddress });
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ status: 101, socket }));
    socket.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0 }));
    socket.once('error', reject);
  });
}

/** `promise`, or a clear failure after `timeoutMs`. */
function within<T>(promise: Promise<T>, timeoutMs: number, failure: string): Promise<T> {
  let timer!: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(failure)), timeoutMs)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('budgets', () => {
  it('closes a ping flood spread over sockets and refuses its reconnects, while others carry on', async () => {
    await using server = await startServer({ env: { GOCHAT_RATE_WS_FRAMES_PER_USER: '40', GOCHAT_RATE_WS_FRAMES_PER_USER_WINDOW_MS: '60000' } });
    const api = new Api(server.baseUrl);
    const flooder = (await api.post<AuthResult>('/api/auth/guest', {})).body.data;
    const bystander = await api.user('bystander');
    const sockets = await Promise.all([1, 2, 3].map(() => WsClient.connect(server.wsUrl, flooder.token)));
    // 90 pings, 30 a socket: no socket alone passes the user's 40, together they do.
    for (let i = 0; i < 30; i++) for (const s of sockets) s.send({ type: 'ping' });
    // The server may read one socket's pings all before the next's, so a socket can get through the
    // flood inside the budget. Once the first is cut off the budget is spent: one more frame on
    // each socket still open is past it.
    await within(Promise.race(sockets.map((s) => s.closed)), 10_000, 'no socket was cut off');
    for (const s of sockets) if (s.socket.readyState === s.socket.OPEN) s.send({ type: 'ping' });
    const closes = await within(Promise.all(sockets.map((s) => s.closed)), 10_000, 'a socket past the budget stayed open');
    assert.deepEqual(closes.map((c) => c.code), [CLOSE_CODES.RATE_LIMITED, CLOSE_CODES.RATE_LIMITED, CLOSE_CODES.RATE_LIMITED]);
    const again = await tryUpgrade(server.wsUrl, flooder.token);
    assert.deepEqual([again.status, again.body?.code], [429, 'RATE_LIMITED']);
    // The rest of the user's 60 s window, not a fixed guess.
    assert.ok(Number(again.headers['retry-after']) > 30, `Retry-After ${String(again.headers['retry-after'])}`);
    const other = await WsClient.connect(server.wsUrl, bystander.token);
    other.send({ type: 'ping' });
    await other.nextOfType('pong');
    other.close();
  });

  it('caps the sockets one address holds and serves other addresses', async () => {
    await using server = await startServer({ env: { GOCHAT_MAX_SOCKETS_PER_IP: '2' } });
    const api = new Api(server.baseUrl);
    const users = await Promise.all([1, 2, 3].map(() => api.user('hoarder')));
    const held = [await upgradeFrom(server.wsUrl, users[0]!.token, '127.0.0.1'), await upgradeFrom(server.wsUrl, users[1]!.token, '127.0.0.1')];
    assert.deepEqual(held.map((h) => h.status), [101, 101]);
    assert.equal((await upgradeFrom(server.wsUrl, users[2]!.token, '127.0.0.1')).status, 429);
    const elsewhere = await upgradeFrom(server.wsUrl, users[2]!.token, '127.0.0.3');
    assert.equal(elsewhere.status, 101);
    for (const h of [...held, elsewhere]) {
      h.socket!.close();
      await once(h.socket!, 'close');
    }
  });

  it('bounds the bytes a guest stores, refusing the send that passes the budget and storing nothing of it', async () => {
    await using server = await startServer({ env: { GOCHAT_RATE_SEND_BYTES_PER_GUEST: '9000' } });
    const api = new Api(server.baseUrl);
    const guest = (await api.post<AuthResult>('/api/auth/guest', {})).body.data;
    const world = (await api.get<Conversation[]>('/api/conversations', guest.token)).body.data.find((c) => c.type === 'world')!;
    const socket = await WsClient.connect(server.wsUrl, guest.token);
    const big = 'x'.repeat(4000);
    const answers: Array<{ type: string; data?: unknown }> = [];
    for (const temp of ['b1', 'b2', 'b3']) {
      socket.sendMessage(world.conversationId, big, temp);
      answers.push(await socket.next((f) => (f as { data?: { tempMessageId?: string } }).data?.tempMessageId === temp));
    }
    assert.deepEqual(answers.map((f) => f.type), ['message-ack', 'message-ack', 'error']);
    assert.equal((answers[2]!.data as { code: string }).code, 'RATE_LIMITED');
    const stored = await fullHistory(api, world.conversationId, guest.token);
    assert.equal(stored.filter((m: Message) => m.senderId === guest.user.userId).length, 2);
    socket.close();
  });

  it('gives guests a tighter message budget than registered users', async () => {
    await using server = await startServer({ env: { GOCHAT_RATE_SEND_PER_GUEST: '2', GOCHAT_RATE_SEND_PER_USER: '10' } });
    const api = new Api(server.baseUrl);
    const guest = (await api.post<AuthResult>('/api/auth/guest', {})).body.data;
    const user = await api.user('member');
    const world = (await api.get<Conversation[]>('/api/conversations', guest.token)).body.data.find((c) => c.type === 'world')!;
    const send = async (who: AuthResult, count: number) => {
      const socket = await WsClient.connect(server.wsUrl, who.token);
      const types = [];
      for (let i = 0; i < count; i++) {
        const temp = uniqueName('t');
        socket.sendMessage(world.conversationId, `hello ${i}`, temp);
        types.push((await socket.next((f) => (f as { data?: { tempMessageId?: string } }).data?.tempMessageId === temp)).type);
      }
      socket.close();
      return types;
    };
    assert.deepEqual(await send(guest, 3), ['message-ack', 'message-ack', 'error']);
    assert.deepEqual(await send(user, 3), ['message-ack', 'message-ack', 'message-ack']);
  });

  it('limits how many groups one user creates', async () => {
    await using server = await startServer({ env: { GOCHAT_RATE_GROUPS_PER_USER: '2' } });
    const api = new Api(server.baseUrl);
    const spammer = await api.user('spammer');
    const victim = await api.user('victim');
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await api.post('/api/groups', { groupName: `spam ${i}`, members: [victim.user.userId] }, spammer.token)).status);
    assert.deepEqual(statuses, [201, 201, 429]);
    const list = (await api.get<Conversation[]>('/api/conversations', victim.token)).body.data;
    assert.equal(list.filter((c) => c.type === 'group').length, 2);
  });

  it('limits lookups of other users, known or not, so ids cannot be walked', async () => {
    await using server = await startServer({ env: { GOCHAT_RATE_LOOKUPS_PER_GUEST: '3' } });
    const api = new Api(server.baseUrl);
    const known = [await api.user('known'), await api.user('known')];
    const walker = (await api.post<AuthResult>('/api/auth/guest', {})).body.data;
    const statuses = [];
    for (const id of [known[0]!.user.userId, known[1]!.user.userId, '999999']) statuses.push((await api.post('/api/conversations', { targetUserId: id }, walker.token)).status);
    assert.deepEqual(statuses.map((s) => s === 429), [false, false, false]);
    const walked = await api.post('/api/conversations', { targetUserId: '4444' }, walker.token);
    assert.deepEqual([walked.status, walked.body.code], [429, 'RATE_LIMITED']);
    const byName = await api.get('/api/users/by-username/someone', walker.token);
    assert.equal(byName.status, 429);
  });

  it('refuses registrations past the password-hashing queue with 503 and stores none of them', async () => {
    await using server = await startServer({
      env: { GOCHAT_SCRYPT_COST: '65536', GOCHAT_KDF_REGISTER_CONCURRENCY: '1', GOCHAT_KDF_REGISTER_QUEUE: '0' },
    });
    const api = new Api(server.baseUrl);
    const names = [1, 2, 3, 4, 5].map(() => uniqueName('burst'));
    const results = await Promise.all(names.map((username) => api.post('/api/auth/register', { username, password: 'correct horse' })));
    const refused = results.filter((r) => r.status === 503);
    assert.ok(refused.length >= 1, `statuses ${results.map((r) => r.status).join(',')}`);
    for (const r of refused) {
      assert.equal(r.body.code, 'SERVICE_UNAVAILABLE');
      assert.ok(Number(r.headers.get('retry-after')) > 0);
    }
    for (const [i, r] of results.entries()) {
      if (r.status !== 503) continue;
      assert.equal((await api.post('/api/auth/register', { username: names[i], password: 'correct horse' })).status, 201, 'the refused name is still free');
    }
  });
});
