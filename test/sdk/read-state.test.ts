/**
 * Read state through the SDK: `markRead` (HTTP, optional seqId) and `markReadUpTo` (the socket's
 * mark-read, coalesced per conversation, held while disconnected); the `conversation-read` event,
 * which the kept conversations follow, never backwards. Against the real server for two devices of
 * one user, against the fake server for what is written on the wire.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GoChatError, type ReadReceipt, type ReadResult } from '../../sdk/index.js';
import { startServer } from '../helpers/server.js';
import { disconnectClients, newClient, PASSWORD, signUp, until } from './sdk-helpers.js';
import { FakeServer, disconnectedAtEnd, fakeClient, nextEvent } from './fake-server.js';

afterEach(disconnectClients);

const marks = (frames: { type: string; data?: unknown }[]) => frames.filter((f) => f.type === 'mark-read').map((f) => f.data);

describe('read receipts in a 1:1 (real server)', () => {
  it("the writer gets read-receipt when the peer reads, and its kept conversation's peerLastReadSeq follows", async () => {
    await using srv = await startServer();
    const ann = newClient(srv.baseUrl, { keepConversations: true });
    const ben = newClient(srv.baseUrl);
    await Promise.all([signUp(ann, 'ann'), signUp(ben, 'ben')]);
    const id = (await ann.openConversation(ben.user!.userId)).conversationId;
    await Promise.all([ann.connect(), ben.connect()]);
    const last = (await ann.send(id, 'seen?')).seqId;
    const kept = () => ann.knownConversations().find((c) => c.conversationId === id);
    assert.equal(kept()?.peerLastReadSeq, 0);
    const receipts: ReadReceipt[] = [];
    ann.on('read-receipt', (r) => receipts.push(r));
    await ben.markRead(id);
    await until(ann, () => receipts.length === 1, () => 'no receipt');
    assert.deepEqual(receipts[0], { conversationId: id, userId: ben.user!.userId, lastReadSeq: last });
    assert.equal(kept()?.peerLastReadSeq, last);
    // A reconnect reads the list again: the pointer is the server's.
    ann.disconnect();
    await ann.connect();
    assert.equal(kept()?.peerLastReadSeq, last);
  });
});

describe('read state, two devices of one user (real server)', () => {
  it('one device marks read; the other gets conversation-read and its kept unread count follows', async () => {
    await using srv = await startServer();
    const ann = newClient(srv.baseUrl);
    const phone = newClient(srv.baseUrl);
    const laptop = newClient(srv.baseUrl, { keepConversations: true });
    await Promise.all([signUp(ann, 'ann'), signUp(phone, 'ben')]);
    await laptop.login(phone.user!.username, PASSWORD);
    const chat = await ann.openConversation(phone.user!.userId);
    const id = chat.conversationId;
    await ann.connect();
    let last = 0;
    for (let i = 1; i <= 3; i++) last = (await ann.send(id, `m${i}`)).seqId;
    await Promise.all([phone.connect(), laptop.connect()]);
    const kept = () => laptop.knownConversations().find((c) => c.conversationId === id);
    assert.equal(kept()?.unreadCount, 3);
    const laptopReads: ReadResult[] = [];
    laptop.on('conversation-read', (r) => laptopReads.push(r));

    // HTTP, up to a seqId: the answer and the other device agree.
    const first = await phone.markRead(id, last - 2);
    assert.deepEqual(first, { conversationId: id, lastReadSeq: last - 2, unreadCount: 2 });
    await until(laptop, () => kept()?.unreadCount === 2, () => `laptop keeps ${JSON.stringify(kept())}`);

    // The socket: the other device's event, and its kept conversation at 0.
    phone.markReadUpTo(id, last - 1);
    phone.markReadUpTo(id, last);
    await until(laptop, () => kept()?.unreadCount === 0, () => `laptop keeps ${JSON.stringify(kept())}`);
    assert.equal(kept()?.lastReadSeq, last);
    assert.deepEqual(laptopReads.at(-1), { conversationId: id, lastReadSeq: last, unreadCount: 0 });
    // The server agrees, and the peer's read state is its own.
    assert.equal((await phone.conversation(id)).unreadCount, 0);
    assert.equal((await ann.conversation(id)).unreadCount, 0);

    // markRead() without a seqId still reads everything.
    await ann.send(id, 'one more');
    assert.equal((await phone.markRead(id)).unreadCount, 0);
  });

  it('a refused mark comes as an error event', async () => {
    await using srv = await startServer();
    const [ann, ben, cal] = [newClient(srv.baseUrl), newClient(srv.baseUrl), newClient(srv.baseUrl)];
    await Promise.all([signUp(ann, 'ann'), signUp(ben, 'ben'), signUp(cal, 'cal')]);
    const { conversationId } = await ann.openConversation(ben.user!.userId);
    await cal.connect();
    const errors: GoChatError[] = [];
    cal.on('error', (e) => errors.push(e));
    cal.markReadUpTo(conversationId, 1);
    await until(cal, () => errors.length > 0, () => 'no error');
    assert.equal(errors[0]!.code, 'NOT_CONVERSATION_MEMBER');
  });
});

describe('markReadUpTo on the wire (fake server)', () => {
  it('three marks in a row are one frame with the furthest seqId; other conversations their own', async () => {
    await using srv = await FakeServer.start();
    const { client, written } = fakeClient(srv);
    using _disconnect = disconnectedAtEnd(client);
    await client.connect();
    client.markReadUpTo('c1', 4);
    client.markReadUpTo('c1', 7);
    client.markReadUpTo('c1', 5);
    client.markReadUpTo('c2', 1);
    await srv.connections[0]!.framesOf('mark-read', 2);
    client.markReadUpTo('c1', 9);
    await srv.connections[0]!.framesOf('mark-read', 3);
    assert.deepEqual(marks(written), [
      { conversationId: 'c1', seqId: 7 },
      { conversationId: 'c2', seqId: 1 },
      { conversationId: 'c1', seqId: 9 },
    ]);
  });

  it('marks made while disconnected wait, and the furthest is sent after reconnecting', async () => {
    await using srv = await FakeServer.start();
    const { client, written } = fakeClient(srv);
    using _disconnect = disconnectedAtEnd(client);
    await client.connect();
    client.disconnect();
    await srv.connections[0]!.closed;
    client.markReadUpTo('c1', 2);
    client.markReadUpTo('c1', 6);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(marks(written), [], 'nothing written without a connection');
    const next = srv.nextConnection();
    await client.connect();
    const second = await next;
    await second.framesOf('mark-read', 1);
    assert.deepEqual(marks(written), [{ conversationId: 'c1', seqId: 6 }]);
  });

  it('refuses a seqId that is not a non-negative integer', () => {
    const client = newClient('http://127.0.0.1:1');
    for (const bad of [-1, 1.5, Number.NaN]) assert.throws(() => client.markReadUpTo('c1', bad), (e: unknown) => e instanceof GoChatError && e.code === 'VALIDATION_ERROR');
  });

  it('conversation-read moves the kept conversation forward only', async () => {
    await using srv = await FakeServer.start();
    srv.addMessage('c1', 'one');
    srv.addMessage('c1', 'two');
    srv.addMessage('c1', 'three');
    const { client } = fakeClient(srv, { keepConversations: true });
    using _disconnect = disconnectedAtEnd(client);
    await client.connect();
    const kept = () => client.knownConversations().find((c) => c.conversationId === 'c1')!;
    const conn = srv.connections[0]!;
    const events: ReadResult[] = [];
    client.on('conversation-read', (r) => events.push(r));
    conn.send({ type: 'conversation-read', data: { conversationId: 'c1', lastReadSeq: 3, unreadCount: 0 } });
    await nextEvent(client, 'conversation-read');
    assert.deepEqual([kept().lastReadSeq, kept().unreadCount], [3, 0]);
    conn.send({ type: 'conversation-read', data: { conversationId: 'c1', lastReadSeq: 2, unreadCount: 1 } });
    await nextEvent(client, 'conversation-read');
    assert.deepEqual([kept().lastReadSeq, kept().unreadCount], [3, 0], 'an older pointer is ignored');
    assert.equal(events.length, 2, 'the event is told either way');
  });
});
