/**
 * The presence store suite against RedisPresence, then what only the distributed store does:
 * a gateway killed without a word has its users taken offline once its lease runs out, a gateway
 * leaving cleanly gives its users the grace period, and a lost lease is taken again with the users.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { RedisPresence } from '../../src/presence/redis-presence.js';
import { FakeClock, GRACE_MS, presenceSuite, settled } from './presence.suite.js';
import { deleteRedisKeys, REDIS_URL, skipUnless } from './services.js';

const quiet = { warn: () => {}, error: () => {} };
const LEASE_MS = 10_000;
/** Longer than any time a test moves the clock by: no lease runs out unless a test means it to. */
const LONG_LEASE_MS = 100 * GRACE_MS;

/** Stores over one fresh key space, as the processes of one cluster hold them. */
function cluster(clock: FakeClock, leaseMs = LONG_LEASE_MS) {
  const keyPrefix = `gochat-test-${randomBytes(4).toString('hex')}:`;
  const stores: RedisPresence[] = [];
  const make = (instanceId: string) => {
    const store = new RedisPresence({ url: REDIS_URL, keyPrefix, instanceId, leaseMs, graceMs: GRACE_MS, clock: clock.now }, quiet);
    stores.push(store);
    return store;
  };
  const cleanup = async () => {
    await Promise.all(stores.map((s) => s.close()));
    await deleteRedisKeys(REDIS_URL, keyPrefix);
  };
  return { make, cleanup };
}

const skip = await skipUnless('redis');

presenceSuite(
  'RedisPresence',
  async (clock) => {
    const c = cluster(clock);
    const gateways = new Map<string, RedisPresence>();
    return {
      gateway: (id) => gateways.get(id) ?? (gateways.set(id, c.make(id)), gateways.get(id)!),
      claimer: () => c.make('task'),
      cleanup: c.cleanup,
    };
  },
  skip,
);

describe('RedisPresence across processes', { skip }, () => {
  it("a gateway killed without a word has its users confirmed offline once its lease runs out, seen at its last renewal", async () => {
    const clock = new FakeClock();
    const c = cluster(clock, LEASE_MS);
    try {
      const [gw, task] = [c.make('gw'), c.make('task')];
      gw.connected('1');
      await settled(gw);
      assert.deepEqual(await task.claimChanges(100), [{ userId: '1', online: true }]);
      const renewedAt = clock.at;
      await gw.abandon();
      clock.advance(LEASE_MS - 1);
      assert.deepEqual(await task.claimChanges(100), [], 'online while the lease holds');
      clock.advance(1);
      assert.deepEqual(await task.claimChanges(100), [{ userId: '1', online: false, lastSeenAt: renewedAt }]);
    } finally {
      await c.cleanup();
    }
  });

  it("a gateway leaving cleanly gives its users the grace period, so they can reconnect elsewhere unseen", async () => {
    const clock = new FakeClock();
    const c = cluster(clock);
    try {
      const [a, b, task] = [c.make('a'), c.make('b'), c.make('task')];
      a.connected('1');
      await settled(a);
      await task.claimChanges(100);
      await a.close();
      clock.advance(GRACE_MS - 1);
      b.connected('1');
      await settled(b);
      clock.advance(GRACE_MS);
      assert.deepEqual(await task.claimChanges(100), []);
      assert.equal((await task.onlineOf(['1'])).size, 1);
    } finally {
      await c.cleanup();
    }
  });

  it('a gateway whose lease was taken from it (a stall past the lease) announces its users again', async () => {
    const clock = new FakeClock();
    const c = cluster(clock, LEASE_MS);
    try {
      const [gw, task] = [c.make('gw'), c.make('task')];
      gw.connected('1');
      await settled(gw);
      await task.claimChanges(100);
      clock.advance(LEASE_MS);
      assert.equal((await task.claimChanges(100))[0]?.online, false, 'the stalled gateway lost its users');
      await gw.renew();
      assert.deepEqual(await task.claimChanges(100), [{ userId: '1', online: true }]);
    } finally {
      await c.cleanup();
    }
  });
});
