/**
 * Read state follows the user (issue 15, docs/protocol.md "Read state"): `PUT …/read` takes an
 * optional seqId (absent: everything, as the seed says) and the WebSocket accepts `mark-read`; the
 * pointer never moves back nor past the newest message; when it moved, every device of the reader
 * gets `conversation-read` with the new pointer and unread count, and nobody else does.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, WsClient } from '../helpers/client.js';
import type { AuthResult, Conversation, ReadResult } from '../../src/protocol/index.js';

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
  for (let i = 1; i <= 6; i++) await api.post(`/api/conversations/${chat}/messages`, { content: `m${i}`, tempMessageId: `r-${i}` }, ann.token);
});
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});
after(async () => server.stop());

async function socket(who: AuthResult): Promise<WsClient> {
  const ws = await WsClient.connect(server.wsUrl, who.token);
  sockets.push(ws);
  return ws;
}
const read = (body: unknown, who: AuthResult = ben) => api.put<ReadResult>(`/api/conversations/${chat}/read`, body, who.token);
type ReadFrame = { type: 'conversation-read'; data: ReadResult };
const nextRead = (ws: WsClient, lastReadSeq: number) =>
  ws.next<ReadFrame>((f) => f.type === 'conversation-read' && (f as ReadFrame).data.lastReadSeq === lastReadSeq);

describe('read state', () => {
  it('moves to a seqId, never back, never past the newest; no seqId means everything', async () => {
    assert.deepEqual((await read({ seqId: 2 })).body.data, { conversationId: chat, lastReadSeq: 2, unreadCount: 4 });
    assert.deepEqual((await read({ seqId: 1 })).body.data, { conversationId: chat, lastReadSeq: 2, unreadCount: 4 }, 'never back');
    assert.deepEqual((await read({ seqId: 4 })).body.data, { conversationId: chat, lastReadSeq: 4, unreadCount: 2 });
    assert.deepEqual((await read({ seqId: 99 })).body.data, { conversationId: chat, lastReadSeq: 6, unreadCount: 0 }, 'not past the newest');
    const listed = (await api.get<Conversation>(`/api/conversations/${chat}`, ben.token)).body.data;
    assert.deepEqual([listed.lastReadSeq, listed.unreadCount], [6, 0]);
  });

  it('takes the seed’s bodiless request and an empty object as "everything"', async () => {
    await api.post(`/api/conversations/${chat}/messages`, { content: 'one more', tempMessageId: 'r-bodiless' }, ann.token);
    const bare = await api.request<ReadResult>('PUT', `/api/conversations/${chat}/read`, { token: cal.token });
    assert.equal(bare.body.code, 'NOT_CONVERSATION_MEMBER', 'still checked');
    const res = await api.request<ReadResult>('PUT', `/api/conversations/${chat}/read`, { token: ben.token });
    assert.deepEqual([res.status, res.body.data.unreadCount], [200, 0]);
    assert.equal((await read({})).status, 200);
  });

  it("tells every device of the reader, and nobody else, when the pointer moved", async () => {
    await api.post(`/api/conversations/${chat}/messages`, { content: 'fresh', tempMessageId: 'r-fresh' }, ann.token);
    const last = (await api.get<Conversation>(`/api/conversations/${chat}`, ben.token)).body.data.lastMessage!.seqId;
    const [phone, laptop, peer] = [await socket(ben), await socket(ben), await socket(ann)];
    phone.send({ type: 'mark-read', data: { conversationId: chat, seqId: last } });
    for (const ws of [phone, laptop]) assert.deepEqual((await nextRead(ws, last)).data, { conversationId: chat, lastReadSeq: last, unreadCount: 0 });
    // A mark that moves nothing sends nothing; a later frame proves it was handled first.
    phone.send({ type: 'mark-read', data: { conversationId: chat, seqId: last } });
    phone.send({ type: 'ping' });
    await phone.nextOfType('pong');
    assert.equal(laptop.frames.filter((f) => f.type === 'conversation-read').length, 0, 'no second frame for a pointer that did not move');
    peer.send({ type: 'ping' });
    await peer.nextOfType('pong');
    assert.equal(peer.frames.filter((f) => f.type === 'conversation-read').length, 0, 'the peer is not told');
  });

  it('a flood of mark-read frames in one turn is written as the furthest of them', async () => {
    for (let i = 0; i < 3; i++) await api.post(`/api/conversations/${chat}/messages`, { content: `burst ${i}`, tempMessageId: `r-burst-${i}` }, ann.token);
    const last = (await api.get<Conversation>(`/api/conversations/${chat}`, ben.token)).body.data.lastMessage!.seqId;
    const [phone, laptop] = [await socket(ben), await socket(ben)];
    for (let i = 0; i < 3; i++) phone.send({ type: 'mark-read', data: { conversationId: chat, seqId: last - 2 + i } });
    await nextRead(laptop, last);
    assert.deepEqual((await api.get<Conversation>(`/api/conversations/${chat}`, ben.token)).body.data.lastReadSeq, last);
  });

  it('in a 1:1 the peer sees how far the other read: peerLastReadSeq, and read-receipt to its devices only', async () => {
    await api.post(`/api/conversations/${chat}/messages`, { content: 'seen?', tempMessageId: 'r-receipt' }, ann.token);
    const last = (await api.get<Conversation>(`/api/conversations/${chat}`, ben.token)).body.data.lastMessage!.seqId;
    const [reader, readersLaptop, writer] = [await socket(ben), await socket(ben), await socket(ann)];
    assert.ok((await api.get<Conversation>(`/api/conversations/${chat}`, ann.token)).body.data.peerLastReadSeq! < last, 'not read yet');
    reader.send({ type: 'mark-read', data: { conversationId: chat, seqId: last } });
    type ReceiptFrame = { type: 'read-receipt'; data: { conversationId: string; userId: string; lastReadSeq: number } };
    const receipt = await writer.next<ReceiptFrame>((f) => f.type === 'read-receipt');
    assert.deepEqual(receipt.data, { conversationId: chat, userId: ben.user.userId, lastReadSeq: last });
    assert.equal((await api.get<Conversation>(`/api/conversations/${chat}`, ann.token)).body.data.peerLastReadSeq, last);
    const listed = (await api.get<Conversation[]>('/api/conversations', ann.token)).body.data.find((c) => c.conversationId === chat)!;
    assert.equal(listed.peerLastReadSeq, last, 'in the list too');
    await nextRead(readersLaptop, last);
    assert.equal(readersLaptop.frames.filter((f) => f.type === 'read-receipt').length, 0, "the reader's own devices get conversation-read, not a receipt");
    // A mark that moves nothing tells the peer nothing; a later frame proves it was handled first.
    reader.send({ type: 'mark-read', data: { conversationId: chat, seqId: last } });
    reader.send({ type: 'ping' });
    await reader.nextOfType('pong');
    writer.send({ type: 'ping' });
    await writer.nextOfType('pong');
    assert.equal(writer.frames.filter((f) => f.type === 'read-receipt').length, 0, 'no second receipt');
  });

  it('a group has no per-member pointer on the conversation and sends no read-receipt', async () => {
    const group = (await api.post<{ conversation: Conversation }>('/api/groups', { groupName: 'Receipts', members: [ben.user.userId] }, ann.token)).body.data.conversation.conversationId;
    await api.post(`/api/conversations/${group}/messages`, { content: 'hello all', tempMessageId: 'r-group' }, ann.token);
    const writer = await socket(ann);
    await api.put(`/api/conversations/${group}/read`, {}, ben.token);
    writer.send({ type: 'ping' });
    await writer.nextOfType('pong');
    assert.equal(writer.frames.filter((f) => f.type === 'read-receipt').length, 0);
    assert.equal((await api.get<Conversation>(`/api/conversations/${group}`, ann.token)).body.data.peerLastReadSeq, undefined);
  });

  it('refuses a non-member, an unknown conversation and a bad seqId, changing nothing', async () => {
    assert.equal((await read({ seqId: 1 }, cal)).body.code, 'NOT_CONVERSATION_MEMBER');
    assert.equal((await api.put('/api/conversations/987654321/read', { seqId: 1 }, ben.token)).body.code, 'CONVERSATION_NOT_FOUND');
    for (const seqId of [-1, 1.5, 'two']) assert.equal((await read({ seqId })).body.code, 'VALIDATION_ERROR', String(seqId));
    assert.equal((await read({ seqId: 1, extra: true })).body.code, 'VALIDATION_ERROR');
    const ws = await socket(cal);
    ws.send({ type: 'mark-read', data: { conversationId: chat, seqId: 1 } });
    assert.equal((await ws.nextOfType<{ type: string; data: { code: string } }>('error')).data.code, 'NOT_CONVERSATION_MEMBER');
    ws.send({ type: 'mark-read', data: { conversationId: chat, seqId: -3 } });
    assert.equal((await ws.nextOfType<{ type: string; data: { code: string } }>('error')).data.code, 'VALIDATION_ERROR');
  });
});
