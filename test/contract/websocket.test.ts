import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, WsClient } from '../helpers/client.js';
import type { AuthResult, Conversation, ErrorFrameData, Message, MessageAck } from '../../src/protocol/index.js';

let server: TestServer;
let api: Api;

before(async () => {
  server = await startServer();
  api = new Api(server.baseUrl);
});
after(async () => server.stop());

type AckFrame = { type: 'message-ack'; data: MessageAck };
type NewFrame = { type: 'new-message'; data: Message };
type ErrorFrame = { type: 'error'; data: ErrorFrameData };

async function pair(): Promise<{ alice: AuthResult; bob: AuthResult; conversationId: string }> {
  const alice = await api.user('alice');
  const bob = await api.user('bob');
  const res = await api.post<Conversation>('/api/conversations', { targetUserId: bob.user.userId }, alice.token);
  return { alice, bob, conversationId: res.body.data.conversationId };
}

describe('WebSocket upgrade', () => {
  for (const [label, token] of [
    ['no token', ''],
    ['a malformed token', 'garbage'],
    ['a token signed with another secret', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIiwianRpIjoieCIsIm5hbWUiOiJ4IiwiZXhwIjo0MTAyNDQ0ODAwfQ.c2lnbmF0dXJl'],
  ] as const) {
    it(`is refused with 401 for ${label}`, async () => {
      await assert.rejects(WsClient.connect(server.wsUrl, token), (err: { status?: number }) => err.status === 401);
    });
  }

  it('is refused with 404 on another path', async () => {
    const alice = await api.user('path');
    await assert.rejects(WsClient.connect(`${server.baseUrl.replace('http', 'ws')}/other`, alice.token), (err: { status?: number }) => err.status === 404);
  });
});

describe('ping', () => {
  it('is answered with pong, with or without data', async () => {
    const alice = await api.user('ping');
    const ws = await WsClient.connect(server.wsUrl, alice.token);
    ws.send({ type: 'ping' });
    assert.deepEqual(await ws.nextOfType('pong'), { type: 'pong' });
    ws.send({ type: 'ping', data: {} });
    await ws.nextOfType('pong');
    ws.close();
  });
});

describe('send-message', () => {
  it('is acked to the sender and delivered as new-message to every other connection of every member', async () => {
    const { alice, bob, conversationId } = await pair();
    const aliceLaptop = await WsClient.connect(server.wsUrl, alice.token);
    const alicePhone = await WsClient.connect(server.wsUrl, alice.token);
    const bobPhone = await WsClient.connect(server.wsUrl, bob.token);
    const bobLaptop = await WsClient.connect(server.wsUrl, bob.token);

    aliceLaptop.sendMessage(conversationId, 'hello bob', 'tmp-1');
    const ack = (await aliceLaptop.nextOfType<AckFrame>('message-ack')).data;
    assert.equal(ack.tempMessageId, 'tmp-1');
    assert.equal(ack.conversationId, conversationId);
    assert.equal(ack.seqId, 1);
    assert.equal(typeof ack.messageId, 'string');
    assert.match(ack.sendTime, /Z$/);

    for (const device of [alicePhone, bobPhone, bobLaptop]) {
      const { data } = await device.nextOfType<NewFrame>('new-message');
      assert.deepEqual(data, {
        messageId: ack.messageId,
        conversationId,
        senderId: alice.user.userId,
        senderName: alice.user.username,
        content: 'hello bob',
        messageType: 'text',
        seqId: 1,
        sendTime: ack.sendTime,
      });
    }
    // The sending connection gets the ack, not its own message back.
    aliceLaptop.send({ type: 'ping' });
    await aliceLaptop.nextOfType('pong');
    assert.equal(aliceLaptop.frames.filter((f) => f.type === 'new-message').length, 0);
    for (const ws of [aliceLaptop, alicePhone, bobPhone, bobLaptop]) ws.close();
  });

  it('keeps messageType and stores content verbatim (HTML and SQL-looking text are not interpreted)', async () => {
    const { alice, bob, conversationId } = await pair();
    const sender = await WsClient.connect(server.wsUrl, alice.token);
    const content = `<img src=x onerror=alert(1)> '); DROP TABLE messages;-- 😀\n second line`;
    sender.sendMessage(conversationId, content, 'verbatim', 'image');
    const ack = (await sender.nextOfType<AckFrame>('message-ack')).data;
    const history = await api.get<Message[]>(`/api/conversations/${conversationId}/messages`, bob.token);
    const stored = history.body.data.find((m) => m.messageId === ack.messageId)!;
    assert.equal(stored.content, content);
    assert.equal(stored.messageType, 'image');
    sender.close();
  });

  it('is idempotent per tempMessageId: a resend is acked with the original messageId and seqId and stored once', async () => {
    const { alice, bob, conversationId } = await pair();
    const first = await WsClient.connect(server.wsUrl, alice.token);
    const bobWs = await WsClient.connect(server.wsUrl, bob.token);
    first.sendMessage(conversationId, 'only once', 'same-temp');
    const original = (await first.nextOfType<AckFrame>('message-ack')).data;
    first.close();

    const second = await WsClient.connect(server.wsUrl, alice.token);
    second.sendMessage(conversationId, 'only once', 'same-temp');
    second.sendMessage(conversationId, 'only once', 'same-temp');
    const [again1, again2] = (await second.collect<AckFrame>('message-ack', 2)).map((a) => a.data);
    assert.deepEqual(again1, original);
    assert.deepEqual(again2, original);

    const history = await api.get<Message[]>(`/api/conversations/${conversationId}/messages`, alice.token);
    assert.equal(history.body.data.length, 1);
    await bobWs.nextOfType('new-message');
    bobWs.send({ type: 'ping' });
    await bobWs.nextOfType('pong');
    assert.equal(bobWs.frames.filter((f) => f.type === 'new-message').length, 0, 'a resend is not delivered twice');
    second.close();
    bobWs.close();
  });

  it('allocates gap-free seqIds under two concurrent senders, and every connection sees them in order', async () => {
    const { alice, bob, conversationId } = await pair();
    const a = await WsClient.connect(server.wsUrl, alice.token);
    const b = await WsClient.connect(server.wsUrl, bob.token);
    const watcher = await WsClient.connect(server.wsUrl, bob.token);
    const PER_SENDER = 150;
    for (let i = 0; i < PER_SENDER; i++) {
      a.sendMessage(conversationId, `a${i}`, `a-${i}`);
      b.sendMessage(conversationId, `b${i}`, `b-${i}`);
    }
    const acksA = (await a.collect<AckFrame>('message-ack', PER_SENDER)).map((f) => f.data.seqId);
    const acksB = (await b.collect<AckFrame>('message-ack', PER_SENDER)).map((f) => f.data.seqId);
    const all = [...acksA, ...acksB].sort((x, y) => x - y);
    assert.deepEqual(all, Array.from({ length: 2 * PER_SENDER }, (_, i) => i + 1), 'seqIds are 1..N with no gap and no repeat');
    assert.deepEqual(acksA, [...acksA].sort((x, y) => x - y), 'one sender’s acks come in its send order');

    const seen = (await watcher.collect<NewFrame>('new-message', 2 * PER_SENDER)).map((f) => f.data.seqId);
    assert.deepEqual(seen, all, 'a third connection receives every message once, in seqId order');
    const seenByA = (await a.collect<NewFrame>('new-message', PER_SENDER)).map((f) => f.data.seqId);
    assert.deepEqual(seenByA, [...acksB].sort((x, y) => x - y));
    for (const ws of [a, b, watcher]) ws.close();
  });

  it('delivers group messages to every member', async () => {
    const owner = await api.user('gowner');
    const bob = await api.user('gbob');
    const carol = await api.user('gcarol');
    const created = await api.post<{ conversation: Conversation }>(
      '/api/groups',
      { groupName: 'Group chat', members: [bob.user.userId, carol.user.userId] },
      owner.token,
    );
    const conversationId = created.body.data.conversation.conversationId;
    const [o, b, c] = await Promise.all([owner, bob, carol].map((u) => WsClient.connect(server.wsUrl, u.token)));
    b!.sendMessage(conversationId, 'hi all', 'g-1');
    await b!.nextOfType('message-ack');
    for (const ws of [o!, c!]) assert.equal((await ws.nextOfType<NewFrame>('new-message')).data.content, 'hi all');
    for (const ws of [o!, b!, c!]) ws.close();
  });
});

describe('error frames', () => {
  async function expectError(ws: WsClient, code: string, tempMessageId?: string) {
    const frame = await ws.nextOfType<ErrorFrame>('error');
    assert.equal(frame.data.code, code, JSON.stringify(frame));
    assert.equal(typeof frame.data.message, 'string');
    if (tempMessageId !== undefined) assert.equal(frame.data.tempMessageId, tempMessageId);
  }

  it('answers bad frames with contract codes and never closes the connection for it', async () => {
    const { alice, conversationId } = await pair();
    const ws = await WsClient.connect(server.wsUrl, alice.token);
    ws.send('{not json');
    await expectError(ws, 'INVALID_JSON');
    ws.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    await expectError(ws, 'INVALID_JSON');
    ws.send({ type: 'launch-missiles' });
    await expectError(ws, 'VALIDATION_ERROR');
    ws.send({ type: 'send-message', data: { conversationId, content: 'x' } });
    await expectError(ws, 'VALIDATION_ERROR');
    ws.send({ type: 'send-message', data: { conversationId, content: 42, tempMessageId: 't-type' } });
    await expectError(ws, 'VALIDATION_ERROR', 't-type');
    ws.send({ type: 'send-message', data: { conversationId, content: 'x', tempMessageId: 't-mt', messageType: 'video' } });
    await expectError(ws, 'VALIDATION_ERROR', 't-mt');
    ws.sendMessage(conversationId, '   ', 't-blank');
    await expectError(ws, 'VALIDATION_ERROR', 't-blank');
    ws.sendMessage(conversationId, 'x'.repeat(4001), 't-long');
    await expectError(ws, 'VALIDATION_ERROR', 't-long');
    ws.sendMessage(conversationId, 'bell\u0007', 't-ctrl');
    await expectError(ws, 'VALIDATION_ERROR', 't-ctrl');
    ws.send({ type: 'send-message', data: { conversationId, content: 'x'.repeat(70 * 1024), tempMessageId: 't-huge' } });
    await expectError(ws, 'PAYLOAD_TOO_LARGE');
    ws.send([1, 2]);
    await expectError(ws, 'VALIDATION_ERROR');
    ws.send('null');
    await expectError(ws, 'VALIDATION_ERROR');

    ws.sendMessage(conversationId, 'x'.repeat(4000), 't-max');
    assert.equal((await ws.nextOfType<AckFrame>('message-ack')).data.seqId, 1, 'still open, and 4000 characters are fine');
    const history = await api.get<Message[]>(`/api/conversations/${conversationId}/messages`, alice.token);
    assert.equal(history.body.data.length, 1, 'nothing invalid was stored');
    ws.close();
  });

  it('refuses sending to a conversation the user is not in with NOT_CONVERSATION_MEMBER', async () => {
    const { conversationId } = await pair();
    const mallory = await api.user('mallory');
    const ws = await WsClient.connect(server.wsUrl, mallory.token);
    ws.sendMessage(conversationId, 'let me in', 't-forbidden');
    await expectError(ws, 'NOT_CONVERSATION_MEMBER', 't-forbidden');
    ws.close();
  });

  it('refuses an unknown conversation with CONVERSATION_NOT_FOUND', async () => {
    const alice = await api.user('nowhere');
    const ws = await WsClient.connect(server.wsUrl, alice.token);
    ws.sendMessage('31415926', 'hello?', 't-missing');
    await expectError(ws, 'CONVERSATION_NOT_FOUND', 't-missing');
    ws.close();
  });
});

describe('connection limits', () => {
  it('closes a connection whose frame passes the hard size bound instead of buffering it', async () => {
    const alice = await api.user('huge');
    const ws = await WsClient.connect(server.wsUrl, alice.token);
    ws.socket.send('x'.repeat(2 * 1024 * 1024));
    const closed = await ws.closed;
    assert.equal(closed.code, 1009);
  });
});
