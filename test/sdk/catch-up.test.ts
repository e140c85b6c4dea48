/**
 * Catch-up against the in-process fake server: after being away the client fetches what it missed
 * with afterSeq, page by page, and emits every message once, in seqId order, with no gap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '../../sdk/index.js';
import { FakeServer, fakeClient, nextEvent, disconnectedAtEnd } from './fake-server.js';

function record(messages: Message[]): (m: Message) => void {
  return (m) => messages.push(m);
}

test('the first connect takes positions and emits no history', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  for (let i = 1; i <= 3; i++) srv.addMessage('c1', `old ${i}`);
  const { client } = fakeClient(srv);
  using _disconnect = disconnectedAtEnd(client);
  const seen: Message[] = [];
  client.on('message', record(seen));
  await client.connect();
  assert.deepEqual(seen, []);
  assert.ok(!srv.requests.some((r) => r.includes('afterSeq')), srv.requests.join(' '));
});

test('after a reconnect, what was missed is fetched with afterSeq page by page and emitted in seqId order', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  srv.addMessage('c1', 'before');
  const { client } = fakeClient(srv);
  using _disconnect = disconnectedAtEnd(client);
  const seen: Message[] = [];
  client.on('message', record(seen));
  await client.connect();
  client.disconnect();
  for (let i = 1; i <= 250; i++) srv.addMessage('c1', `while away ${i}`);
  await client.connect();
  assert.deepEqual(
    seen.map((m) => m.seqId),
    Array.from({ length: 250 }, (_, i) => i + 2),
  );
  assert.deepEqual(
    srv.requests.filter((r) => r.includes('afterSeq')),
    [1, 101, 201].map((after) => `/api/conversations/c1/messages?afterSeq=${after}&size=100`),
  );
});

test('a live message ahead of a gap is held until the gap is fetched: no gap, no duplicate', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  srv.addMessage('c1', 'first');
  const { client } = fakeClient(srv);
  using _disconnect = disconnectedAtEnd(client);
  const seen: Message[] = [];
  client.on('message', record(seen));
  await client.connect();
  srv.addMessage('c1', 'missed live'); // seqId 2, never pushed
  srv.deliver('c1', 'live'); // seqId 3
  while (seen.length < 2) await nextEvent(client, 'message');
  srv.deliver('c1', 'next'); // seqId 4
  await nextEvent(client, 'message');
  assert.deepEqual(
    seen.map((m) => [m.seqId, m.content]),
    [
      [2, 'missed live'],
      [3, 'live'],
      [4, 'next'],
    ],
  );
});

test('a conversation that appears after the first sync is emitted from its first message', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  srv.addMessage('c1', 'known');
  const { client } = fakeClient(srv);
  using _disconnect = disconnectedAtEnd(client);
  const seen: Message[] = [];
  client.on('message', record(seen));
  await client.connect();
  srv.addMessage('c2', 'hello'); // seqId 1 of a new group, before this client was told
  srv.deliver('c2', 'are you there'); // seqId 2
  while (seen.length < 2) await nextEvent(client, 'message');
  assert.deepEqual(
    seen.map((m) => m.content),
    ['hello', 'are you there'],
  );
});

test('a catch-up whose conversation list fails is reported and the client reconnects', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  srv.listFails = true;
  const { client, delaysDrawn } = fakeClient(srv);
  using _disconnect = disconnectedAtEnd(client);
  const error = nextEvent(client, 'error');
  client.connect().catch(() => undefined);
  assert.equal((await error).code, 'SERVICE_UNAVAILABLE');
  await delaysDrawn(1);
  assert.equal(client.state, 'reconnecting');
});
