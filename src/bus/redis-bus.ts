/**
 * The distributed bus. Presence, routing and cross-process delivery go through Redis:
 * - presence: `{p}presence:{userId}` is the set of gateway instances holding the user's sockets,
 *   and `{p}gateway:{instanceId}` says that gateway is alive. Both carry a TTL that the gateway's
 *   heartbeat renews, so a gateway killed with -9 drops out on its own.
 * - delivery: one channel per gateway instance (`{p}gw:{instanceId}`). A publisher looks up
 *   which live gateways hold a recipient and publishes only there, with only those recipients.
 * - large conversations (more recipients than `largeGroupThreshold`) go to a Redis Stream that
 *   `task` workers consume as a consumer group, so one huge room does not stall logic.
 * - revocations (of one token, or of every token of some users) are broadcast on `{p}revoke`:
 *   they are rare and every gateway must check.
 * - broadcasts (the world room: every connection is a recipient) are published once on
 *   `{p}broadcast`, which every gateway subscribes to: no recipient list, no presence lookup,
 *   no fan-out stream, so a world message costs one PUBLISH whatever the member count.
 * After a Redis restart (presence lost) the client reconnects by itself and the gateway
 * re-announces every local user, so no process needs a restart.
 */
import { Redis } from 'ioredis';
import type { Bus, BusEvent, BusHandler, MessageDelivery } from './index.js';
import { DEFAULT_ORDERED_DELIVERY, OrderedDelivery, type OrderedDeliveryOptions } from './ordered-delivery.js';

export interface RedisBusConfig {
  /** redis://host:port/db */
  url: string;
  /** This process's id: its delivery channel and presence entries carry it. */
  instanceId: string;
  /** Prefix of every key and channel, so deployments (and test runs) can share one Redis. */
  keyPrefix: string;
  presenceTtlSeconds: number;
  /** Deliveries to more recipients than this go through the fan-out stream. */
  largeGroupThreshold: number;
  /** Entries the fan-out stream keeps (approximate MAXLEN). */
  fanoutStreamMaxLen: number;
  ordering?: OrderedDeliveryOptions;
}

export interface BusLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A large-conversation delivery waiting in the fan-out stream; recipients are looked up by the worker. */
export interface FanoutEntry {
  id: string;
  /** Milliseconds since the epoch when it was queued (from the stream id). */
  queuedAt: number;
  delivery: Omit<MessageDelivery, 'recipients'>;
}

const FANOUT_GROUP = 'fanout';
const ROUTE_CHUNK = 1000;

/** ioredis connection options: reconnect forever with a capped backoff; fail single commands fast while down. */
function connectionOptions() {
  return {
    maxRetriesPerRequest: 2,
    retryStrategy: (attempt: number) => Math.min(50 * attempt, 1000),
    enableReadyCheck: true,
  };
}

export class RedisBus implements Bus {
  private readonly cmd: Redis;
  private sub: Redis | null = null;
  private stream: Redis | null = null;
  private readonly online = new Set<string>();
  private heartbeat: NodeJS.Timeout | null = null;
  private ordered: OrderedDelivery | null = null;
  private closed = false;

  constructor(
    private readonly config: RedisBusConfig,
    private readonly log: BusLogger,
  ) {
    this.cmd = this.connect('commands');
  }

  private connect(role: string): Redis {
    const redis = new Redis(this.config.url, connectionOptions());
    let lastError = '';
    redis.on('error', (err: Error) => {
      // One line per distinct failure, not one per reconnect attempt.
      if (err.message !== lastError) this.log.warn({ err: err.message, role }, 'redis connection error');
      lastError = err.message;
    });
    redis.on('ready', () => (lastError = ''));
    return redis;
  }

  private key(...parts: string[]): string {
    return this.config.keyPrefix + parts.join(':');
  }

  private channel(instanceId: string): string {
    return this.key('gw', instanceId);
  }

  // ---- publishing (logic, task) ----

  async publish(event: BusEvent): Promise<void> {
    if (event.kind === 'revoke' || event.kind === 'revoke-users') {
      await this.cmd.publish(this.key('revoke'), JSON.stringify(event));
      return;
    }
    if (event.kind === 'broadcast') {
      await this.cmd.publish(this.key('broadcast'), JSON.stringify(event));
      return;
    }
    if (event.recipients.length > this.config.largeGroupThreshold) {
      const { recipients: _recipients, ...delivery } = event;
      await this.cmd.xadd(this.key('fanout'), 'MAXLEN', '~', String(this.config.fanoutStreamMaxLen), '*', 'd', JSON.stringify(delivery));
      return;
    }
    await this.route(event);
  }

  /** Publishes `delivery` to each live gateway that holds one of its recipients, with just those recipients. */
  async route(delivery: MessageDelivery): Promise<number> {
    const byGateway = new Map<string, string[]>();
    for (let i = 0; i < delivery.recipients.length; i += ROUTE_CHUNK) {
      const chunk = delivery.recipients.slice(i, i + ROUTE_CHUNK);
      const pipeline = this.cmd.pipeline();
      for (const userId of chunk) pipeline.smembers(this.key('presence', userId));
      const replies = (await pipeline.exec()) ?? [];
      replies.forEach(([err, gateways], j) => {
        if (err) throw err;
        for (const gateway of gateways as string[]) {
          let users = byGateway.get(gateway);
          if (!users) byGateway.set(gateway, (users = []));
          users.push(chunk[j]!);
        }
      });
    }
    if (byGateway.size === 0) return 0;
    const gateways = [...byGateway.keys()];
    const alive = await this.cmd.mget(...gateways.map((g) => this.key('gateway', g)));
    const publish = this.cmd.pipeline();
    let published = 0;
    gateways.forEach((gateway, i) => {
      if (alive[i] === null) return; // its heartbeat stopped: nobody reads that channel
      publish.publish(this.channel(gateway), JSON.stringify({ ...delivery, recipients: byGateway.get(gateway) }));
      published++;
    });
    if (published > 0) for (const [err] of (await publish.exec()) ?? []) if (err) throw err;
    return published;
  }

  // ---- subscribing and presence (gateway) ----

  async subscribe(handler: BusHandler): Promise<void> {
    if (this.sub) throw new Error('RedisBus.subscribe may be called once');
    const ordered = new OrderedDelivery((delivery) => handler(delivery), this.config.ordering ?? DEFAULT_ORDERED_DELIVERY);
    this.ordered = ordered;
    const sub = this.connect('subscriber');
    this.sub = sub;
    const own = this.channel(this.config.instanceId);
    const revoke = this.key('revoke');
    const broadcast = this.key('broadcast');
    sub.on('message', (channel: string, payload: string) => {
      let event: BusEvent;
      try {
        event = JSON.parse(payload) as BusEvent;
      } catch {
        return this.log.warn({ channel }, 'dropped a malformed bus payload');
      }
      if (channel === own && event.kind === 'message') ordered.push(event);
      else if (channel === broadcast && event.kind === 'broadcast') ordered.push(event);
      else if (channel === revoke && (event.kind === 'revoke' || event.kind === 'revoke-users')) handler(event);
    });
    // ioredis re-subscribes after a reconnect on its own.
    await sub.subscribe(own, revoke, broadcast);
    // After any (re)connect, Redis may have lost our presence: announce everything again.
    this.cmd.on('ready', () => void this.announce());
    await this.announce();
    const everyMs = Math.max(200, (this.config.presenceTtlSeconds * 1000) / 3);
    this.heartbeat = setInterval(() => void this.announce(), everyMs);
    this.heartbeat.unref();
  }

  /** Marks this gateway alive and renews the presence of every user connected here. */
  private async announce(): Promise<void> {
    if (this.closed) return;
    const ttl = this.config.presenceTtlSeconds;
    try {
      await this.cmd.set(this.key('gateway', this.config.instanceId), '1', 'EX', ttl);
      const users = [...this.online];
      for (let i = 0; i < users.length; i += ROUTE_CHUNK) {
        const pipeline = this.cmd.pipeline();
        for (const userId of users.slice(i, i + ROUTE_CHUNK)) this.addPresence(pipeline, userId);
        await pipeline.exec();
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'presence heartbeat failed; retrying on the next beat');
    }
  }

  private addPresence(pipeline: ReturnType<Redis['pipeline']>, userId: string): void {
    const key = this.key('presence', userId);
    pipeline.sadd(key, this.config.instanceId).expire(key, this.config.presenceTtlSeconds);
  }

  userOnline(userId: string): void {
    this.online.add(userId);
    const pipeline = this.cmd.pipeline();
    this.addPresence(pipeline, userId);
    // A failure here is repaired by the next heartbeat.
    pipeline.exec().catch(() => {});
  }

  userOffline(userId: string): void {
    this.online.delete(userId);
    this.cmd.srem(this.key('presence', userId), this.config.instanceId).catch(() => {});
  }

  /** What the reorder stage did so far (zero before `subscribe`). */
  get orderingStats(): { dropped: number; gapsSkipped: number } {
    return this.ordered?.stats ?? { dropped: 0, gapsSkipped: 0 };
  }

  // ---- the fan-out stream (task) ----

  /** Creates the consumer group (and stream) unless it exists. */
  async ensureFanoutGroup(): Promise<void> {
    try {
      await this.cmd.xgroup('CREATE', this.key('fanout'), FANOUT_GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  /** New entries for `consumer`, blocking up to `blockMs` when there are none. */
  async readFanout(consumer: string, count: number, blockMs: number): Promise<FanoutEntry[]> {
    this.stream ??= this.connect('stream');
    const reply = (await this.stream.xreadgroup(
      'GROUP',
      FANOUT_GROUP,
      consumer,
      'COUNT',
      count,
      'BLOCK',
      blockMs,
      'STREAMS',
      this.key('fanout'),
      '>',
    )) as Array<[string, Array<[string, string[]]>]> | null;
    return parseEntries(reply?.[0]?.[1] ?? []);
  }

  /** Takes over entries another consumer read but did not acknowledge within `minIdleMs` (it died). */
  async claimStaleFanout(consumer: string, minIdleMs: number, count: number): Promise<FanoutEntry[]> {
    const reply = (await this.cmd.xautoclaim(this.key('fanout'), FANOUT_GROUP, consumer, minIdleMs, '0-0', 'COUNT', count)) as [
      string,
      Array<[string, string[]] | null>,
    ];
    return parseEntries((reply[1] ?? []).filter((e): e is [string, string[]] => e !== null));
  }

  async ackFanout(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.cmd.xack(this.key('fanout'), FANOUT_GROUP, ...ids);
  }

  /** Entries read by some consumer and not yet acknowledged. */
  async pendingFanout(): Promise<number> {
    const reply = (await this.cmd.xpending(this.key('fanout'), FANOUT_GROUP)) as [number, ...unknown[]];
    return Number(reply[0]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.ordered?.close();
    // Leave cleanly: other processes stop routing here at once instead of after the TTL.
    if (this.sub) {
      const pipeline = this.cmd.pipeline().del(this.key('gateway', this.config.instanceId));
      for (const userId of this.online) pipeline.srem(this.key('presence', userId), this.config.instanceId);
      await Promise.race([pipeline.exec().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    }
    for (const redis of [this.sub, this.stream, this.cmd]) redis?.disconnect();
  }
}

function parseEntries(raw: Array<[string, string[]]>): FanoutEntry[] {
  const entries: FanoutEntry[] = [];
  for (const [id, fields] of raw) {
    const index = fields.indexOf('d');
    if (index < 0 || index + 1 >= fields.length) continue;
    try {
      entries.push({ id, queuedAt: Number(id.split('-')[0]), delivery: JSON.parse(fields[index + 1]!) as FanoutEntry['delivery'] });
    } catch {
      entries.push({ id, queuedAt: Number(id.split('-')[0]), delivery: { kind: 'message', conversationId: '', seqId: 0, frame: '' } });
    }
  }
  return entries;
}
