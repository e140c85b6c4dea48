/**
 * The fan-out queue port on a Redis Stream: what the bus publishes for large conversations and
 * the task workers consume as one group. Each test gets its own key prefix.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisFanoutQueue } from '../../src/bus/redis-fanout-queue.js';
import type { FanoutDelivery } from '../../src/bus/fanout-queue.js';
import { deleteRedisKeys, REDIS_URL, skipUnless } from './services.js';

const quiet = { warn: () => {}, error: () => {} };

function delivery(seqId: number): FanoutDelivery {
  return { kind: 'message', conversationId: 'big', seqId, frame: JSON.stringify({ type: 'new-message', data: { seqId } }), excludeConnId: 'g1:1' };
}

/** A queue with its own key space, its observations, and cleanup. */
async function withQueue(body: (queue: RedisFanoutQueue, seen: Array<[string, string]>, keyPrefix: string) => Promise<void>, maxLen = 10_000) {
  const keyPrefix = `gochat-test-${randomBytes(4).toString('hex')}:`;
  const seen: Array<[string, string]> = [];
  const queue = new RedisFanoutQueue({ url: REDIS_URL, keyPrefix, maxLen, observe: (operation, _seconds, outcome) => seen.push([operation, outcome]) }, quiet);
  try {
    await body(queue, seen, keyPrefix);
  } finally {
    await queue.close();
    await deleteRedisKeys(REDIS_URL, keyPrefix);
  }
}

describe('RedisFanoutQueue', () => {
  const test = (title: string, body: () => Promise<void>) =>
    it(title, async (t) => {
      const skip = await skipUnless('redis');
      if (skip) return t.skip(skip);
      await body();
    });

  test('an entry queued is read once by the group, its delivery untouched, with the time it was queued', async () => {
    await withQueue(async (queue) => {
      await queue.ensureGroup();
      const before = Date.now();
      await queue.enqueue(delivery(1));
      const [entry, ...rest] = await queue.read('w1', 10, 100);
      assert.equal(rest.length, 0);
      assert.deepEqual(entry!.delivery, delivery(1));
      assert.ok(entry!.queuedAt >= before - 1000 && entry!.queuedAt <= Date.now() + 1000, `queuedAt ${entry!.queuedAt}`);
      assert.deepEqual(await queue.read('w2', 10, 50), []);
    });
  });

  test('an entry read and not acknowledged stays pending until another consumer claims and acknowledges it', async () => {
    await withQueue(async (queue) => {
      await queue.ensureGroup();
      await queue.enqueue(delivery(1));
      await queue.read('dead', 10, 100);
      assert.equal(await queue.pending(), 1);
      const claimed = await queue.claimStale('live', 0, 10);
      assert.deepEqual(claimed.map((e) => e.delivery.seqId), [1]);
      await queue.ack(claimed.map((e) => e.id));
      assert.equal(await queue.pending(), 0);
    });
  });

  test('the stream is bounded near maxLen however much is queued', async () => {
    await withQueue(async (queue, _seen, keyPrefix) => {
      for (let seq = 1; seq <= 1000; seq++) await queue.enqueue(delivery(seq));
      const redis = new Redis(REDIS_URL);
      try {
        const length = await redis.xlen(`${keyPrefix}fanout`);
        // MAXLEN ~ trims whole stream nodes (100 entries each by default), never below maxLen.
        assert.ok(length >= 10 && length <= 10 + 200, `stream length ${length}`);
      } finally {
        redis.disconnect();
      }
    }, 10);
  });

  test('every operation is reported to the observer with its outcome', async () => {
    await withQueue(async (queue, seen) => {
      // No group yet: the read fails.
      await assert.rejects(queue.read('w1', 1, 10));
      await queue.ensureGroup();
      await queue.enqueue(delivery(1));
      const entries = await queue.read('w1', 1, 10);
      await queue.ack(entries.map((e) => e.id));
      await queue.claimStale('w1', 0, 1);
      await queue.pending();
      assert.deepEqual(seen, [
        ['read', 'error'],
        ['enqueue', 'ok'],
        ['read', 'ok'],
        ['ack', 'ok'],
        ['claimStale', 'ok'],
        ['pending', 'ok'],
      ]);
    });
  });
});
