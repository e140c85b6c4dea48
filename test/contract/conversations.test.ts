import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, WsClient } from '../helpers/client.js';
import type { Conversation, MessageAck, ReadResult } from '../../src/protocol/index.js';

let server: TestServer;
let api: Api;

before(async () => {
  server = await startServer();
  api = new Api(server.baseUrl);
});
after(async () => server.stop());

/** Sends messages over a socket and waits for their acks. */
async function send(token: string, conversationId: string, contents: string[]): Promise<MessageAck[]> {
  const ws = await WsClient.connect(server.wsUrl, token);
  contents.forEach((content, i) => ws.sendMessage(conversationId, content, `t-${Date.now()}-${i}-${Math.random()}`));
  const acks = await ws.collect<{ type: 'message-ack'; data: MessageAck }>('message-ack', contents.length);
  ws.close();
  return acks.map((a) => a.data);
}

describe('POST /api/conversations', () => {
  it('creates the 1:1 conversation (201) with the peer, and returns the same one afterwards (200) from either side', async () => {
    const alice = await api.user('alice');
    const bob = await api.user('bob');
    const created = await api.post<Conversation>('/api/conversations', { targetUserId: bob.user.userId }, alice.token);
    assert.equal(created.status, 201);
    const conversation = created.body.data;
    assert.equal(conversation.type, 'single');
    assert.equal(conversation.memberCount, 2);
    assert.equal(conversation.lastMessage, null);
    assert.equal(conversation.unreadCount, 0);
    assert.equal(conversation.lastReadSeq, 0);
    assert.deepEqual(conversation.peer, bob.user);
    assert.equal(typeof conversation.conversationId, 'string');

    const again = await api.post<Conversation>('/api/conversations', { targetUserId: bob.user.userId }, alice.token);
    assert.equal(again.status, 200);
    assert.equal(again.body.data.conversationId, conversation.conversationId);

    const fromBob = await api.post<Conversation>('/api/conversations', { targetUserId: alice.user.userId }, bob.token);
    assert.equal(fromBob.status, 200);
    assert.equal(fromBob.body.data.conversationId, conversation.conversationId);
    assert.deepEqual(fromBob.body.data.peer, alice.user);
  });

  it('refuses a conversation with yourself with 400 VALIDATION_ERROR', async () => {
    const alice = await api.user('self');
    const res = await api.post('/api/conversations', { targetUserId: alice.user.userId }, alice.token);
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'VALIDATION_ERROR');
  });

  it('answers an unknown target with 404 USER_NOT_FOUND', async () => {
    const alice = await api.user('lonely');
    for (const targetUserId of ['999999999', '../1', 'abc', "1' OR '1'='1"]) {
      const res = await api.post('/api/conversations', { targetUserId }, alice.token);
      assert.equal(res.status, 404, targetUserId);
      assert.equal(res.body.code, 'USER_NOT_FOUND');
    }
  });

  it('refuses a missing targetUserId with VALIDATION_ERROR', async () => {
    const alice = await api.user('missing');
    const res = await api.post('/api/conversations', {}, alice.token);
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'VALIDATION_ERROR');
    assert.match(res.body.message, /targetUserId/);
  });

  it('requires authentication', async () => {
    const res = await api.post('/api/conversations', { targetUserId: '1' });
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 'UNAUTHORIZED');
  });
});

describe('GET /api/conversations', () => {
  it('lists my conversations newest activity first, with lastMessage, peer and groupId', async () => {
    const alice = await api.user('lister');
    const bob = await api.user('bob');
    const carol = await api.user('carol');
    const withBob = (await api.post<Conversation>('/api/conversations', { targetUserId: bob.user.userId }, alice.token)).body.data;
    const withCarol = (await api.post<Conversation>('/api/conversations', { targetUserId: carol.user.userId }, alice.token)).body.data;
    const group = (
      await api.post<{ conversation: Conversation; group: { groupId: string } }>(
        '/api/groups',
        { groupName: 'Trio', members: [bob.user.userId, carol.user.userId] },
        alice.token,
      )
    ).body.data;

    await send(alice.token, withBob.conversationId, ['first']);
    await send(carol.token, withCarol.conversationId, ['second']);
    await send(bob.token, group.conversation.conversationId, ['third']);

    const list = (await api.get<Conversation[]>('/api/conversations', alice.token)).body.data;
    const ids = list.map((c) => c.conversationId);
    const mine = [group.conversation.conversationId, withCarol.conversationId, withBob.conversationId];
    assert.deepEqual(
      ids.filter((id) => mine.includes(id)),
      mine,
    );
    const byId = new Map(list.map((c) => [c.conversationId, c]));
    assert.equal(byId.get(withBob.conversationId)!.lastMessage!.content, 'first');
    assert.deepEqual(byId.get(withBob.conversationId)!.peer, bob.user);
    assert.equal(byId.get(withBob.conversationId)!.name, bob.user.username);
    const groupConversation = byId.get(group.conversation.conversationId)!;
    assert.equal(groupConversation.type, 'group');
    assert.equal(groupConversation.groupId, group.group.groupId);
    assert.equal(groupConversation.name, 'Trio');
    assert.equal(groupConversation.memberCount, 3);
    assert.equal(groupConversation.lastMessage!.senderId, bob.user.userId);
    assert.equal(groupConversation.lastMessage!.senderName, bob.user.username);
    assert.ok(list.every((c, i) => i === 0 || list[i - 1]!.updatedAt >= c.updatedAt));
  });
});

describe('unread counts and PUT /api/conversations/{id}/read', () => {
  it('counts exactly the messages others sent since my read pointer, and clears on read', async () => {
    const alice = await api.user('reader');
    const bob = await api.user('writer');
    const conversation = (await api.post<Conversation>('/api/conversations', { targetUserId: bob.user.userId }, alice.token)).body.data;
    const unread = async (token: string) =>
      (await api.get<Conversation[]>('/api/conversations', token)).body.data.find((c) => c.conversationId === conversation.conversationId)!;

    await send(bob.token, conversation.conversationId, ['one', 'two', 'three']);
    assert.equal((await unread(alice.token)).unreadCount, 3);
    assert.equal((await unread(bob.token)).unreadCount, 0, 'my own messages are not unread');

    const read = await api.put<ReadResult>(`/api/conversations/${conversation.conversationId}/read`, undefined, alice.token);
    assert.equal(read.status, 200);
    assert.deepEqual(read.body.data, { conversationId: conversation.conversationId, lastReadSeq: 3, unreadCount: 0 });
    const after = await unread(alice.token);
    assert.equal(after.unreadCount, 0);
    assert.equal(after.lastReadSeq, 3);

    await send(bob.token, conversation.conversationId, ['four', 'five']);
    assert.equal((await unread(alice.token)).unreadCount, 2);
  });

  it('refuses a non-member with 403 NOT_CONVERSATION_MEMBER and an unknown conversation with 404', async () => {
    const alice = await api.user('owner');
    const bob = await api.user('peer');
    const mallory = await api.user('mallory');
    const conversation = (await api.post<Conversation>('/api/conversations', { targetUserId: bob.user.userId }, alice.token)).body.data;
    const forbidden = await api.put(`/api/conversations/${conversation.conversationId}/read`, undefined, mallory.token);
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.body.code, 'NOT_CONVERSATION_MEMBER');
    const missing = await api.put('/api/conversations/987654321/read', undefined, alice.token);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'CONVERSATION_NOT_FOUND');
  });
});

describe('GET /api/conversations/{id}', () => {
  it('answers each conversation type exactly as my conversation list shows it', async () => {
    const ann = await api.user('one_ann');
    const ben = await api.user('one_ben');
    const single = (await api.post<Conversation>('/api/conversations', { targetUserId: ben.user.userId }, ann.token)).body.data;
    const group = (await api.post<{ conversation: Conversation }>('/api/groups', { groupName: 'One', members: [ben.user.userId] }, ann.token)).body.data.conversation;
    await send(ann.token, single.conversationId, ['hello']);
    await send(ann.token, group.conversationId, ['hi all', 'again']);
    const list = (await api.get<Conversation[]>('/api/conversations', ben.token)).body.data;
    assert.ok(list.some((c) => c.type === 'world'), 'the world room is in the list');
    for (const listed of list) {
      const res = await api.get<Conversation>(`/api/conversations/${listed.conversationId}`, ben.token);
      assert.equal(res.status, 200, listed.type);
      assert.deepEqual(res.body.data, listed, listed.type);
    }
    const one = (await api.get<Conversation>(`/api/conversations/${group.conversationId}`, ben.token)).body.data;
    assert.deepEqual([one.unreadCount, one.lastMessage?.content, one.groupId], [2, 'again', group.groupId]);
  });

  it('answers a non-member 403 NOT_CONVERSATION_MEMBER and an unknown id 404 CONVERSATION_NOT_FOUND', async () => {
    const ann = await api.user('one_owner');
    const ben = await api.user('one_peer');
    const eve = await api.user('one_eve');
    const single = (await api.post<Conversation>('/api/conversations', { targetUserId: ben.user.userId }, ann.token)).body.data;
    const outsider = await api.get(`/api/conversations/${single.conversationId}`, eve.token);
    assert.deepEqual([outsider.status, outsider.body.code], [403, 'NOT_CONVERSATION_MEMBER']);
    for (const id of ['999999999', 'x', encodeURIComponent('../1')]) {
      const missing = await api.get(`/api/conversations/${id}`, eve.token);
      assert.deepEqual([missing.status, missing.body.code], [404, 'CONVERSATION_NOT_FOUND'], id);
    }
    const anonymous = await api.get(`/api/conversations/${single.conversationId}`);
    assert.deepEqual([anonymous.status, anonymous.body.code], [401, 'UNAUTHORIZED']);
  });
});
