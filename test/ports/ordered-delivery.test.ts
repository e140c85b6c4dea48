/** The gateway's per-conversation reorder stage, with a mocked clock: its waits pass when the test says so. */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { OrderedDelivery } from '../../src/bus/ordered-delivery.js';
import type { MessageDelivery } from '../../src/bus/index.js';

const d = (seqId: number, conversationId = 'c1'): MessageDelivery => ({ kind: 'message', conversationId, seqId, recipients: ['u'], frame: String(seqId) });

/** `advance` moves the stage's clock and its timers together. */
function setup(t: TestContext, waitMs = 50) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const out: string[] = [];
  /** What the stage reported to its observer, as `operation:outcome`. */
  const reported: string[] = [];
  let now = 0;
  const ordered = new OrderedDelivery(
    (x) => out.push(`${x.conversationId}:${x.seqId}`),
    { waitMs, firstWaitMs: 10, idleResetMs: 1000, maxConversations: 3, maxHeld: 4 },
    () => now,
    (operation, _seconds, outcome) => reported.push(`${operation}:${outcome}`),
  );
  const advance = (ms: number) => {
    now += ms;
    t.mock.timers.tick(ms);
  };
  const count = (event: string) => reported.filter((r) => r === event).length;
  return { out, ordered, advance, count };
}

describe('OrderedDelivery', () => {
  it('passes in-order deliveries straight through', (t) => {
    const { out, ordered } = setup(t);
    [1, 2, 3].forEach((s) => ordered.push(d(s)));
    assert.deepEqual(out, ['c1:1', 'c1:2', 'c1:3']);
  });

  it('holds the first delivery of a conversation seen mid-way briefly, so an earlier one in flight still comes first', (t) => {
    const { out, ordered, advance, count } = setup(t);
    ordered.push(d(6));
    ordered.push(d(5));
    advance(9);
    assert.deepEqual(out, []);
    advance(1);
    assert.deepEqual(out, ['c1:5', 'c1:6']);
    assert.equal(count('reorder:gap-skipped'), 0);
    ordered.push(d(7));
    assert.deepEqual(out, ['c1:5', 'c1:6', 'c1:7']);
  });

  it('holds an early delivery until the gap fills, then releases in order', (t) => {
    const { out, ordered } = setup(t);
    ordered.push(d(1));
    ordered.push(d(3));
    ordered.push(d(4));
    assert.deepEqual(out, ['c1:1']);
    ordered.push(d(2));
    assert.deepEqual(out, ['c1:1', 'c1:2', 'c1:3', 'c1:4']);
  });

  it('drops duplicates and anything at or below the last released seqId', (t) => {
    const { out, ordered, count } = setup(t);
    [1, 2, 2, 1, 3, 3].forEach((s) => ordered.push(d(s)));
    assert.deepEqual(out, ['c1:1', 'c1:2', 'c1:3']);
    assert.equal(count('deliver:duplicate'), 3);
  });

  it('gives up on a gap after the wait and releases what it holds, in order', (t) => {
    const { out, ordered, advance, count } = setup(t, 20);
    ordered.push(d(1));
    ordered.push(d(4));
    ordered.push(d(3));
    advance(19);
    assert.deepEqual(out, ['c1:1']);
    advance(1);
    assert.deepEqual(out, ['c1:1', 'c1:3', 'c1:4']);
    assert.equal(count('reorder:gap-skipped'), 1);
    ordered.push(d(2));
    ordered.push(d(5));
    assert.deepEqual(out, ['c1:1', 'c1:3', 'c1:4', 'c1:5']);
  });

  it('bounds what it holds: past maxHeld the held deliveries are released', (t) => {
    const { out, ordered } = setup(t, 10_000);
    ordered.push(d(1));
    [3, 4, 5, 6, 7].forEach((s) => ordered.push(d(s)));
    assert.deepEqual(out, ['c1:1', 'c1:3', 'c1:4', 'c1:5', 'c1:6', 'c1:7']);
    ordered.close();
  });

  it('keeps conversations apart and bounds how many it tracks', (t) => {
    const { out, ordered } = setup(t);
    ['a', 'b', 'c', 'd'].forEach((c) => ordered.push(d(1, c)));
    ordered.push(d(2, 'd'));
    assert.equal(ordered.trackedConversations, 3);
    assert.deepEqual(out, ['a:1', 'b:1', 'c:1', 'd:1', 'd:2']);
  });

  it('a conversation idle past the reset starts fresh instead of waiting out the gap', (t) => {
    const { out, ordered, advance } = setup(t, 10_000);
    ordered.push(d(1));
    advance(2000);
    ordered.push(d(9));
    advance(10);
    assert.deepEqual(out, ['c1:1', 'c1:9']);
    ordered.close();
  });
});
