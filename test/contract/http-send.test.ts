/**
 * Sending over HTTP (docs/protocol.md "Sending over HTTP"): POST /api/conversations/{id}/messages
 * stores like send-message — the same checks, idempotency and ack-after-commit — answers 201 with the
 * message (200 with the original for a repeated tempMessageId), and every member's sockets get it,
 * the sender's included.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, fullHistory, WsClient } from '../helpers/client.js';
import type { AuthResult, Conversation, Message } from '../../src/protocol/index.js';

let server: TestServer;
let api: Api;
let ann: AuthResult;
let ben: AuthResult;
let cal: AuthResult;
let chat: string;
const sockets: WsClient[] = [];

before(async () => {
  server = await startServer();
  api = new Api(server.baseUrl);
  [ann, ben, cal] = await Promise.all([api.user('ann'), api.user('ben'), api.user('cal')]);
  chat = (await api.post<Conversation>('/api/conversations', { targetUserId: ben.user.userId }, ann.token)).body.data.conversationId;
});
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});
after(async () => server.stop());

const path = (c: string) => `/api/conversations/${c}/messages`;
async function socket(who: AuthResult): Promise<WsClient> {
  const ws = await WsClient.connect(server.wsUrl, who.token);
  sockets.push(ws);
  return ws;
}
type NewFrame = { type: 'new-message'; data: Message };

describe('POST /api/conversations/{id}/messages', () => {
  it('stores the message and answers 201 with it, at the next seqId, in history', async () => {
    const before = (await fullHistory(api, chat, ann.token)).length;
    const res = await api.post<Message>(path(chat), { content: 'over http', tempMessageId: 'h-1' }, ann.token);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const m = res.body.data;
    assert.deepEqual([m.conversationId, m.senderId, m.senderName, m.content, m.messageType, m.seqId], [chat, ann.user.userId, ann.user.username, 'over http', 'text', before + 1]);
    const history = await fullHistory(api, chat, ben.token);
    assert.equal(history.at(-1)?.messageId, m.messageId);
  });

  it('answers a repeated tempMessageId with 200 and the message stored first, storing nothing', async () => {
    const first = await api.post<Message>(path(chat), { content: 'once', tempMessageId: 'h-repeat' }, ann.token);
    const again = await api.post<Message>(path(chat), { content: 'once (retried)', tempMessageId: 'h-repeat' }, ann.token);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.data, first.body.data);
    assert.equal((await fullHistory(api, chat, ann.token)).filter((m) => m.content.startsWith('once')).length, 1);
  });

  it('shares the idempotency key with the WebSocket send', async () => {
    const ws = await socket(ann);
    ws.sendMessage(chat, 'by socket', 'shared-key');
    const ack = await ws.next<{ type: string; data: { messageId: string } }>((f) => f.type === 'message-ack');
    const res = await api.post<Message>(path(chat), { content: 'by http', tempMessageId: 'shared-key' }, ann.token);
    assert.deepEqual([res.status, res.body.data.messageId, res.body.data.content], [200, ack.data.messageId, 'by socket']);
  });

  it("delivers it live to every member's sockets, the sender's included", async () => {
    const [annWs, benWs] = await Promise.all([socket(ann), socket(ben)]);
    const res = await api.post<Message>(path(chat), { content: 'to everyone', tempMessageId: 'h-live' }, ann.token);
    for (const ws of [annWs, benWs]) {
      const got = await ws.next<NewFrame>((f) => f.type === 'new-message' && (f as NewFrame).data.messageId === res.body.data.messageId);
      assert.equal(got.data.content, 'to everyone');
    }
  });

  it('refuses what the socket refuses: a non-member, an unknown conversation, system messages, bad bodies', async () => {
    const outsider = await api.post(path(chat), { content: 'x', tempMessageId: 'h-out' }, cal.token);
    assert.deepEqual([outsider.status, outsider.body.code], [403, 'NOT_CONVERSATION_MEMBER']);
    const missing = await api.post(path('987654321'), { content: 'x', tempMessageId: 'h-missing' }, ann.token);
    assert.deepEqual([missing.status, missing.body.code], [404, 'CONVERSATION_NOT_FOUND']);
    for (const body of [{ content: 'x', tempMessageId: 'h-sys', messageType: 'system' }, { content: 'x' }, { content: 'x', tempMessageId: '' }, { content: 'x', tempMessageId: 'h', extra: 1 }]) {
      const res = await api.post(path(chat), body, ann.token);
      assert.deepEqual([res.status, res.body.code], [400, 'VALIDATION_ERROR'], JSON.stringify(body));
    }
    const empty = await api.post(path(chat), { content: '   ', tempMessageId: 'h-empty' }, ann.token);
    assert.equal(empty.status, 400);
    const tooLong = await api.post(path(chat), { content: 'x'.repeat(4001), tempMessageId: 'h-long' }, ann.token);
    assert.equal(tooLong.status, 400);
    assert.equal((await api.post(path(chat), { content: 'x', tempMessageId: 'h-anon' })).status, 401);
    assert.ok(!(await fullHistory(api, chat, ann.token)).some((m) => m.content === 'x'), 'nothing refused was stored');
  });
});
