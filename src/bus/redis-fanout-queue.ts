/**
 * The fan-out queue on a Redis Stream (`{p}fanout`, consumer group `fanout`): XADD with an
 * approximate MAXLEN to queue, XREADGROUP to read, XAUTOCLAIM to take over a dead worker's
 * entries, XACK once routed. Its connections open on first use, so a process that never
 * queues nor reads (a gateway) holds none.
 */
import type { Redis } from 'ioredis';
import { unobserved, type OperationObserver } from '../ports/observer.js';
import type { FanoutDelivery, FanoutEntry, FanoutQueue } from './fanout-queue.js';
import { connectRedis, disconnectRedis, type RedisLogger } from './redis-connection.js';

export interface RedisFanoutQueueConfig {
  /** redis://host:port/db */
  url: string;
  /** Prefix of every key, shared with the bus of the same deployment. */
  keyPrefix: string;
  /** Entries the stream keeps (approximate MAXLEN): the bound on a backlog nobody reads. */
  maxLen: number;
  /** Reports enqueue, read, claimStale, ack and pending (with a read's blocking wait included). */
  observe?: OperationObserver;
}

const GROUP = 'fanout';

export class RedisFanoutQueue implements FanoutQueue {
  private readonly key: string;
  private readonly maxLen: string;
  private readonly observe: OperationObserver;
  private commands: Redis | null = null;
  /** XREADGROUP blocks its connection, so it gets one of its own. */
  private blocking: Redis | null = null;
  private closed = false;

  constructor(
    private readonly config: RedisFanoutQueueConfig,
    private readonly log: RedisLogger,
  ) {
    this.key = `${config.keyPrefix}fanout`;
    this.maxLen = String(config.maxLen);
    this.observe = config.observe ?? unobserved;
  }

  private redis(): Redis {
    if (this.closed) throw new Error('fan-out queue closed');
    return (this.commands ??= connectRedis(this.config.url, 'fanout', this.log));
  }

  async enqueue(delivery: FanoutDelivery): Promise<void> {
    const started = performance.now();
    let outcome = 'ok';
    try {
      await this.redis().xadd(this.key, 'MAXLEN', '~', this.maxLen, '*', 'd', JSON.stringify(delivery));
    } catch (err) {
      outcome = 'error';
      throw err;
    } finally {
      this.observe('enqueue', (performance.now() - started) / 1000, outcome);
    }
  }

  async ensureGroup(): Promise<void> {
    try {
      await this.redis().xgroup('CREATE', this.key, GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  read(consumer: string, count: number, blockMs: number): Promise<FanoutEntry[]> {
    return this.timed('read', async () => {
      if (this.closed) throw new Error('fan-out queue closed');
      this.blocking ??= connectRedis(this.config.url, 'fanout-reader', this.log);
      const reply = (await this.blocking.xreadgroup('GROUP', GROUP, consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.key, '>')) as Array<
        [string, Array<[string, string[]]>]
      > | null;
      return parseEntries(reply?.[0]?.[1] ?? []);
    });
  }

  claimStale(consumer: string, minIdleMs: number, count: number): Promise<FanoutEntry[]> {
    return this.timed('claimStale', async () => {
      const reply = (await this.redis().xautoclaim(this.key, GROUP, consumer, minIdleMs, '0-0', 'COUNT', count)) as [
        string,
        Array<[string, string[]] | null>,
      ];
      return parseEntries((reply[1] ?? []).filter((e): e is [string, string[]] => e !== null));
    });
  }

  ack(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return Promise.resolve();
    return this.timed('ack', async () => {
      // Fanned out is done with: deleted too, not left until MAXLEN trims it. An entry holds a
      // message's content, and a recall must leave it stored nowhere (one group reads the stream).
      await this.redis().multi().xack(this.key, GROUP, ...ids).xdel(this.key, ...ids).exec();
    });
  }

  pending(): Promise<number> {
    return this.timed('pending', async () => {
      const reply = (await this.redis().xpending(this.key, GROUP)) as [number, ...unknown[]];
      return Number(reply[0]);
    });
  }

  /** Times a call that runs once per batch (the per-message `enqueue` is timed inline). */
  private async timed<T>(operation: string, run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    let outcome = 'ok';
    try {
      return await run();
    } catch (err) {
      outcome = 'error';
      throw err;
    } finally {
      this.observe(operation, (performance.now() - started) / 1000, outcome);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const connections = [this.blocking, this.commands];
    this.blocking = this.commands = null;
    await Promise.all(connections.map((redis) => (redis ? disconnectRedis(redis) : undefined)));
  }
}

function parseEntries(raw: Array<[string, string[]]>): FanoutEntry[] {
  const entries: FanoutEntry[] = [];
  for (const [id, fields] of raw) {
    const index = fields.indexOf('d');
    if (index < 0 || index + 1 >= fields.length) continue;
    const queuedAt = Number(id.split('-')[0]);
    try {
      entries.push({ id, queuedAt, delivery: JSON.parse(fields[index + 1]!) as FanoutDelivery });
    } catch {
      // Unreadable: acknowledged without routing, so it cannot block the group forever.
      entries.push({ id, queuedAt, delivery: { kind: 'message', conversationId: '', seqId: 0, frame: '' } });
    }
  }
  return entries;
}
