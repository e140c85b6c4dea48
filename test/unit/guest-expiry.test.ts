/**
 * GuestExpiry over a real store (SQLite in memory) and the in-process bus, with an injected clock:
 * activity is written coarsely, an expired guest is refused, a sweep expires one batch and says so.
 */
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteRepo } from '../../src/repo/sqlite/sqlite-repo.js';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import type { BusEvent } from '../../src/bus/index.js';
import { GuestExpiry } from '../../src/logic/guest-expiry.js';
import { AppError } from '../../src/protocol/index.js';

const HOUR = 3_600_000;
const quiet = { info: () => {}, warn: () => {} };

describe('GuestExpiry', () => {
  let store: SqliteRepo;
  let touches: number;
  let clock: number;
  let events: BusEvent[];
  let left: string[];
  let expiry: GuestExpiry;
  let names = 0;

  const newGuest = async () => (await store.createUser({ username: `g${++names}`, passwordHash: 'guest', isGuest: true })).userId;

  beforeEach(async () => {
    store = new SqliteRepo({ file: ':memory:' });
    touches = 0;
    const touchGuest = store.touchGuest.bind(store);
    store.touchGuest = (userId, at) => (touches++, touchGuest(userId, at));
    clock = Date.now();
    events = [];
    left = [];
    const bus = new MemoryBus();
    await bus.subscribe((event) => events.push(event));
    expiry = new GuestExpiry({ ttlSeconds: 24 * 3600, sweepIntervalMs: 60_000, sweepBatch: 2 }, store, bus, (ids) => left.push(...ids), quiet, () => clock);
  });

  afterEach(async () => {
    await expiry.stop();
    await store.close();
  });

  it('writes a guest\'s activity at most once an hour, however many requests it makes', async () => {
    const guest = await newGuest();
    await Promise.all(Array.from({ length: 100 }, () => expiry.touch(guest)));
    assert.equal(touches, 1);
    clock += HOUR - 1;
    await expiry.touch(guest);
    assert.equal(touches, 1);
    clock += 1;
    await expiry.touch(guest);
    assert.equal(touches, 2);
  });

  it('a sweep expires at most one batch of guests inactive past the TTL, tells the cache and the gateways', async () => {
    const [a, b, c] = [await newGuest(), await newGuest(), await newGuest()];
    for (const id of [a, b, c]) await store.joinWorld(id);
    await expiry.touch(a);
    await expiry.touch(b);
    await expiry.touch(c);
    clock += 24 * HOUR - 60_000;
    assert.deepEqual(await expiry.sweep(), [], 'not yet past the TTL');
    clock += 120_000; // a minute past it (the rows' created_at is the real clock, a few ms after ours)
    const first = await expiry.sweep();
    assert.equal(first.length, 2);
    const second = await expiry.sweep();
    assert.deepEqual([...first, ...second].sort(), [a, b, c].sort());
    assert.deepEqual(left.sort(), [a, b, c].sort());
    assert.deepEqual(events, [
      { kind: 'revoke-users', userIds: first },
      { kind: 'revoke-users', userIds: second },
    ]);
  });

  it('an expired guest is refused with TOKEN_REVOKED; an active one is kept', async () => {
    const [idle, active] = [await newGuest(), await newGuest()];
    await expiry.touch(idle);
    await expiry.touch(active);
    clock += 20 * HOUR;
    await expiry.touch(active);
    clock += 5 * HOUR;
    assert.deepEqual(await expiry.sweep(), [idle]);
    await assert.rejects(expiry.touch(idle), (err: unknown) => err instanceof AppError && err.code === 'TOKEN_REVOKED');
    await expiry.touch(active);
  });
});
