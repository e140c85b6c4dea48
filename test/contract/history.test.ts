import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, WsClient } from '../helpers/client.js';
import type { AuthResult, Conversation, Message } from '../../src/protocol/index.js';

let server: TestServer;
let api: Api;
let alice: AuthResult;
let bob: AuthResult;
let conversationId: string;
const TOTAL = 23;

before(async () => {
  server = await startServer();
  api = new Api(server.baseUrl);
  alice = await api.user('hist');
  bob = await api.user('hist');
  conversationId = (await api.post<Conversation>('/api/conversations', { targetUserId: bob.user.userId }, alice.token)).body.data.conversationId;
  const ws = await WsClient.connect(server.wsUrl, alice.token);
  for (let i = 1; i <= TOTAL; i++) ws.sendMessage(conversationId, `message ${i}`, `h-${i}`);
  await ws.collect('message-ack', TOTAL);
  ws.close();
});
after(async () => server.stop());

const history = (query: string, token = bob.token) => api.get<Message[]>(`/api/conversations/${conversationId}/messages${query}`, token);
const seqs = (messages: Message[]) => messages.map((m) => m.seqId);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('GET /api/conversations/{id}/messages', () => {
  it('returns full Message objects', async () => {
    const res = await history('?size=1');
    const [message] = res.body.data;
    assert.deepEqual(
      Object.keys(message!).sort(),
      ['content', 'conversationId', 'messageId', 'messageType', 'senderId', 'senderName', 'sendTime', 'seqId'].sort(),
    );
    assert.equal(message!.content, `message ${TOTAL}`);
    assert.equal(message!.senderId, alice.user.userId);
    assert.equal(message!.senderName, alice.user.username);
    assert.equal(message!.messageType, 'text');
    assert.equal(message!.conversationId, conversationId);
  });

  it('answers in the contract envelope, as JSON (the page is spliced from stored text, not serialized)', async () => {
    const res = await history('?size=2');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json; charset=utf-8$/);
    assert.deepEqual(Object.keys(res.body).sort(), ['data', 'message', 'pagination', 'success']);
    assert.equal(res.body.success, true);
    assert.equal(typeof res.body.message, 'string');
    assert.deepEqual(res.body.pagination, { page: 1, size: 2, total: TOTAL, hasMore: true });
    assert.deepEqual(seqs(res.body.data), [TOTAL - 1, TOTAL]);
  });

  it('page 1 is the newest page, ascending inside, with pagination', async () => {
    const res = await history('?page=1&size=10');
    assert.equal(res.status, 200);
    assert.deepEqual(seqs(res.body.data), range(14, 23));
    assert.deepEqual(res.body.pagination, { page: 1, size: 10, total: TOTAL, hasMore: true });
  });

  it('later pages go back in time; the last one is short and has no more', async () => {
    assert.deepEqual(seqs((await history('?page=2&size=10')).body.data), range(4, 13));
    const last = await history('?page=3&size=10');
    assert.deepEqual(seqs(last.body.data), range(1, 3));
    assert.equal(last.body.pagination!.hasMore, false);
    const beyond = await history('?page=4&size=10');
    assert.deepEqual(beyond.body.data, []);
    assert.equal(beyond.body.pagination!.hasMore, false);
  });

  it('defaults to page 1 of 50', async () => {
    const res = await history('');
    assert.deepEqual(seqs(res.body.data), range(1, 23));
    assert.deepEqual(res.body.pagination, { page: 1, size: 50, total: TOTAL, hasMore: false });
  });

  it('afterSeq returns what follows, ascending, for catch-up', async () => {
    const res = await history('?afterSeq=5&size=10');
    assert.deepEqual(seqs(res.body.data), range(6, 15));
    assert.equal(res.body.pagination!.hasMore, true);
    const tail = await history('?afterSeq=20&size=10');
    assert.deepEqual(seqs(tail.body.data), [21, 22, 23]);
    assert.equal(tail.body.pagination!.hasMore, false);
    assert.deepEqual((await history('?afterSeq=23')).body.data, []);
  });

  it('beforeSeq returns what precedes, ascending, for scroll-back', async () => {
    const res = await history('?beforeSeq=10&size=4');
    assert.deepEqual(seqs(res.body.data), [6, 7, 8, 9]);
    assert.equal(res.body.pagination!.hasMore, true);
    const first = await history('?beforeSeq=3&size=10');
    assert.deepEqual(seqs(first.body.data), [1, 2]);
    assert.equal(first.body.pagination!.hasMore, false);
  });

  for (const query of ['?size=0', '?size=101', '?page=0', '?page=-1', '?size=abc', '?afterSeq=-1', '?afterSeq=1&beforeSeq=5', '?unknown=1', '?size=1e400']) {
    it(`refuses ${query} with 400 VALIDATION_ERROR`, async () => {
      const res = await history(query);
      assert.equal(res.status, 400);
      assert.equal(res.body.code, 'VALIDATION_ERROR');
    });
  }

  it('refuses a non-member with 403 NOT_CONVERSATION_MEMBER', async () => {
    const mallory = await api.user('outsider');
    const res = await history('', mallory.token);
    assert.equal(res.status, 403);
    assert.equal(res.body.code, 'NOT_CONVERSATION_MEMBER');
  });

  it('answers an unknown conversation with 404 CONVERSATION_NOT_FOUND, whatever the id looks like', async () => {
    for (const id of ['424242424', 'abc', '..%2F..%2Fetc', '0', '-1', "1;DROP TABLE messages"]) {
      const res = await api.get(`/api/conversations/${encodeURIComponent(id)}/messages`, bob.token);
      assert.equal(res.status, 404, id);
      assert.equal(res.body.code, 'CONVERSATION_NOT_FOUND');
    }
  });
});
