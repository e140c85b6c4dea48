/**
 * The presence store suite: behaviours MemoryPresence and RedisPresence must both show. Time is a
 * fake clock the fixture's stores read, moved by the tests; nothing here waits for real time.
 * `gateway(id)` is the store as a gateway holds it, `claimer()` as the presence notifier does;
 * in-process they are one object.
 */
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { PresenceStore } from '../../src/presence/index.js';

export const GRACE_MS = 30_000;

export interface PresenceFixture {
  gateway(instanceId: string): PresenceStore;
  claimer(): PresenceStore;
  cleanup(): Promise<void>;
}

/** A clock the stores read; `advance` moves it. */
export class FakeClock {
  at = 1_700_000_000_000;
  readonly now = () => this.at;
  advance(ms: number): void {
    this.at += ms;
  }
}

/** Resolves once what `store` was told before has reached its backend (one round trip on its connection). */
export const settled = (store: PresenceStore) => store.onlineOf(['settle']).then(() => undefined);

/** `skip`: why the backend is absent (a developer machine without Redis); the suite then reports one skipped test. */
export function presenceSuite(name: string, makeFixture: (clock: FakeClock) => Promise<PresenceFixture>, skip: string | false = false): void {
  if (skip) return void it(`presence store: ${name}`, (t) => t.skip(skip));
  describe(`presence store: ${name}`, () => {
    let clock: FakeClock;
    let fixture: PresenceFixture;
    beforeEach(async () => {
      clock = new FakeClock();
      fixture = await makeFixture(clock);
    });
    afterEach(() => fixture.cleanup());

    it("a user's first connection is claimed as coming online, once", async () => {
      const gw = fixture.gateway('a');
      gw.connected('1');
      await settled(gw);
      assert.deepEqual(await fixture.claimer().claimChanges(100), [{ userId: '1', online: true }]);
      assert.deepEqual(await fixture.claimer().claimChanges(100), []);
      assert.deepEqual([...(await fixture.claimer().onlineOf(['1', '2']))], ['1']);
    });

    it('the last connection closing is confirmed offline only after the grace period, with when it closed', async () => {
      const gw = fixture.gateway('a');
      gw.connected('1');
      await settled(gw);
      await fixture.claimer().claimChanges(100);
      const closedAt = clock.at;
      gw.disconnected('1');
      await settled(gw);
      clock.advance(GRACE_MS - 1);
      assert.deepEqual(await fixture.claimer().claimChanges(100), []);
      assert.deepEqual([...(await fixture.claimer().onlineOf(['1']))], ['1'], 'still online within the grace period');
      clock.advance(1);
      assert.deepEqual(await fixture.claimer().claimChanges(100), [{ userId: '1', online: false, lastSeenAt: closedAt }]);
      assert.equal((await fixture.claimer().onlineOf(['1'])).size, 0);
    });

    it('coming back within the grace period changes nothing anyone sees', async () => {
      const gw = fixture.gateway('a');
      gw.connected('1');
      await settled(gw);
      await fixture.claimer().claimChanges(100);
      gw.disconnected('1');
      clock.advance(GRACE_MS / 2);
      gw.connected('1');
      await settled(gw);
      clock.advance(GRACE_MS);
      assert.deepEqual(await fixture.claimer().claimChanges(100), []);
      assert.equal((await fixture.claimer().onlineOf(['1'])).size, 1);
    });

    it('a user connected on two gateways stays online when one of them closes its sockets', async () => {
      const [a, b] = [fixture.gateway('a'), fixture.gateway('b')];
      a.connected('1');
      b.connected('1');
      await Promise.all([settled(a), settled(b)]);
      assert.equal((await fixture.claimer().claimChanges(100)).length, 1);
      a.disconnected('1');
      await settled(a);
      clock.advance(GRACE_MS * 2);
      assert.deepEqual(await fixture.claimer().claimChanges(100), []);
      b.disconnected('1');
      await settled(b);
      clock.advance(GRACE_MS);
      assert.deepEqual(await fixture.claimer().claimChanges(100), [{ userId: '1', online: false, lastSeenAt: clock.at - GRACE_MS }]);
    });

    it('a connection that came and went between two claims yields nothing', async () => {
      const gw = fixture.gateway('a');
      gw.connected('1');
      gw.disconnected('1');
      await settled(gw);
      clock.advance(GRACE_MS);
      assert.deepEqual(await fixture.claimer().claimChanges(100), []);
      assert.equal((await fixture.claimer().onlineOf(['1'])).size, 0);
    });

    it('a disconnect for a user this gateway does not hold changes nothing', async () => {
      const gw = fixture.gateway('a');
      gw.disconnected('1');
      await settled(gw);
      clock.advance(GRACE_MS);
      assert.deepEqual(await fixture.claimer().claimChanges(100), []);
    });

    it('claims are bounded by their limit and each change is claimed by one claimer', async () => {
      const gw = fixture.gateway('a');
      for (const id of ['1', '2', '3', '4', '5']) gw.connected(id);
      await settled(gw);
      const [first, second] = [fixture.claimer(), fixture.claimer()];
      const claimed = [...(await first.claimChanges(2)), ...(await second.claimChanges(2)), ...(await first.claimChanges(2))];
      assert.deepEqual(claimed.map((c) => c.userId).sort(), ['1', '2', '3', '4', '5']);
      assert.deepEqual(await second.claimChanges(100), []);
    });
  });
}
