/**
 * The outbox against the in-process fake server: every send is stored once, whatever happens to
 * the connection, and resends follow the backoff. Time is mocked where the behaviour is about time.
 */
import { afterEach, beforeEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { CLOSE_CODES, GoChatError } from '../../sdk/index.js';
import { MAX_SEND_RETRIES } from '../../sdk/lib/outbox.js';
import { FakeServer, fakeClient, disconnectedAtEnd } from './fake-server.js';

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval'] }));
// As in connection.test.ts: run out what a test left pending before the reset.
afterEach(() => {
  mock.timers.runAll();
  mock.timers.reset();
});

function sentIds(frames: { type: string; data?: unknown }[]): string[] {
  return frames.filter((f) => f.type === 'send-message').map((f) => (f.data as { tempMessageId: string }).tempMessageId);
}

test('a send unacked when the connection drops is written again on the next one, with the same tempMessageId', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  const { client, written, delaysDrawn } = fakeClient(srv);
  using _disconnect = disconnectedAtEnd(client);
  await client.connect();
  srv.onSend = () => 'ignore';
  const sent = client.send('c1', 'hello', { tempMessageId: 't-1' });
  await srv.connections[0]!.framesOf('send-message', 1);
  srv.onSend = () => 'ack';
  srv.connections[0]!.close(CLOSE_CODES.SLOW_CONSUMER);
  await delaysDrawn(1);
  mock.timers.tick(50);
  const ack = await sent;
  assert.deepEqual(sentIds(written), ['t-1', 't-1']);
  assert.equal(ack.seqId, 1);
  assert.equal(srv.history.get('c1')?.length, 1);
});

test('a retryable error frame resends after the backoff delay, not before', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  const { client, written, delaysDrawn } = fakeClient(srv);
  using _disconnect = disconnectedAtEnd(client);
  await client.connect();
  let answers = 0;
  srv.onSend = () => (answers++ === 0 ? { code: 'RATE_LIMITED' } : 'ack');
  const sent = client.send('c1', 'hello');
  await delaysDrawn(1);
  // First resend: attempt 1 of the backoff, half of 2 × minDelayMs without jitter.
  mock.timers.tick(99);
  assert.equal(sentIds(written).length, 1);
  mock.timers.tick(1);
  assert.equal(sentIds(written).length, 2);
  assert.equal((await sent).seqId, 1);
});

test(`retryable errors reject the send after ${MAX_SEND_RETRIES} resends`, { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  const { client, written, delaysDrawn } = fakeClient(srv);
  using _disconnect = disconnectedAtEnd(client);
  await client.connect();
  srv.onSend = () => ({ code: 'SERVICE_UNAVAILABLE' });
  const sent = client.send('c1', 'hello');
  for (let i = 1; i <= MAX_SEND_RETRIES; i++) {
    await delaysDrawn(i);
    mock.timers.tick(1_000);
  }
  await assert.rejects(sent, (e: unknown) => e instanceof GoChatError && e.code === 'SERVICE_UNAVAILABLE');
  assert.equal(sentIds(written).length, MAX_SEND_RETRIES + 1);
  assert.equal(client.pendingSends.length, 0);
});

test('a send the server refuses for good rejects with its code and is not resent', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  const { client, written } = fakeClient(srv);
  using _disconnect = disconnectedAtEnd(client);
  await client.connect();
  srv.onSend = () => ({ code: 'NOT_CONVERSATION_MEMBER' });
  await assert.rejects(client.send('c1', 'hello'), (e: unknown) => e instanceof GoChatError && e.code === 'NOT_CONVERSATION_MEMBER');
  mock.timers.tick(60_000);
  assert.equal(sentIds(written).length, 1);
});

test('a send not acked within sendTimeoutMs rejects with TIMEOUT and leaves the outbox', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  const { client } = fakeClient(srv, { sendTimeoutMs: 5_000 });
  using _disconnect = disconnectedAtEnd(client);
  await client.connect();
  srv.onSend = () => 'ignore';
  const sent = client.send('c1', 'hello');
  mock.timers.tick(4_999);
  assert.equal(client.pendingSends.length, 1);
  mock.timers.tick(1);
  await assert.rejects(sent, (e: unknown) => e instanceof GoChatError && e.code === 'TIMEOUT');
  assert.equal(client.pendingSends.length, 0);
});

test('a send that joined another times out with it', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  const { client } = fakeClient(srv, { sendTimeoutMs: 5_000 });
  using _disconnect = disconnectedAtEnd(client);
  await client.connect();
  srv.onSend = () => 'ignore';
  const first = client.send('c1', 'hello', { tempMessageId: 't-join' });
  const joined = client.send('c1', 'hello', { tempMessageId: 't-join' });
  mock.timers.tick(5_000);
  const timedOut = (e: unknown) => e instanceof GoChatError && e.code === 'TIMEOUT';
  await Promise.all([assert.rejects(first, timedOut), assert.rejects(joined, timedOut)]);
});

test('a second send with the same tempMessageId joins the first: written once, both get its ack', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  const { client, written } = fakeClient(srv);
  using _disconnect = disconnectedAtEnd(client);
  await client.connect();
  const [first, second] = await Promise.all([client.send('c1', 'hello', { tempMessageId: 't-1' }), client.send('c1', 'hello', { tempMessageId: 't-1' })]);
  assert.deepEqual(first, second);
  assert.deepEqual(sentIds(written), ['t-1']);
});

test('past maxOutbox unacked sends, send() rejects with OUTBOX_FULL', async () => {
  await using srv = await FakeServer.start();
  const { client } = fakeClient(srv, { maxOutbox: 2 });
  const waiting = [client.send('c1', 'a'), client.send('c1', 'b')];
  await assert.rejects(client.send('c1', 'c'), (e: unknown) => e instanceof GoChatError && e.code === 'OUTBOX_FULL');
  await client.logout();
  await Promise.allSettled(waiting);
});

test('logout rejects every pending send with CLOSED', { timeout: 10_000 }, async () => {
  await using srv = await FakeServer.start();
  const { client } = fakeClient(srv, { sendTimeoutMs: 5_000 });
  const sent = client.send('c1', 'hello');
  await client.logout();
  await assert.rejects(sent, (e: unknown) => e instanceof GoChatError && e.code === 'CLOSED');
  assert.equal(client.pendingSends.length, 0);
});
