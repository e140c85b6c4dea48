import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../helpers/server.js';
import { Api, fullHistory, WsClient } from '../helpers/client.js';
import type { AuthResult, Conversation, MessageAck } from '../../src/protocol/index.js';

type AckFrame = { type: 'message-ack'; data: MessageAck };

async function setup(api: Api): Promise<{ alice: AuthResult; bob: AuthResult; conversationId: string }> {
  const alice = await api.user('dur');
  const bob = await api.user('dur');
  const res = await api.post<Conversation>('/api/conversations', { targetUserId: bob.user.userId }, alice.token);
  return { alice, bob, conversationId: res.body.data.conversationId };
}

describe('durability', () => {
  it('keeps every acked message exactly once across kill -9 and restart', async () => {
    const first = await startServer();
    const api = new Api(first.baseUrl);
    const { alice, bob, conversationId } = await setup(api);
    const senders = await Promise.all([WsClient.connect(first.wsUrl, alice.token), WsClient.connect(first.wsUrl, bob.token)]);
    const acked = new Map<string, MessageAck>();
    const BURST = 2000;
    let enough!: () => void;
    const halfway = new Promise<void>((resolve) => (enough = resolve));
    senders.forEach((ws, s) => {
      ws.socket.on('message', (raw) => {
        const frame = JSON.parse(raw.toString()) as AckFrame;
        if (frame.type !== 'message-ack') return;
        acked.set(frame.data.tempMessageId, frame.data);
        if (acked.size >= 300) enough();
      });
      for (let i = 0; i < BURST; i++) ws.sendMessage(conversationId, `s${s}-m${i}`, `s${s}-${i}`);
    });
    const stalled = setTimeout(() => enough(), 60_000);
    await halfway;
    clearTimeout(stalled);
    await first.kill();
    const ackedAtKill = new Map(acked);
    assert.ok(ackedAtKill.size >= 300, `only ${ackedAtKill.size} acks within 60 s:\n${first.output().slice(-2000)}`);

    await using second = await startServer({ dataDir: first.dataDir });
    const history = await fullHistory(new Api(second.baseUrl), conversationId, alice.token);
    assert.deepEqual(
      history.map((m) => m.seqId),
      Array.from({ length: history.length }, (_, i) => i + 1),
      'seqIds stay gap-free after the crash',
    );
    const byId = new Map(history.map((m) => [m.messageId, m]));
    assert.equal(byId.size, history.length, 'no message is stored twice');
    for (const [tempId, ack] of ackedAtKill) {
      const stored = byId.get(ack.messageId);
      assert.ok(stored, `acked message ${tempId} survived`);
      assert.equal(stored.seqId, ack.seqId);
      assert.equal(stored.content, tempId.replace(/^s(\d)-(\d+)$/, 's$1-m$2'));
    }
    const contents = history.map((m) => m.content);
    assert.equal(new Set(contents).size, contents.length, 'every stored message was sent once');
  });

  it('keeps users, tokens and revocations across a restart', async () => {
    const first = await startServer();
    const api = new Api(first.baseUrl);
    const alice = await api.user('persist');
    const bob = await api.user('persist');
    await api.post('/api/auth/logout', undefined, bob.token);
    await first.stop();

    await using second = await startServer({ dataDir: first.dataDir });
    const api2 = new Api(second.baseUrl);
    const me = await api2.get('/api/users/info', alice.token);
    assert.equal(me.status, 200, 'a token issued before the restart still works: the secret is kept in the data dir');
    const revoked = await api2.get('/api/users/info', bob.token);
    assert.equal(revoked.status, 401);
    assert.equal(revoked.body.code, 'TOKEN_REVOKED');
    const login = await api2.post('/api/auth/login', { username: alice.user.username, password: 'correct horse' });
    assert.equal(login.status, 200);
  });

  it('shuts down gracefully on SIGTERM: pending sends are committed, sockets close with 1001', async () => {
    const first = await startServer();
    const api = new Api(first.baseUrl);
    const { alice, conversationId } = await setup(api);
    const ws = await WsClient.connect(first.wsUrl, alice.token);
    const acks: MessageAck[] = [];
    ws.socket.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as AckFrame;
      if (frame.type === 'message-ack') acks.push(frame.data);
    });
    for (let i = 0; i < 500; i++) ws.sendMessage(conversationId, `g${i}`, `g-${i}`);
    await ws.nextOfType('message-ack');
    const exit = first.stop();
    const closed = await ws.closed;
    assert.equal(closed.code, 1001);
    assert.equal(await exit, 0, 'exits cleanly');

    await using second = await startServer({ dataDir: first.dataDir });
    const history = await fullHistory(new Api(second.baseUrl), conversationId, alice.token);
    const stored = new Set(history.map((m) => m.messageId));
    assert.ok(acks.length > 0);
    for (const ack of acks) assert.ok(stored.has(ack.messageId), `acked ${ack.tempMessageId} is stored`);
  });
});
