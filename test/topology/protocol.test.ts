/**
 * The protocol over the distributed topology: 2 gateways, 2 logic, 1 task, PostgreSQL and
 * Redis, each a real process. Clients are spread over both gateways; what they see must be
 * what the embedded server gives them: acks, live delivery, order, idempotency, errors.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Api, WsClient } from '../helpers/client.js';
import type { AuthResult, Conversation, Group, Message, MessageAck } from '../../src/protocol/index.js';
import { skipUnless } from '../ports/services.js';
import { startCluster, type Cluster } from './cluster.js';

type AckFrame = { type: 'message-ack'; data: MessageAck };
type NewFrame = { type: 'new-message'; data: Message };

let skip: string | false = false;
let cluster: Cluster;
let g1: Api;
let g2: Api;
const sockets: WsClient[] = [];

before(async () => {
  skip = (await skipUnless('postgres')) || (await skipUnless('redis'));
  if (skip) return;
  // Gateway 2 lists the logic instances the other way round, so the two gateways send a
  // conversation to different instances: several logic processes write one conversation.
  cluster = await startCluster({ logicAddrsFor: (i, addrs) => (i === 1 ? [...addrs].reverse() : addrs) });
  g1 = new Api(cluster.gateways[0]!.baseUrl);
  g2 = new Api(cluster.gateways[1]!.baseUrl);
});

after(async () => {
  for (const socket of sockets) socket.close();
  await cluster?.[Symbol.asyncDispose]();
});

const test = (title: string, body: () => Promise<void>) =>
  it(title, async (t) => {
    if (skip) return t.skip(skip);
    try {
      await body();
    } catch (err) {
      t.diagnostic(cluster.dump());
      throw err;
    }
  });

async function connect(gateway: 0 | 1, token: string): Promise<WsClient> {
  const socket = await WsClient.connect(cluster.gateways[gateway]!.wsUrl, token);
  sockets.push(socket);
  return socket;
}

async function group(owner: AuthResult, members: AuthResult[], name = 'team'): Promise<{ group: Group; conversation: Conversation }> {
  const res = await g1.post<{ group: Group; conversation: Conversation }>('/api/groups', { groupName: name, members: members.map((m) => m.user.userId) }, owner.token);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.data;
}

const newMessages = (socket: WsClient, conversationId: string, count: number, timeoutMs = 15_000) =>
  socket.collect<NewFrame>('new-message', count, timeoutMs).then((frames) => {
    for (const f of frames) assert.equal(f.data.conversationId, conversationId);
    return frames.map((f) => f.data);
  });

describe('distributed topology: the protocol across gateways', () => {
  test('a user registered through one gateway logs in through the other, and the token works on both', async () => {
    const alice = await g1.user('alice');
    const again = await g2.post<AuthResult>('/api/auth/login', { username: alice.user.username, password: 'correct horse' });
    assert.equal(again.status, 200);
    for (const api of [g1, g2]) {
      const me = await api.get<{ userId: string }>('/api/users/info', again.body.data.token);
      assert.equal(me.body.data.userId, alice.user.userId);
    }
  });

  test('1:1 across gateways: ack after storing, live delivery to the peer and to the sender\'s other device', async () => {
    const alice = await g1.user('alice');
    const bob = await g2.user('bob');
    const opened = await g1.post<Conversation>('/api/conversations', { targetUserId: bob.user.userId }, alice.token);
    assert.equal(opened.status, 201);
    const conversationId = opened.body.data.conversationId;
    const aliceWs = await connect(0, alice.token);
    const aliceOther = await connect(1, alice.token);
    const bobWs = await connect(1, bob.token);

    aliceWs.sendMessage(conversationId, 'hello bob', 'a-1');
    const ack = await aliceWs.nextOfType<AckFrame>('message-ack');
    assert.equal(ack.data.seqId, 1);
    assert.equal(ack.data.tempMessageId, 'a-1');
    const [atBob] = await newMessages(bobWs, conversationId, 1);
    assert.deepEqual({ ...atBob, sendTime: '' }, { messageId: ack.data.messageId, conversationId, senderId: alice.user.userId, senderName: alice.user.username, content: 'hello bob', messageType: 'text', seqId: 1, sendTime: '' });
    assert.equal((await newMessages(aliceOther, conversationId, 1))[0]!.messageId, ack.data.messageId);

    bobWs.sendMessage(conversationId, 'hi alice', 'b-1');
    assert.equal((await bobWs.nextOfType<AckFrame>('message-ack')).data.seqId, 2);
    assert.equal((await newMessages(aliceWs, conversationId, 1))[0]!.content, 'hi alice');
    // The sending connection got the ack, not its own message.
    assert.equal(aliceWs.frames.filter((f) => f.type === 'new-message').length, 0);

    const history = await g2.get<Message[]>(`/api/conversations/${conversationId}/messages?afterSeq=0`, alice.token);
    assert.deepEqual(history.body.data.map((m) => m.content), ['hello bob', 'hi alice']);
  });

  test('a resend through the other gateway is stored once and acked with the original ids', async () => {
    const alice = await g1.user('alice');
    const bob = await g1.user('bob');
    const { conversationId } = (await g1.post<Conversation>('/api/conversations', { targetUserId: bob.user.userId }, alice.token)).body.data;
    const first = await connect(0, alice.token);
    first.sendMessage(conversationId, 'once', 'same-temp');
    const ack1 = await first.nextOfType<AckFrame>('message-ack');
    const second = await connect(1, alice.token);
    second.sendMessage(conversationId, 'once', 'same-temp');
    const ack2 = await second.nextOfType<AckFrame>('message-ack');
    assert.deepEqual(ack2.data, ack1.data);
    const history = await g2.get<Message[]>(`/api/conversations/${conversationId}/messages?afterSeq=0`, bob.token);
    assert.equal(history.body.data.length, 1);
  });

  test('a large group is fanned out by the task worker to members on both gateways, once and in order', async () => {
    const [owner, m1, m2, m3] = await Promise.all(['owner', 'm', 'm', 'm'].map((p) => g1.user(p)));
    const { conversation } = await group(owner!, [m1!, m2!, m3!]);
    assert.equal(conversation.memberCount, 4); // above GOCHAT_LARGE_GROUP_THRESHOLD=3
    const ownerWs = await connect(0, owner!.token);
    const receivers = [await connect(0, m1!.token), await connect(1, m2!.token), await connect(1, m3!.token)];
    for (let i = 1; i <= 10; i++) ownerWs.sendMessage(conversation.conversationId, `big ${i}`, `big-${i}`);
    const acks = await ownerWs.collect<AckFrame>('message-ack', 10);
    assert.deepEqual(acks.map((a) => a.data.seqId).sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => i + 1));
    for (const socket of receivers) {
      const seqs = (await newMessages(socket, conversation.conversationId, 10)).map((m) => m.seqId);
      assert.deepEqual(seqs, Array.from({ length: 10 }, (_, i) => i + 1));
    }
    const metrics = await (await fetch(cluster.tasks[0]!.metricsUrl)).text();
    const lagCount = Number(/^gochat_fanout_lag_seconds_count\{[^}]*\} (\d+)/m.exec(metrics)?.[1] ?? 0);
    assert.ok(lagCount >= 10, `the task worker routed the deliveries (lag count ${lagCount})`);
  });

  test('concurrent senders through both gateways and both logic instances: gap-free seqIds, each connection in order, once', async () => {
    const users = await Promise.all(['c', 'c', 'c'].map((p) => g2.user(p)));
    const { conversation } = await group(users[0]!, users.slice(1)); // 3 members: routed directly, not via task
    const conversationId = conversation.conversationId;
    const perUser = 25;
    const connections = await Promise.all(users.flatMap((u) => [connect(0, u.token), connect(1, u.token)]));
    // Every connection has seen the conversation once before the burst (steady state).
    connections[0]!.sendMessage(conversationId, 'hello', 'warm-up');
    await connections[0]!.nextOfType<AckFrame>('message-ack');
    for (const socket of connections.slice(1)) await newMessages(socket, conversationId, 1);
    // User u sends from its connection on gateway (u % 2 + 1); its other connection listens.
    const senders = users.map((_, u) => connections[2 * u + (u % 2)]!);
    senders.forEach((socket, u) => {
      for (let i = 0; i < perUser; i++) socket.sendMessage(conversationId, `u${u} m${i}`, `u${u}-${i}`);
    });
    const total = users.length * perUser;
    const acksBySender = await Promise.all(senders.map((s) => s.collect<AckFrame>('message-ack', perUser, 30_000)));
    const acks = acksBySender.flat();
    assert.deepEqual(acks.map((a) => a.data.seqId).sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i + 2));
    for (const own of acksBySender) {
      const seqs = own.map((a) => a.data.seqId);
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'one sender\'s messages are numbered in its send order');
    }
    for (const [i, socket] of connections.entries()) {
      const expected = senders.includes(socket) ? total - perUser : total;
      const seqs = (await newMessages(socket, conversationId, expected, 30_000)).map((m) => m.seqId);
      for (let k = 1; k < seqs.length; k++) assert.ok(seqs[k]! > seqs[k - 1]!, `connection ${i} got seq ${seqs[k]} after ${seqs[k - 1]}`);
      assert.equal(new Set(seqs).size, expected);
    }
    for (const gateway of cluster.gateways) {
      const metrics = await (await fetch(gateway.metricsUrl)).text();
      assert.match(metrics, /^gochat_delivery_gaps_skipped_total\{[^}]*\} 0$/m, `${gateway.name} never gave up on a gap`);
    }
    // Both logic instances wrote this conversation, so the database did the numbering.
    for (const logic of cluster.logics) {
      const metrics = await (await fetch(logic.metricsUrl)).text();
      const served = /^gochat_grpc_server_duration_seconds_count\{[^}]*method="MessageService.SendMessage",code="OK"[^}]*\} (\d+)/m.exec(metrics);
      assert.ok(Number(served?.[1] ?? 0) > 0, `${logic.name} served sends`);
    }
  });

  test('logout through one gateway closes the token\'s socket on the other with TOKEN_REVOKED', async () => {
    const alice = await g1.user('alice');
    const socket = await connect(1, alice.token);
    const out = await g1.post('/api/auth/logout', undefined, alice.token);
    assert.equal(out.status, 200);
    const closed = await Promise.race([socket.closed, new Promise<null>((resolve) => setTimeout(() => resolve(null), 5000))]);
    assert.equal(closed?.code, 4501);
    assert.equal((await g2.get('/api/users/info', alice.token)).body.code, 'TOKEN_REVOKED');
  });

  test('logic errors reach the client with their contract codes through gRPC', async () => {
    const alice = await g1.user('alice');
    const bob = await g1.user('bob');
    const carol = await g2.user('carol');
    const { conversationId } = (await g1.post<Conversation>('/api/conversations', { targetUserId: bob.user.userId }, alice.token)).body.data;
    const foreign = await g2.get(`/api/conversations/${conversationId}/messages`, carol.token);
    assert.deepEqual([foreign.status, foreign.body.code], [403, 'NOT_CONVERSATION_MEMBER']);
    const taken = await g2.post('/api/auth/register', { username: alice.user.username.toUpperCase(), password: 'correct horse' });
    assert.deepEqual([taken.status, taken.body.code], [409, 'USERNAME_TAKEN']);
    const wrong = await g2.post('/api/auth/login', { username: alice.user.username, password: 'wrong password' });
    assert.deepEqual([wrong.status, wrong.body.code], [401, 'INVALID_CREDENTIALS']);
    const missing = await g1.post('/api/groups', { groupName: 'x', members: ['999999999'] }, alice.token);
    assert.deepEqual([missing.status, missing.body.code], [404, 'USER_NOT_FOUND']);
    const socket = await connect(1, carol.token);
    socket.sendMessage(conversationId, 'let me in', 'c-1');
    const error = await socket.nextOfType<{ type: 'error'; data: { code: string; tempMessageId: string } }>('error');
    assert.deepEqual([error.data.code, error.data.tempMessageId], ['NOT_CONVERSATION_MEMBER', 'c-1']);
    assert.equal((await g1.get('/readyz')).status, 200);
  });

  test('every role serves Prometheus metrics', async () => {
    const text = async (url: string) => {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
      return res.text();
    };
    const gateway = await text(cluster.gateways[0]!.metricsUrl);
    for (const name of ['gochat_ws_connections', 'gochat_messages_received_total', 'gochat_messages_acked_total', 'gochat_messages_delivered_total', 'gochat_grpc_client_duration_seconds_bucket']) {
      assert.match(gateway, new RegExp(`^${name}`, 'm'), name);
    }
    assert.match(gateway, /^gochat_messages_acked_total\{[^}]*\} [1-9]/m);
    const logic = await text(cluster.logics[0]!.metricsUrl);
    for (const name of ['gochat_grpc_server_duration_seconds_bucket', 'gochat_db_duration_seconds_bucket', 'gochat_messages_acked_total']) {
      assert.match(logic, new RegExp(`^${name}`, 'm'), name);
    }
    const task = await text(cluster.tasks[0]!.metricsUrl);
    assert.match(task, /^gochat_fanout_lag_seconds_bucket/m);
    assert.match(task, /^gochat_db_duration_seconds_bucket/m);
  });
});
