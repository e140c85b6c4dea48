/**
 * Typing indicators through the SDK: `typing` throttled to one frame per 2 s per conversation and
 * none without a connection, `stop-typing` only after a `typing`, and `typingIn` (expiry from
 * receipt on an injected clock, cleared by `typing: false` and by that user's message). Against
 * the fake server for the wire and the clock, against the real server for two users.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TypingIndicator } from '../../sdk/index.js';
import { startServer } from '../helpers/server.js';
import { disconnectClients, newClient, signUp, until } from './sdk-helpers.js';
import { FakeServer, disconnectedAtEnd, fakeClient, nextEvent } from './fake-server.js';

afterEach(disconnectClients);

const typingFrames = (frames: { type: string; data?: unknown }[]) =>
  frames.filter((f) => f.type === 'typing' || f.type === 'stop-typing').map((f) => `${f.type}:${(f.data as { conversationId: string }).conversationId}`);

const indicator = (conversationId: string, userId: string, username: string, typing = true, expiresInMs = 6000): TypingIndicator => ({
  conversationId,
  userId,
  username,
  typing,
  expiresInMs,
});

describe('typing on the wire (fake server)', () => {
  it('one typing per conversation every 2 s, however often it is called', async () => {
    await using srv = await FakeServer.start();
    let clock = 1_000_000;
    const { client, written } = fakeClient(srv, { now: () => clock });
    using _disconnect = disconnectedAtEnd(client);
    await client.connect();
    client.typing('c1');
    client.typing('c1');
    clock += 1_999;
    client.typing('c1');
    client.typing('c2'); // another conversation has its own throttle
    assert.deepEqual(typingFrames(written), ['typing:c1', 'typing:c2']);
    clock += 1;
    client.typing('c1');
    client.typing('c1');
    assert.deepEqual(typingFrames(written), ['typing:c1', 'typing:c2', 'typing:c1']);
    await srv.connections[0]!.framesOf('typing', 3);
  });

  it('stop-typing only after a typing that was not stopped yet; typing again after a stop goes out', async () => {
    await using srv = await FakeServer.start();
    let clock = 1_000_000;
    const { client, written } = fakeClient(srv, { now: () => clock });
    using _disconnect = disconnectedAtEnd(client);
    await client.connect();
    client.stopTyping('c1'); // never typed
    assert.deepEqual(typingFrames(written), []);
    client.typing('c1');
    client.stopTyping('c1');
    client.stopTyping('c1'); // already stopped
    assert.deepEqual(typingFrames(written), ['typing:c1', 'stop-typing:c1']);
    clock += 10;
    client.typing('c1'); // a new burst: not throttled by the stopped one
    client.stopTyping('c1');
    assert.deepEqual(typingFrames(written), ['typing:c1', 'stop-typing:c1', 'typing:c1', 'stop-typing:c1']);
    await srv.connections[0]!.framesOf('stop-typing', 2);
  });

  it('nothing while not connected; the first call once connected goes out', async () => {
    await using srv = await FakeServer.start();
    const clock = 1_000_000;
    const { client, written } = fakeClient(srv, { now: () => clock });
    using _disconnect = disconnectedAtEnd(client);
    client.typing('c1');
    client.stopTyping('c1');
    await client.connect();
    assert.deepEqual(typingFrames(written), []);
    client.typing('c1');
    assert.deepEqual(typingFrames(written), ['typing:c1']);
  });
});

describe('typingIn and the typing event (fake server, injected clock)', () => {
  it('each entry lasts expiresInMs from receipt, renewed by a new indicator; typing:false clears it', async () => {
    await using srv = await FakeServer.start();
    let clock = 1_000_000;
    const { client } = fakeClient(srv, { now: () => clock });
    using _disconnect = disconnectedAtEnd(client);
    await client.connect();
    const conn = srv.connections[0]!;
    const events: TypingIndicator[] = [];
    client.on('typing', (t) => events.push(t));

    conn.send({ type: 'typing-indicator', data: indicator('c1', '2', 'bob') });
    await nextEvent(client, 'typing');
    assert.deepEqual(events, [indicator('c1', '2', 'bob')]);
    assert.deepEqual(client.typingIn('c1'), [{ userId: '2', username: 'bob' }]);
    assert.deepEqual(client.typingIn('c2'), []);
    clock += 5_999;
    assert.deepEqual(client.typingIn('c1'), [{ userId: '2', username: 'bob' }]);
    clock += 1;
    assert.deepEqual(client.typingIn('c1'), [], 'expired 6 s after receipt');

    conn.send({ type: 'typing-indicator', data: indicator('c1', '2', 'bob') });
    await nextEvent(client, 'typing');
    clock += 4_000;
    conn.send({ type: 'typing-indicator', data: indicator('c1', '3', 'cal') });
    await nextEvent(client, 'typing');
    conn.send({ type: 'typing-indicator', data: indicator('c1', '2', 'bob') }); // renewed at +4 s
    await nextEvent(client, 'typing');
    clock += 5_000;
    assert.deepEqual(client.typingIn('c1'), [{ userId: '2', username: 'bob' }, { userId: '3', username: 'cal' }], 'the renewal counts from its own receipt');

    conn.send({ type: 'typing-indicator', data: indicator('c1', '3', 'cal', false, 0) });
    await nextEvent(client, 'typing');
    assert.deepEqual(client.typingIn('c1'), [{ userId: '2', username: 'bob' }]);
    assert.equal(events.at(-1)?.typing, false);
  });

  it("a user's message in the conversation clears that user only, before the message event", async () => {
    await using srv = await FakeServer.start();
    srv.addMessage('c1', 'earlier');
    const clock = 1_000_000;
    const { client } = fakeClient(srv, { now: () => clock });
    using _disconnect = disconnectedAtEnd(client);
    await client.connect();
    const conn = srv.connections[0]!;
    conn.send({ type: 'typing-indicator', data: indicator('c1', '2', 'bob') });
    conn.send({ type: 'typing-indicator', data: indicator('c1', '3', 'cal') });
    conn.send({ type: 'typing-indicator', data: indicator('c2', '2', 'bob') });
    await until(client, () => client.typingIn('c2').length === 1, () => 'indicators not received');
    let seenAtMessage: unknown = null;
    client.once('message', () => (seenAtMessage = client.typingIn('c1')));
    srv.deliver('c1', 'hi'); // from bob (userId 2)
    await nextEvent(client, 'message');
    assert.deepEqual(seenAtMessage, [{ userId: '3', username: 'cal' }]);
    assert.deepEqual(client.typingIn('c1'), [{ userId: '3', username: 'cal' }]);
    assert.deepEqual(client.typingIn('c2'), [{ userId: '2', username: 'bob' }], 'another conversation keeps it');
  });
});

describe('typing between two users (real server)', () => {
  it('one types; the other gets the typing event and typingIn, then stop clears it', async () => {
    await using srv = await startServer();
    const ann = newClient(srv.baseUrl);
    const ben = newClient(srv.baseUrl);
    await Promise.all([signUp(ann, 'ann'), signUp(ben, 'ben')]);
    const { conversationId } = await ann.openConversation(ben.user!.userId);
    await Promise.all([ann.connect(), ben.connect()]);
    const events: TypingIndicator[] = [];
    ben.on('typing', (t) => events.push(t));
    const annEvents: TypingIndicator[] = [];
    ann.on('typing', (t) => annEvents.push(t));

    ann.typing(conversationId);
    await until(ben, () => events.length > 0, () => 'no typing event');
    assert.deepEqual(events[0], { conversationId, userId: ann.user!.userId, username: ann.user!.username, typing: true, expiresInMs: events[0]!.expiresInMs });
    assert.ok(events[0]!.expiresInMs > 0);
    assert.deepEqual(ben.typingIn(conversationId), [{ userId: ann.user!.userId, username: ann.user!.username }]);

    ann.stopTyping(conversationId);
    await until(ben, () => events.length > 1, () => 'no stop');
    assert.equal(events[1]!.typing, false);
    assert.deepEqual(ben.typingIn(conversationId), []);
    assert.deepEqual(annEvents, [], 'never to the typer');
  });
});
