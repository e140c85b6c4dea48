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

test('a conversation new since the last sync is caught up from its read pointer, not from 0', { timeout: 10_000 }, async () => {
  const { CatchUp } = await import('../../sdk/lib/catch-up.js');
  const message = (conversationId: string, seqId: number): Message => ({ messageId: `${conversationId}-${seqId}`, conversationId, senderId: 'x', senderName: 'x', content: `m${seqId}`, messageType: 'text', seqId, sendTime: '2026-12-03T10:00:00.000Z' });
  const row = (conversationId: string, last: number, lastReadSeq: number) => ({ conversationId, lastMessage: last === 0 ? null : message(conversationId, last), lastReadSeq }) as never;
  let list = [row('a', 2, 2)];
  const asked: number[] = [];
  const seen: Message[] = [];
  const catchUp = new CatchUp({
    source: {
      conversations: async () => list,
      messagesAfter: async (conversationId: string, afterSeq: number) => {
        asked.push(afterSeq);
        const last = conversationId === 'g' ? 6 : 2;
        return { messages: Array.from({ length: last - afterSeq }, (_, i) => message(conversationId, afterSeq + i + 1)), pagination: { page: 1, size: 50, total: last, hasMore: false } };
      },
    },
    emit: (m: Message) => seen.push(m),
    report: (err: unknown) => assert.fail(String(err)),
    active: () => true,
  });
  await catchUp.sync(() => true);
  // Added to group g while away: five messages before it, the "added you" line at 6, read up to 5.
  list = [row('a', 2, 2), row('g', 6, 5)];
  await catchUp.sync(() => true);
  assert.deepEqual([seen.map((m) => m.messageId), asked], [['g-6'], [5]]);
});

test("a conversation followed by a frame while the sync's list is on its way stays followed", { timeout: 10_000 }, async () => {
  const { CatchUp } = await import('../../sdk/lib/catch-up.js');
  let answer!: (list: never[]) => void;
  const catchUp = new CatchUp({
    source: { conversations: () => new Promise((resolve) => (answer = resolve)), messagesAfter: async () => assert.fail('nothing to fetch') },
    emit: () => undefined,
    report: (err: unknown) => assert.fail(String(err)),
    active: () => true,
  });
  const synced = catchUp.sync(() => true);
  catchUp.follow('added-meanwhile', 3);
  answer([]); // the list was read before the add
  await synced;
  assert.equal(catchUp.lastSeq('added-meanwhile'), 3);
});
