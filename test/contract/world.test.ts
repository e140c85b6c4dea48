/**
 * The world room as clients see it: every connected member gets each message once, a new account
 * can speak at once, and a guest inactive past GOCHAT_GUEST_TTL_SECONDS is gone (issue 10, item 7).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, uniqueName, WsClient } from '../helpers/client.js';
import type { AuthResult, Conversation, Message, MessageAck } from '../../src/protocol/index.js';
import { CLOSE_CODES } from '../../src/protocol/index.js';

type AckFrame = { type: 'message-ack'; data: MessageAck };
type NewFrame = { type: 'new-message'; data: Message };

async function world(api: Api, token: string): Promise<Conversation> {
  const list = await api.get<Conversation[]>('/api/conversations', token);
  assert.equal(list.status, 200, JSON.stringify(list.body));
  const found = list.body.data.find((c) => c.type === 'world');
  assert.ok(found, 'the world room is in the conversation list');
  return found;
}

/** The socket's close, or a failure after `timeoutMs`. */
function closedWithin(socket: WsClient, timeoutMs: number): Promise<{ code: number; reason: string }> {
  return Promise.race([
    socket.closed,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the socket stayed open')), timeoutMs).unref()),
  ]);
}

async function guest(api: Api): Promise<AuthResult> {
  const res = await api.post<AuthResult>('/api/auth/guest', {});
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data;
}

describe('World room delivery', () => {
  let server: TestServer;
  let api: Api;
  const sockets: WsClient[] = [];
  const connect = async (token: string) => {
    const socket = await WsClient.connect(server.wsUrl, token);
    sockets.push(socket);
    return socket;
  };

  before(async () => {
    server = await startServer();
    api = new Api(server.baseUrl);
  });
  after(async () => {
    for (const socket of sockets) socket.close();
    await server.stop();
  });

  it('a world message reaches every connected member exactly once, and not the sending connection', async () => {
    const alice = await api.user('walice');
    const bob = await api.user('wbob');
    const visitor = await guest(api);
    const { conversationId } = await world(api, alice.token);
    const [sending, alicePhone, bobSocket, visitorSocket] = [
      await connect(alice.token),
      await connect(alice.token),
      await connect(bob.token),
      await connect(visitor.token),
    ];
    sending.sendMessage(conversationId, 'hello world', 'w-1');
    sending.sendMessage(conversationId, 'second', 'w-2');
    const acks = await sending.collect<AckFrame>('message-ack', 2);
    for (const socket of [alicePhone, bobSocket, visitorSocket]) {
      const got = await socket.collect<NewFrame>('new-message', 2);
      assert.deepEqual(got.map((f) => f.data.messageId), acks.map((a) => a.data.messageId));
      assert.equal(got[0]!.data.content, 'hello world');
    }
    // Nothing more: a third message arrives next, so a duplicate of the first two would have been seen.
    bobSocket.sendMessage(conversationId, 'third', 'w-3');
    const third = (await bobSocket.nextOfType<AckFrame>('message-ack')).data;
    for (const socket of [sending, alicePhone, visitorSocket]) {
      assert.equal((await socket.nextOfType<NewFrame>('new-message')).data.messageId, third.messageId);
      assert.equal(socket.frames.filter((f) => f.type === 'new-message').length, 0);
    }
    assert.equal(sending.frames.filter((f) => f.type === 'new-message').length, 0, 'the sender got acks, not copies');
  });

  it('a user can send to the world immediately after registering, and a guest immediately after arriving', async () => {
    const listener = await api.user('wlisten');
    const { conversationId } = await world(api, listener.token);
    const listening = await connect(listener.token);
    // Warm the world's cache in the server before the newcomers exist.
    listening.sendMessage(conversationId, 'anyone there?', 'warm');
    await listening.nextOfType('message-ack');

    const username = uniqueName('wnew');
    assert.equal((await api.post('/api/auth/register', { username, password: 'correct horse' })).status, 201);
    const login = await api.post<AuthResult>('/api/auth/login', { username, password: 'correct horse' });
    const visitor = await guest(api);
    for (const [who, token] of [
      ['registered', login.body.data.token],
      ['guest', visitor.token],
    ] as const) {
      const socket = await connect(token);
      socket.sendMessage(conversationId, `hi from the ${who}`, `first-${who}`);
      const answer = await socket.next((f) => f.type === 'message-ack' || f.type === 'error');
      assert.equal(answer.type, 'message-ack', `${who}: ${JSON.stringify(answer)}`);
      assert.equal((await listening.nextOfType<NewFrame>('new-message')).data.content, `hi from the ${who}`);
    }
  });
});

describe('Guest expiry', () => {
  let server: TestServer;
  let api: Api;

  before(async () => {
    server = await startServer({ env: { GOCHAT_GUEST_TTL_SECONDS: '2', GOCHAT_GUEST_SWEEP_INTERVAL_MS: '200' } });
    api = new Api(server.baseUrl);
  });
  after(async () => server.stop());

  it('a guest inactive past the TTL gets 401, its socket is closed, it leaves the world and its messages stay', async () => {
    const member = await api.user('wstay');
    const visitor = await guest(api);
    const { conversationId } = await world(api, member.token);
    const socket = await WsClient.connect(server.wsUrl, visitor.token);
    socket.sendMessage(conversationId, 'I was here', 'guest-1');
    const said = (await socket.nextOfType<AckFrame>('message-ack')).data;
    const withGuest = (await world(api, member.token)).memberCount;

    // The guest now does nothing; the sweep expires it about 2 s after its last authentication.
    assert.equal((await closedWithin(socket, 15_000)).code, CLOSE_CODES.TOKEN_REVOKED);

    const me = await api.get('/api/users/info', visitor.token);
    assert.deepEqual([me.status, me.body.code], [401, 'TOKEN_REVOKED'], JSON.stringify(me.body));
    await assert.rejects(WsClient.connect(server.wsUrl, visitor.token), (err: { status?: number }) => err.status === 401);
    assert.equal((await world(api, member.token)).memberCount, withGuest - 1);
    const history = await api.get<Message[]>(`/api/conversations/${conversationId}/messages?afterSeq=${said.seqId - 1}&size=1`, member.token);
    assert.equal(history.body.data[0]?.messageId, said.messageId);
    assert.equal(history.body.data[0]?.senderName, visitor.user.username);
  });

  it('a registered user is never expired, however long it is inactive', async () => {
    const member = await api.user('wlong');
    const visitor = await guest(api);
    const socket = await WsClient.connect(server.wsUrl, visitor.token);
    await closedWithin(socket, 15_000); // a sweep has run past this guest's TTL...
    assert.equal((await api.get('/api/users/info', member.token)).status, 200); // ...and the registered user is still there
  });
});
