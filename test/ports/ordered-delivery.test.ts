/** The gateway's per-conversation reorder stage, with a controlled clock. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OrderedDelivery } from '../../src/bus/ordered-delivery.js';
import type { MessageDelivery } from '../../src/bus/index.js';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const d = (seqId: number, conversationId = 'c1'): MessageDelivery => ({ kind: 'message', conversationId, seqId, recipients: ['u'], frame: String(seqId) });

function setup(waitMs = 50) {
  const out: string[] = [];
  let now = 0;
  const ordered = new OrderedDelivery(
    (x) => out.push(`${x.conversationId}:${x.seqId}`),
    { waitMs, firstWaitMs: 10, idleResetMs: 1000, maxConversations: 3, maxHeld: 4 },
    () => now,
  );
  return { out, ordered, advance: (ms: number) => (now += ms) };
}

describe('OrderedDelivery', () => {
  it('passes in-order deliveries straight through', () => {
    const { out, ordered } = setup();
    [1, 2, 3].forEach((s) => ordered.push(d(s)));
    assert.deepEqual(out, ['c1:1', 'c1:2', 'c1:3']);
  });

  it('holds the first delivery of a conversation seen mid-way briefly, so an earlier one in flight still comes first', async () => {
    const { out, ordered } = setup();
    ordered.push(d(6));
    ordered.push(d(5));
    assert.deepEqual(out, []);
    await tick(30);
    assert.deepEqual(out, ['c1:5', 'c1:6']);
    assert.equal(ordered.stats.gapsSkipped, 0);
    ordered.push(d(7));
    assert.deepEqual(out, ['c1:5', 'c1:6', 'c1:7']);
  });

  it('holds an early delivery until the gap fills, then releases in order', () => {
    const { out, ordered } = setup();
    ordered.push(d(1));
    ordered.push(d(3));
    ordered.push(d(4));
    assert.deepEqual(out, ['c1:1']);
    ordered.push(d(2));
    assert.deepEqual(out, ['c1:1', 'c1:2', 'c1:3', 'c1:4']);
  });

  it('drops duplicates and anything at or below the last released seqId', () => {
    const { out, ordered } = setup();
    [1, 2, 2, 1, 3, 3].forEach((s) => ordered.push(d(s)));
    assert.deepEqual(out, ['c1:1', 'c1:2', 'c1:3']);
    assert.equal(ordered.stats.dropped, 3);
  });

  it('gives up on a gap after the wait and releases what it holds, in order', async () => {
    const { out, ordered } = setup(20);
    ordered.push(d(1));
    ordered.push(d(4));
    ordered.push(d(3));
    assert.deepEqual(out, ['c1:1']);
    await tick(60);
    assert.deepEqual(out, ['c1:1', 'c1:3', 'c1:4']);
    assert.equal(ordered.stats.gapsSkipped, 1);
    ordered.push(d(2));
    ordered.push(d(5));
    assert.deepEqual(out, ['c1:1', 'c1:3', 'c1:4', 'c1:5']);
  });

  it('bounds what it holds: past maxHeld the held deliveries are released', () => {
    const { out, ordered } = setup(10_000);
    ordered.push(d(1));
    [3, 4, 5, 6, 7].forEach((s) => ordered.push(d(s)));
    assert.deepEqual(out, ['c1:1', 'c1:3', 'c1:4', 'c1:5', 'c1:6', 'c1:7']);
    ordered.close();
  });

  it('keeps conversations apart and bounds how many it tracks', () => {
    const { out, ordered } = setup();
    ['a', 'b', 'c', 'd'].forEach((c) => ordered.push(d(1, c)));
    ordered.push(d(2, 'd'));
    assert.equal(ordered.trackedConversations, 3);
    assert.deepEqual(out, ['a:1', 'b:1', 'c:1', 'd:1', 'd:2']);
  });

  it('a conversation idle past the reset starts fresh instead of waiting out the gap', async () => {
    const { out, ordered, advance } = setup(10_000);
    ordered.push(d(1));
    advance(2000);
    ordered.push(d(9));
    await tick(30);
    assert.deepEqual(out, ['c1:1', 'c1:9']);
    ordered.close();
  });
});
