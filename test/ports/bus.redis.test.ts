/**
 * The bus interface suite against RedisBus, then what only the distributed bus does: routing
 * by presence, presence expiry, recovery from a Redis restart, and large-group fan-out through
 * the fan-out queue beside it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisBus, type RedisBusConfig } from '../../src/bus/redis-bus.js';
import { RedisFanoutQueue } from '../../src/bus/redis-fanout-queue.js';
import type { BusEvent, MessageDelivery } from '../../src/bus/index.js';
import { FanoutWorker } from '../../src/task/fanout-worker.js';
import type { OperationObserver } from '../../src/ports/observer.js';
import { broadcast, busSuite, delivery, Inbox } from './bus.suite.js';
import { deleteRedisKeys, eventually, REDIS_URL, skipUnless, startPrivateRedis } from './services.js';

const quiet = { warn: () => {}, error: () => {}, info: () => {} };

function busConfig(overrides: Partial<RedisBusConfig> = {}): RedisBusConfig {
  return {
    url: REDIS_URL,
    instanceId: 'x',
    keyPrefix: `gochat-test-${randomBytes(4).toString('hex')}:`,
    presenceTtlSeconds: 5,
    largeGroupThreshold: 1000,
    ...overrides,
  };
}

/** Buses (each with its fan-out queue, as the composition root pairs them) that share one key space, closed together. */
function cluster(overrides: Partial<RedisBusConfig> = {}) {
  const base = busConfig(overrides);
  const closers: Array<{ close(): Promise<void> }> = [];
  const queue = () => {
    const made = new RedisFanoutQueue({ url: base.url, keyPrefix: base.keyPrefix, maxLen: 10_000 }, quiet);
    closers.push(made);
    return made;
  };
  const make = (instanceId: string, observe?: OperationObserver) => {
    const bus = new RedisBus({ ...base, instanceId, ...(observe ? { observe } : {}) }, queue(), quiet);
    closers.push(bus);
    return bus;
  };
  const close = async () => {
    await Promise.all(closers.map((c) => c.close()));
    await deleteRedisKeys(base.url, base.keyPrefix);
  };
  return { base, make, queue, close };
}

busSuite('RedisBus', async () => {
  const skip = await skipUnless('redis');
  if (skip) return skip;
  const c = cluster();
  return {
    gateway: async (id) => c.make(id),
    publisher: async () => c.make('logic'),
    observed: async (id, observe) => ({ gateway: c.make(id, observe), publisher: c.make(`${id}-logic`, observe) }),
    timesPublishes: true,
    cleanup: c.close,
  };
});

const isMessage = (e: BusEvent, conversationId: string, seqId: number) => e.kind === 'message' && e.conversationId === conversationId && e.seqId === seqId;

describe('RedisBus routing and recovery', () => {
  const test = (title: string, body: () => Promise<void>) =>
    it(title, async (t) => {
      const skip = await skipUnless('redis');
      if (skip) return t.skip(skip);
      await body();
    });

  test('a delivery goes only to the gateways holding a recipient, with only their recipients', async () => {
    const c = cluster();
    try {
      const [g1, g2, g3] = [c.make('g1'), c.make('g2'), c.make('g3')];
      const [in1, in2, in3] = [new Inbox(), new Inbox(), new Inbox()];
      await Promise.all([g1.subscribe(in1.handler), g2.subscribe(in2.handler), g3.subscribe(in3.handler)]);
      g1.userOnline('alice');
      g2.userOnline('bob');
      g3.userOnline('zed');
      const logic = c.make('logic');
      const first = delivery(['alice', 'bob', 'nobody']);
      assert.equal(await logic.route(first), 2);
      // g3 gets a later delivery: had the first been published to it, it would have come before.
      const marker = delivery(['zed']);
      await logic.publish(marker);
      await in3.next((e) => e.kind === 'message' && e.conversationId === marker.conversationId);
      assert.equal(in3.messages(first.conversationId).length, 0);
      const at1 = (await in1.next((e) => e.kind === 'message' && e.conversationId === first.conversationId)) as MessageDelivery;
      const at2 = (await in2.next((e) => e.kind === 'message' && e.conversationId === first.conversationId)) as MessageDelivery;
      assert.deepEqual(at1.recipients, ['alice']);
      assert.deepEqual(at2.recipients, ['bob']);
    } finally {
      await c.close();
    }
  });

  test('deliveries published in one turn reach each gateway as one PUBLISH, in order, each with its own recipients', async () => {
    const c = cluster();
    const watcher = new Redis(c.base.url);
    try {
      const [g1, g2] = [c.make('g1'), c.make('g2')];
      const [in1, in2] = [new Inbox(), new Inbox()];
      await Promise.all([g1.subscribe(in1.handler), g2.subscribe(in2.handler)]);
      g1.userOnline('alice');
      g2.userOnline('bob');
      const payloads: string[] = [];
      watcher.on('message', (_channel: string, payload: string) => payloads.push(payload));
      await watcher.subscribe(`${c.base.keyPrefix}gw:g1`);
      const logic = c.make('logic');
      await eventually(async () => (await logic.route(delivery(['alice']))) === 1);
      await eventually(async () => (await logic.route(delivery(['bob']))) === 1);
      await eventually(async () => payloads.length >= 1);
      payloads.length = 0;
      // One commit's worth: published synchronously, as logic does after a commit.
      const batch = [delivery(['alice', 'bob']), delivery(['bob']), delivery(['alice'])];
      const routed = await Promise.all(batch.map((d) => logic.route(d)));
      assert.deepEqual(routed, [2, 1, 1]);
      const last = batch[2]!;
      await in1.next((e) => isMessage(e, last.conversationId, last.seqId));
      await in2.next((e) => isMessage(e, batch[1]!.conversationId, batch[1]!.seqId));
      assert.equal(payloads.length, 1, 'g1 got the turn as one PUBLISH');
      const published = JSON.parse(payloads[0]!) as MessageDelivery[];
      assert.deepEqual(published.map((d) => [d.conversationId, d.recipients]), [
        [batch[0]!.conversationId, ['alice']],
        [batch[2]!.conversationId, ['alice']],
      ]);
      assert.deepEqual((in2.messages(batch[0]!.conversationId)[0] as MessageDelivery).recipients, ['bob']);
    } finally {
      watcher.disconnect();
      await c.close();
    }
  });

  test('a broadcast is one publish to every gateway: no presence lookup, no fan-out stream', async () => {
    const c = cluster({ largeGroupThreshold: 0 });
    const redis = new Redis(REDIS_URL);
    try {
      const gateway = c.make('g1');
      const inbox = new Inbox();
      await gateway.subscribe(inbox.handler);
      // MONITOR shows every command of this test's key space (the prefix keeps other runs out).
      const monitor = await redis.monitor();
      const commands: string[] = [];
      monitor.on('monitor', (_time: string, args: string[]) => {
        if (args.slice(1).some((a) => a.startsWith(c.base.keyPrefix))) commands.push(args[0]!.toLowerCase());
      });
      // After disconnect() the socket may still deliver lines of the feed (other test files keep
      // Redis busy); ioredis then reports them as a "command queue state error". Only errors while
      // watching count.
      let watching = true;
      const monitorErrors: Error[] = [];
      monitor.on('error', (err: Error) => {
        if (watching) monitorErrors.push(err);
      });
      try {
        const sent = broadcast(1);
        await c.make('logic').publish(sent);
        await inbox.next((e) => e.kind === 'broadcast' && e.conversationId === sent.conversationId);
        await eventually(async () => commands.includes('publish'), 5000, 'the PUBLISH in the monitor feed');
      } finally {
        watching = false;
        monitor.disconnect();
      }
      assert.deepEqual(monitorErrors, []);
      assert.equal(commands.filter((name) => name === 'publish').length, 1);
      assert.ok(!commands.includes('smembers') && !commands.includes('mget') && !commands.includes('xadd'), commands.join(' '));
      assert.equal(await redis.exists(`${c.base.keyPrefix}fanout`), 0);
    } finally {
      redis.disconnect();
      await c.close();
    }
  });

  test('presence carries a TTL, and a gateway whose heartbeat stopped is not published to', async () => {
    const c = cluster({ presenceTtlSeconds: 3 });
    const redis = new Redis(REDIS_URL);
    try {
      const g1 = c.make('g1');
      await g1.subscribe(() => {});
      g1.userOnline('alice');
      const presenceTtl = await eventually(async () => (await redis.ttl(`${c.base.keyPrefix}presence:alice`)) > 0 && redis.ttl(`${c.base.keyPrefix}presence:alice`), 5000, 'presence');
      assert.ok(presenceTtl > 0 && presenceTtl <= 3);
      const gatewayTtl = await redis.ttl(`${c.base.keyPrefix}gateway:g1`);
      assert.ok(gatewayTtl > 0 && gatewayTtl <= 3);
      const logic = c.make('logic');
      assert.equal(await logic.route(delivery(['alice'])), 1);
      // What expiry does to a gateway killed with -9: its liveness key disappears.
      await redis.del(`${c.base.keyPrefix}gateway:g1`);
      assert.equal(await logic.route(delivery(['alice'])), 0);
      // A clean close removes presence at once.
      await g1.close();
      assert.equal(await redis.exists(`${c.base.keyPrefix}presence:alice`), 0);
    } finally {
      redis.disconnect();
      await c.close();
    }
  });

  test('after a Redis restart that lost everything, presence is re-announced and delivery resumes', async () => {
    await using server = await startPrivateRedis();
    const c = cluster({ url: server.url, presenceTtlSeconds: 30 });
    try {
      const g1 = c.make('g1');
      const inbox = new Inbox();
      await g1.subscribe(inbox.handler);
      g1.userOnline('alice');
      const logic = c.make('logic');
      const before = delivery(['alice']);
      await logic.publish(before);
      await inbox.next((e) => e.kind === 'message' && e.conversationId === before.conversationId);

      await server.kill();
      await assert.rejects(logic.publish(delivery(['alice'])));
      await server.start();

      const after = delivery(['alice'], 1, `after-${Date.now()}`);
      let seq = 0;
      await eventually(
        async () => {
          await logic.publish({ ...after, seqId: ++seq }).catch(() => {});
          return inbox.messages(after.conversationId).length > 0;
        },
        15_000,
        'delivery after the restart',
      );
    } finally {
      await c.close();
    }
  });

  test('the reorder stage reports a repeat it drops and a gap it gives up on', async () => {
    const c = cluster({ ordering: { waitMs: 50, firstWaitMs: 10, idleResetMs: 10_000, maxConversations: 100, maxHeld: 100 } });
    try {
      const events: string[] = [];
      let onEvent = () => {};
      const gateway = c.make('g1', (operation, _seconds, outcome) => {
        if (operation !== 'publish') events.push(`${operation}:${outcome}`);
        onEvent();
      });
      const inbox = new Inbox();
      await gateway.subscribe(inbox.handler);
      gateway.userOnline('ann');
      const logic = c.make('logic');
      const conversationId = `reorder-${Date.now()}`;
      const observed = (event: string) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no ${event}; saw ${events.join(' ')}`)), 5000);
          onEvent = () => {
            if (!events.includes(event)) return;
            clearTimeout(timer);
            resolve();
          };
          onEvent();
        });
      await logic.publish(delivery(['ann'], 1, conversationId));
      await inbox.next((e) => isMessage(e, conversationId, 1));
      await logic.publish(delivery(['ann'], 1, conversationId));
      await observed('deliver:duplicate');
      // seqId 2 never comes: after waitMs the stage delivers 3 and says it skipped a gap.
      await logic.publish(delivery(['ann'], 3, conversationId));
      await observed('reorder:gap-skipped');
      await inbox.next((e) => isMessage(e, conversationId, 3));
      assert.deepEqual(events, ['deliver:ok', 'deliver:duplicate', 'reorder:gap-skipped', 'deliver:ok']);
    } finally {
      await c.close();
    }
  });

  test("a large group's change takes the stream too, with its recipients named: a removed member gets it", async () => {
    const c = cluster({ largeGroupThreshold: 2 });
    try {
      const gateway = c.make('g-change');
      const inbox = new Inbox();
      await gateway.subscribe(inbox.handler);
      gateway.userOnline('removed');
      gateway.userOnline('m1');
      // The member list names only those left; the change must still reach the one removed.
      const members = { getMemberIds: async () => ['m1', 'm2', 'm3'], getMembersAt: async () => ({ membersSeq: 9, ids: ['m1', 'm2', 'm3'] }), systemMessagesBetween: async () => [] };
      const queue = c.queue();
      await queue.ensureGroup();
      const conversationId = `big-change-${Date.now()}`;
      const logic = c.make('logic-change');
      await logic.publish({ ...delivery(['m1', 'm2', 'm3', 'removed'], 1, conversationId), membersSeq: 0 });
      const change: MessageDelivery = {
        ...delivery(['m1', 'm2', 'm3', 'removed'], 2, conversationId),
        membersSeq: 9,
        attached: [{ frame: '{"type":"conversation-removed"}', to: ['removed'] }],
      };
      await logic.publish(change);
      assert.equal(await queue.pending(), 0, 'nothing read yet');
      const worker = new FanoutWorker({ consumer: 'change-worker', batchSize: 10, blockMs: 100, claimIdleMs: 60_000, memberCacheMs: 1000 }, c.queue(), c.make('task-change'), members, quiet);
      await worker.start();
      try {
        const got = (await inbox.next((e) => e.kind === 'message' && e.conversationId === conversationId && e.seqId === 2, 10_000)) as MessageDelivery;
        assert.deepEqual([...got.recipients].sort(), ['m1', 'removed']);
        assert.deepEqual(got.attached, change.attached);
        assert.deepEqual(inbox.messages(conversationId).map((d) => d.seqId), [1, 2]);
      } finally {
        await worker.stop();
      }
    } finally {
      await c.close();
    }
  });

  test('large conversations go through the stream; a dead worker\'s entries are taken over', async () => {
    const c = cluster({ largeGroupThreshold: 2 });
    try {
      const gateway = c.make('g1');
      const inbox = new Inbox();
      await gateway.subscribe(inbox.handler);
      gateway.userOnline('m1');
      const logic = c.make('logic');
      const members = {
        getMemberIds: async () => ['m1', 'm2', 'm3'],
        getMembersAt: async () => ({ membersSeq: 0, ids: ['m1', 'm2', 'm3'] }),
        systemMessagesBetween: async () => [],
      };
      const queue = c.queue();
      await queue.ensureGroup();
      const conversationId = `big-${Date.now()}`;
      for (let seq = 1; seq <= 5; seq++) await logic.publish(delivery(['m1', 'm2', 'm3'], seq, conversationId));
      // A worker reads the batch and dies before acknowledging it.
      const taken = await queue.read('dead-worker', 10, 100);
      assert.equal(taken.length, 5);
      assert.equal(await queue.pending(), 5);
      assert.equal(inbox.messages(conversationId).length, 0);

      const measured: Array<[string, number]> = [];
      const worker = new FanoutWorker(
        { consumer: 'live-worker', batchSize: 10, blockMs: 100, claimIdleMs: 200, memberCacheMs: 1000, observe: (name, value) => measured.push([name, value]) },
        c.queue(),
        c.make('task2'),
        members,
        quiet,
      );
      await worker.start();
      try {
        await inbox.next((e) => e.kind === 'message' && e.conversationId === conversationId && e.seqId === 5, 10_000);
        assert.deepEqual(inbox.messages(conversationId).map((d) => d.seqId), [1, 2, 3, 4, 5]);
        assert.deepEqual(inbox.messages(conversationId)[0]!.recipients, ['m1']);
        await eventually(async () => (await queue.pending()) === 0, 5000, 'pending entries acknowledged');
        // New entries flow through the live worker as they come.
        await logic.publish(delivery(['m1', 'm2', 'm3'], 6, conversationId));
        await inbox.next((e) => e.kind === 'message' && e.conversationId === conversationId && e.seqId === 6);
        // Each entry routed reports its gateway publishes, then its lag (the taken-over ones waited past claimIdleMs).
        await eventually(async () => measured.filter(([name]) => name === 'lag').length === 6, 5000, 'a lag per entry');
        assert.deepEqual(
          measured.map(([name]) => name),
          Array.from({ length: 6 }, () => ['routed', 'lag']).flat(),
        );
        for (const [name, value] of measured) assert.ok(name === 'routed' ? value >= 1 : value >= 0, `${name} ${value}`);
        assert.ok(measured[1]![1] >= 0.2, `a claimed entry waited at least claimIdleMs (lag ${measured[1]![1]})`);
      } finally {
        await worker.stop();
      }
    } finally {
      await c.close();
    }
  });
});
