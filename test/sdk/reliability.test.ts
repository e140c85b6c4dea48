/**
 * The SDK's promises against the real server: live delivery in order, catch-up after being away,
 * unacked sends resent after the server dies and comes back — every message once, in seqId order.
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { GoChatError, type ConnectionState, type MessageAck } from '../../sdk/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api } from '../helpers/client.js';
import { disconnectClients, freePort, newClient, recordMessages, signUp, until } from './sdk-helpers.js';

afterEach(disconnectClients);

function seqIds(list: { seqId: number }[] | undefined): number[] {
  return (list ?? []).map((m) => m.seqId);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

test('two clients exchange messages live; each sees every message once, in seqId order, its own included', async () => {
  await using srv = await startServer();
  const alice = newClient(srv.baseUrl);
  const bob = newClient(srv.baseUrl);
  await signUp(alice, 'alice');
  await signUp(bob, 'bob');
  const chat = await alice.openConversation(bob.user!.userId);
  const aliceSeen = recordMessages(alice);
  const bobSeen = recordMessages(bob);
  await Promise.all([alice.connect(), bob.connect()]);
  assert.equal(alice.state, 'connected');
  await alice.connect(); // already connected: resolves at once

  const acks = await Promise.all([
    ...range(1, 20).map((i) => alice.send(chat.conversationId, `a${i}`)),
    ...range(1, 20).map((i) => bob.send(chat.conversationId, `b${i}`)),
  ]);
  assert.deepEqual(acks.map((a) => a.seqId).sort((x, y) => x - y), range(1, 40));
  const id = chat.conversationId;
  await until(bob, () => (bobSeen.get(id)?.length ?? 0) >= 40, () => `bob saw ${seqIds(bobSeen.get(id))}`);
  await until(alice, () => (aliceSeen.get(id)?.length ?? 0) >= 40, () => `alice saw ${seqIds(aliceSeen.get(id))}`);
  assert.deepEqual(seqIds(bobSeen.get(id)), range(1, 40));
  assert.deepEqual(seqIds(aliceSeen.get(id)), range(1, 40));
  const own = aliceSeen.get(id)!.filter((m) => m.senderId === alice.user!.userId);
  assert.deepEqual(own.map((m) => m.content), range(1, 20).map((i) => `a${i}`));
  assert.ok(own.every((m) => m.senderName === alice.user!.username));
  alice.disconnect();
  bob.disconnect();
});

test('a client that was away catches up on everything it missed, paging through afterSeq, in order', async () => {
  await using srv = await startServer();
  const alice = newClient(srv.baseUrl);
  const bob = newClient(srv.baseUrl);
  await signUp(alice, 'alice');
  await signUp(bob, 'bob');
  const chat = await alice.openConversation(bob.user!.userId);
  const bobSeen = recordMessages(bob);
  await Promise.all([alice.connect(), bob.connect()]);
  await alice.send(chat.conversationId, 'before');
  await until(bob, () => bobSeen.get(chat.conversationId)?.length === 1, () => 'bob never saw the first message');

  bob.disconnect();
  const sent = await Promise.all(range(1, 230).map((i) => alice.send(chat.conversationId, `while away ${i}`)));
  // A conversation that did not exist when bob left: he learns of it on reconnect and gets all of it.
  const carol = newClient(srv.baseUrl);
  await signUp(carol, 'carol');
  const { conversation: group } = await carol.createGroup('new while away', [bob.user!.userId]);
  await carol.connect();
  await carol.send(group.conversationId, 'welcome');
  await carol.send(group.conversationId, 'bob');

  const synced = new Promise<void>((resolve) => bob.once('synced', () => resolve()));
  await bob.connect();
  await synced;
  assert.deepEqual(seqIds(bobSeen.get(chat.conversationId)), range(1, 231));
  assert.deepEqual(bobSeen.get(chat.conversationId)!.slice(1).map((m) => m.messageId), sent.map((a) => a.messageId));
  assert.deepEqual(bobSeen.get(group.conversationId)?.map((m) => m.content), ['welcome', 'bob']);
  for (const c of [alice, bob, carol]) c.disconnect();
});

test('sends pending when the server is killed are resent after it restarts: stored once, nothing lost, in order', async () => {
  const port = await freePort();
  const env = { PORT: String(port) };
  let srv: TestServer = await startServer({ env });
  const dataDir = srv.dataDir;
  try {
    const alice = newClient(srv.baseUrl);
    const bob = newClient(srv.baseUrl);
    await signUp(alice, 'alice');
    await signUp(bob, 'bob');
    const chat = await alice.openConversation(bob.user!.userId);
    const id = chat.conversationId;
    const bobSeen = recordMessages(bob);
    const aliceSeen = recordMessages(alice);
    const states: ConnectionState[] = [];
    bob.on('state', (s) => states.push(s));
    await Promise.all([alice.connect(), bob.connect()]);

    const total = 300;
    const acked: MessageAck[] = [];
    const send = (i: number) =>
      alice.send(id, `burst ${i}`, { tempMessageId: `burst-${i}` }).then((ack) => {
        acked.push(ack);
        return ack;
      });
    // Kill -9 the server in the middle of a burst: some sends are acked, some maybe stored but not acked, some not stored.
    const sends = range(1, total / 2).map(send);
    await until(alice, () => alice.pendingSends.length < total / 2, () => 'no ack at all');
    await srv.kill();
    // And keep sending while it is down: these can only wait in the outbox.
    sends.push(...range(total / 2 + 1, total).map(send));
    assert.ok(alice.pendingSends.length >= total / 2, `${alice.pendingSends.length} sends pending while the server is down`);
    srv = await startServer({ env, dataDir });

    const acks = await Promise.all(sends);
    assert.deepEqual(acks.map((a) => a.seqId).sort((x, y) => x - y), range(1, total), 'each send stored once, no gaps');
    await until(bob, () => (bobSeen.get(id)?.length ?? 0) >= total, () => `bob saw ${bobSeen.get(id)?.length}`, 30_000);
    await until(alice, () => (aliceSeen.get(id)?.length ?? 0) >= total, () => `alice saw ${aliceSeen.get(id)?.length}`, 30_000);
    assert.deepEqual(seqIds(bobSeen.get(id)), range(1, total));
    assert.deepEqual(seqIds(aliceSeen.get(id)), range(1, total));
    assert.equal(new Set(bobSeen.get(id)!.map((m) => m.content)).size, total);
    assert.ok(states.includes('reconnecting'), `bob went through ${states.join(' → ')}`);

    const api = new Api(srv.baseUrl);
    const stored = await api.get<{ seqId: number; content: string }[]>(`/api/conversations/${id}/messages?afterSeq=0&size=100`, bob.token!);
    assert.equal(stored.body.pagination?.total, total, 'the server stored each message once');
    alice.disconnect();
    bob.disconnect();
  } finally {
    await srv.stop();
  }
});

test('dropping the socket mid-burst loses no send and stores none twice: resends with the same tempMessageId get the original ack', async () => {
  await using srv = await startServer();
  const alice = newClient(srv.baseUrl);
  const bob = newClient(srv.baseUrl);
  await signUp(alice, 'alice');
  await signUp(bob, 'bob');
  const id = (await alice.openConversation(bob.user!.userId)).conversationId;
  const bobSeen = recordMessages(bob);
  const aliceSeen = recordMessages(alice);
  await Promise.all([alice.connect(), bob.connect()]);

  const total = 200;
  // The socket is dropped as the first ack arrives: the frames written after it reach the server and
  // are stored, but their acks go to a socket that is gone. (Acks may arrive in one burst, so the
  // drop happens inside the frame handler rather than after polling.)
  let pendingAtDrop = -1;
  alice.on('frame', (frame) => {
    if (frame.type !== 'message-ack' || pendingAtDrop >= 0) return;
    pendingAtDrop = alice.pendingSends.length;
    alice.reconnectNow();
  });
  const sends = range(1, total).map((i) => alice.send(id, `m${i}`));
  const acks = await Promise.all(sends);
  assert.ok(pendingAtDrop > 1, `sends were still unacked when the socket was dropped (${pendingAtDrop})`);
  assert.deepEqual(acks.map((a) => a.seqId).sort((x, y) => x - y), range(1, total));
  assert.equal(new Set(acks.map((a) => a.messageId)).size, total);
  await until(bob, () => (bobSeen.get(id)?.length ?? 0) >= total, () => `bob saw ${bobSeen.get(id)?.length}`);
  await until(alice, () => (aliceSeen.get(id)?.length ?? 0) >= total, () => `alice saw ${aliceSeen.get(id)?.length}`);
  assert.deepEqual(seqIds(bobSeen.get(id)), range(1, total));
  assert.deepEqual(seqIds(aliceSeen.get(id)), range(1, total));
  assert.deepEqual(new Set(bobSeen.get(id)!.map((m) => m.content)), new Set(range(1, total).map((i) => `m${i}`)));
  const stored = await new Api(srv.baseUrl).get(`/api/conversations/${id}/messages?size=1`, bob.token!);
  assert.equal(stored.body.pagination?.total, total, 'the server stored each message once');
  alice.disconnect();
  bob.disconnect();
});

test('a revoked token ends the connection for good with TOKEN_REVOKED; no reconnect loop', async () => {
  await using srv = await startServer();
  const alice = newClient(srv.baseUrl);
  await signUp(alice, 'alice');
  await alice.connect();
  const errors: GoChatError[] = [];
  alice.on('error', (e) => errors.push(e));
  const api = new Api(srv.baseUrl);
  const out = await api.post('/api/auth/logout', undefined, alice.token!);
  assert.equal(out.status, 200);
  await until(alice, () => alice.state === 'idle', () => `state ${alice.state}`);
  assert.deepEqual(errors.map((e) => e.code), ['TOKEN_REVOKED']);
  await assert.rejects(alice.connect(), (e: unknown) => e instanceof GoChatError && e.code === 'TOKEN_REVOKED');
});

test('the client pings; a server that stops answering is detected and the client reconnects when it is back', async () => {
  await using srv = await startServer();
  const alice = newClient(srv.baseUrl, { pingIntervalMs: 100, pongTimeoutMs: 400 });
  await signUp(alice, 'alice');
  let pongs = 0;
  alice.on('frame', (f) => {
    if (f.type === 'pong') pongs++;
  });
  await alice.connect();
  await until(alice, () => pongs >= 2, () => `${pongs} pongs`);
  // Freeze the server: the TCP connection stays up, but nothing answers.
  srv.process.kill('SIGSTOP');
  try {
    await until(alice, () => alice.state === 'reconnecting', () => `state ${alice.state}`, 10_000);
  } finally {
    srv.process.kill('SIGCONT');
  }
  await until(alice, () => alice.state === 'connected', () => `state ${alice.state}`, 15_000);
  alice.disconnect();
});
