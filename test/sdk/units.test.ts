/** The SDK's pure parts: backoff delays, the per-conversation sequencer, the emitter, error typing. */
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, backoffDelay, createTempId, Emitter, GoChatError, Sequencer, type Message } from '../../sdk/index.js';

function message(conversationId: string, seqId: number): Message {
  return {
    messageId: `${conversationId}-${seqId}`,
    conversationId,
    senderId: '1',
    senderName: 'alice',
    content: `m${seqId}`,
    messageType: 'text',
    seqId,
    sendTime: new Date(0).toISOString(),
  };
}

test('backoff delays grow exponentially up to the cap, with jitter in the upper half', () => {
  const options = { minDelayMs: 100, maxDelayMs: 1_000 };
  assert.equal(backoffDelay(0, { ...options, random: () => 0 }), 50);
  assert.equal(backoffDelay(0, { ...options, random: () => 0.999999 }), 100);
  assert.equal(backoffDelay(3, { ...options, random: () => 0 }), 400);
  assert.equal(backoffDelay(30, { ...options, random: () => 0.999999 }), 1_000);
  const backoff = new Backoff(options);
  const delays = Array.from({ length: 8 }, () => backoff.next());
  for (const [i, delay] of delays.entries()) {
    const cap = Math.min(1_000, 100 * 2 ** i);
    assert.ok(delay >= cap / 2 && delay <= cap, `attempt ${i}: ${delay} not in [${cap / 2}, ${cap}]`);
  }
  assert.equal(backoff.attempts, 8);
  backoff.reset();
  assert.ok(backoff.next() <= 100);
});

test('the sequencer emits in seqId order once each, holding messages that arrive ahead of a gap', () => {
  const emitted: number[] = [];
  const fills: Array<[string, number]> = [];
  const sequencer = new Sequencer({ emit: (m) => emitted.push(m.seqId), fill: (id, after) => fills.push([id, after]), maxAhead: 100 });
  sequencer.track('c', 2);
  for (const seq of [1, 2, 3, 3, 6, 5, 4, 6, 7]) sequencer.push(message('c', seq));
  assert.deepEqual(emitted, [3, 4, 5, 6, 7]);
  assert.deepEqual(fills, [['c', 3], ['c', 3]]);
  assert.equal(sequencer.lastSeq('c'), 7);
  assert.equal(sequencer.hasGap('c'), false);
});

test('the sequencer ignores conversations it does not track and keeps them apart', () => {
  const emitted: string[] = [];
  const sequencer = new Sequencer({ emit: (m) => emitted.push(m.messageId), fill: () => undefined, maxAhead: 100 });
  sequencer.push(message('x', 1));
  sequencer.track('a', 0);
  sequencer.track('b', 10);
  sequencer.push(message('b', 11));
  sequencer.push(message('a', 1));
  sequencer.track('a', 50);
  sequencer.push(message('a', 2));
  assert.deepEqual(emitted, ['b-11', 'a-1', 'a-2']);
});

test('the sequencer bounds what it holds ahead of a gap', () => {
  const emitted: number[] = [];
  const sequencer = new Sequencer({ emit: (m) => emitted.push(m.seqId), fill: () => undefined, maxAhead: 2 });
  sequencer.track('c', 0);
  for (const seq of [3, 4, 5]) sequencer.push(message('c', seq));
  sequencer.push(message('c', 1));
  sequencer.push(message('c', 2));
  assert.deepEqual(emitted, [1, 2, 3, 4], 'seqId 5 was past the bound: dropped, to be fetched again');
  assert.equal(sequencer.lastSeq('c'), 4);
});

test('an emitter listener that throws does not stop the others', () => {
  class Events extends Emitter<{ tick: number }> {
    fire(n: number) {
      this.emit('tick', n);
    }
  }
  const events = new Events();
  const got: number[] = [];
  const originalError = console.error;
  console.error = () => undefined;
  try {
    events.on('tick', () => {
      throw new Error('boom');
    });
    const off = events.on('tick', (n) => got.push(n));
    events.once('tick', (n) => got.push(n * 10));
    events.fire(1);
    off();
    events.fire(2);
  } finally {
    console.error = originalError;
  }
  assert.deepEqual(got, [1, 10]);
  assert.equal(events.listenerCount('tick'), 1);
});

test('errors carry the contract code, its HTTP status and whether to retry', () => {
  const frameError = GoChatError.fromFrame({ code: 'NOT_CONVERSATION_MEMBER', message: 'no', tempMessageId: 't1' });
  assert.equal(frameError.code, 'NOT_CONVERSATION_MEMBER');
  assert.equal(frameError.status, 403);
  assert.equal(frameError.tempMessageId, 't1');
  assert.equal(frameError.retryable, false);
  assert.equal(new GoChatError('RATE_LIMITED').retryable, true);
  assert.equal(new GoChatError('NETWORK_ERROR').status, 0);
  assert.equal(new GoChatError('TOKEN_REVOKED').isAuthError, true);
  assert.equal(GoChatError.fromFrame({ code: 'SOMETHING_NEW', message: 'x' }).code, 'INTERNAL_ERROR');
});

describe('createTempId', () => {
  it('makes RFC 9562 UUIDv7 strings', () => {
    assert.match(createTempId(), /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('orders ids by their creation time, so they append to the server’s idempotency index', () => {
    const ids = [1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000].map((t) => createTempId(t));
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(createTempId(0x0123456789ab).slice(0, 13), '01234567-89ab');
  });

  it('never repeats within one millisecond', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => createTempId(1_700_000_000_000)));
    assert.equal(ids.size, 10_000);
  });
});
