/**
 * The distributed bus. Presence, routing and cross-process delivery go through Redis:
 * - presence: `{p}presence:{userId}` is the set of gateway instances holding the user's sockets,
 *   and `{p}gateway:{instanceId}` says that gateway is alive. Both carry a TTL that the gateway's
 *   heartbeat renews, so a gateway killed with -9 drops out on its own.
 * - delivery: one channel per gateway instance (`{p}gw:{instanceId}`). A publisher looks up
 *   which live gateways hold a recipient and publishes only there, with only those recipients.
 *   Deliveries published in the same turn (logic publishes a whole commit at once) share one
 *   presence lookup and go to each gateway as one PUBLISH of a JSON array, in publish order;
 *   a gateway also accepts a lone delivery object (what publishers before the batching sent).
 * - large conversations (more recipients than `largeGroupThreshold`) go to the fan-out queue
 *   (its own port, `fanout-queue.ts`) that `task` workers consume, so one huge room does not
 *   stall logic; the workers route through this bus's `route`.
 * - revocations (of one token, or of every token of some users) are broadcast on `{p}revoke`:
 *   they are rare and every gateway must check.
 * - broadcasts (the world room: every connection is a recipient) are published once on
 *   `{p}broadcast`, which every gateway subscribes to: no recipient list, no presence lookup,
 *   no fan-out queue, so a world message costs one PUBLISH whatever the member count.
 * After a Redis restart (presence lost) the client reconnects by itself and the gateway
 * re-announces every local user, so no process needs a restart.
 */
import type { Redis, Result } from 'ioredis';
import { unobserved, type OperationObserver } from '../ports/observer.js';
import type { Bus, BusEvent, BusHandler, Delivery, FramesDelivery, MessageDelivery } from './index.js';
import type { DeliveryRouter, FanoutPublisher } from './fanout-queue.js';
import { DEFAULT_ORDERED_DELIVERY, OrderedDelivery, type OrderedDeliveryOptions } from './ordered-delivery.js';
import { connectRedis, disconnectRedis, type RedisLogger } from './redis-connection.js';

export interface RedisBusConfig {
  /** redis://host:port/db */
  url: string;
  /** This process's id: its delivery channel and presence entries carry it. */
  instanceId: string;
  /** Prefix of every key and channel, so deployments (and test runs) can share one Redis. */
  keyPrefix: string;
  presenceTtlSeconds: number;
  /** Deliveries to more recipients than this go through the fan-out queue. */
  largeGroupThreshold: number;
  ordering?: OrderedDeliveryOptions;
  /**
   * Reports `publish` and `route` (seconds, "ok" or "error"), and on a gateway each delivery
   * handed to the subscriber (`deliver`, "ok") and what the reorder stage did (`deliver`,
   * "duplicate"; `reorder`, "gap-skipped").
   */
  observe?: OperationObserver;
}

export type BusLogger = RedisLogger;

const ROUTE_CHUNK = 1000;

/**
 * The live gateways of each presence key, as one space-separated string per key: one command
 * (and one round trip) for a whole batch's recipients instead of a SMEMBERS each plus an MGET of
 * the gateways' alive keys. On this machine a pipelined SMEMBERS cost the publisher about 6 µs of
 * CPU per recipient; the script costs a fraction of that (docs/performance.md). A gateway whose
 * alive key (ARGV[1] .. id) has expired stopped its heartbeat: nobody reads its channel.
 * It reads alive keys it is not given in KEYS, so the bus needs one Redis primary (or a
 * Redis Cluster slot: a keyPrefix with a hash tag), as docs/deploy.md says.
 */
const LIVE_GATEWAYS_OF = `
local alive = {}
local out = {}
for i, key in ipairs(KEYS) do
  local live = {}
  for _, gateway in ipairs(redis.call('SMEMBERS', key)) do
    local up = alive[gateway]
    if up == nil then
      up = redis.call('EXISTS', ARGV[1] .. gateway) == 1
      alive[gateway] = up
    end
    if up then live[#live + 1] = gateway end
  end
  out[i] = table.concat(live, ' ')
end
return out
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    liveGatewaysOf(numberOfKeys: number, ...keysThenAlivePrefix: string[]): Result<string[], Context>;
  }
}
/** Most deliveries routed together (one presence lookup, one PUBLISH per gateway). */
const ROUTE_BATCH = 256;
/** About the most frame text routed together (UTF-16 units, as a bound on one PUBLISH). */
const ROUTE_BATCH_BYTES = 1024 * 1024;

interface PendingRoute {
  delivery: MessageDelivery | FramesDelivery;
  resolve: (gatewaysPublished: number) => void;
  reject: (err: unknown) => void;
}

export class RedisBus implements Bus, DeliveryRouter {
  private readonly cmd: Redis;
  private sub: Redis | null = null;
  private readonly online = new Set<string>();
  private heartbeat: NodeJS.Timeout | null = null;
  private ordered: OrderedDelivery | null = null;
  private closed = false;
  private readonly observe: OperationObserver;
  /** Deliveries published this turn, routed together once the turn's synchronous work is done. */
  private pendingRoutes: PendingRoute[] = [];
  /** The routing in progress: batches publish one after the other, in publish order. */
  private routing: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: RedisBusConfig,
    /** Where deliveries of large conversations go. */
    private readonly fanout: FanoutPublisher,
    private readonly log: BusLogger,
  ) {
    this.observe = config.observe ?? unobserved;
    this.cmd = this.connect('commands');
    // EVALSHA, falling back to EVAL after a Redis restart forgot the script.
    this.cmd.defineCommand('liveGatewaysOf', { lua: LIVE_GATEWAYS_OF });
  }

  private connect(role: string): Redis {
    return connectRedis(this.config.url, role, this.log);
  }

  private key(...parts: string[]): string {
    return this.config.keyPrefix + parts.join(':');
  }

  private channel(instanceId: string): string {
    return this.key('gw', instanceId);
  }

  // ---- publishing (logic, task) ----

  async publish(event: BusEvent): Promise<void> {
    const started = performance.now();
    let outcome = 'ok';
    try {
      if (event.kind === 'revoke' || event.kind === 'revoke-users') {
        await this.cmd.publish(this.key('revoke'), JSON.stringify(event));
      } else if (event.kind === 'broadcast' || (event.kind === 'frames' && event.recipients === 'everyone')) {
        await this.cmd.publish(this.key('broadcast'), JSON.stringify(event));
      } else if (event.kind === 'message' && event.recipients.length > this.config.largeGroupThreshold) {
        // A large group's messages all take the queue, a change's too (with its recipients named):
        // one path keeps them in order; a change routed directly would overtake the messages
        // queued before it, and a gateway would drop those as late once it released the change.
        if (event.attached !== undefined) await this.fanout.enqueue(event);
        else {
          const { recipients: _recipients, ...delivery } = event;
          await this.fanout.enqueue(delivery);
        }
      } else {
        await this.routeToGateways(event);
      }
    } catch (err) {
      outcome = 'error';
      throw err;
    } finally {
      this.observe('publish', (performance.now() - started) / 1000, outcome);
    }
  }

  /** Publishes `delivery` to each live gateway that holds one of its recipients, with just those recipients. */
  async route(delivery: MessageDelivery): Promise<number> {
    const started = performance.now();
    let outcome = 'ok';
    try {
      return await this.routeToGateways(delivery);
    } catch (err) {
      outcome = 'error';
      throw err;
    } finally {
      this.observe('route', (performance.now() - started) / 1000, outcome);
    }
  }

  /** Resolves with the number of gateways `delivery` was published to, once its batch is published. */
  private routeToGateways(delivery: MessageDelivery | FramesDelivery): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.pendingRoutes.push({ delivery, resolve, reject }) === 1) queueMicrotask(() => this.flushRoutes());
    });
  }

  /**
   * Routes what was published this turn, in batches of at most ROUTE_BATCH deliveries and about
   * ROUTE_BATCH_BYTES of frames (one gateway parses each PUBLISH in one go), one batch at a time:
   * a batch whose lookup takes several script calls must not let a later one publish first.
   */
  private flushRoutes(): void {
    const pending = this.pendingRoutes;
    this.pendingRoutes = [];
    let batch: PendingRoute[] = [];
    let bytes = 0;
    const route = (routes: PendingRoute[]) => {
      const run = this.routing.then(() => this.routeBatch(routes.map((p) => p.delivery)));
      this.routing = run.then(
        () => undefined,
        () => undefined,
      );
      run.then(
        (counts) => routes.forEach((p, j) => p.resolve(counts[j]!)),
        (err: unknown) => routes.forEach((p) => p.reject(err)),
      );
    };
    for (const p of pending) {
      if (batch.length > 0 && (batch.length === ROUTE_BATCH || bytes + p.delivery.frame.length > ROUTE_BATCH_BYTES)) {
        route(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(p);
      bytes += p.delivery.frame.length;
    }
    if (batch.length > 0) route(batch);
  }

  /** One presence lookup for every recipient of the batch, then one PUBLISH per live gateway. */
  private async routeBatch(deliveries: ReadonlyArray<MessageDelivery | FramesDelivery>): Promise<number[]> {
    const users = [...new Set(deliveries.flatMap((d) => d.recipients))];
    const gatewaysOf = new Map<string, string[]>();
    for (let i = 0; i < users.length; i += ROUTE_CHUNK) {
      const chunk = users.slice(i, i + ROUTE_CHUNK);
      const replies = await this.cmd.liveGatewaysOf(chunk.length, ...chunk.map((userId) => this.key('presence', userId)), this.key('gateway', ''));
      replies.forEach((gateways, j) => {
        if (gateways !== '') gatewaysOf.set(chunk[j]!, gateways.split(' '));
      });
    }
    // Per gateway, in publish order: each delivery it should get, with just its recipients there.
    const toGateway = new Map<string, Array<{ index: number; recipients: string[] }>>();
    deliveries.forEach((delivery, index) => {
      const byGateway = new Map<string, string[]>();
      for (const userId of delivery.recipients) {
        for (const gateway of gatewaysOf.get(userId) ?? []) {
          let recipients = byGateway.get(gateway);
          if (!recipients) byGateway.set(gateway, (recipients = []));
          recipients.push(userId);
        }
      }
      for (const [gateway, recipients] of byGateway) {
        let entries = toGateway.get(gateway);
        if (!entries) toGateway.set(gateway, (entries = []));
        entries.push({ index, recipients });
      }
    });
    const counts = deliveries.map(() => 0);
    if (toGateway.size === 0) return counts;
    const publish = this.cmd.pipeline();
    for (const [gateway, entries] of toGateway) {
      for (const { index } of entries) counts[index]!++;
      publish.publish(this.channel(gateway), JSON.stringify(entries.map(({ index, recipients }) => ({ ...deliveries[index]!, recipients }))));
    }
    for (const [err] of (await publish.exec()) ?? []) if (err) throw err;
    return counts;
  }

  // ---- subscribing and presence (gateway) ----

  async subscribe(handler: BusHandler): Promise<void> {
    if (this.sub) throw new Error('RedisBus.subscribe may be called once');
    const observe = this.observe;
    const deliver = (delivery: Delivery) => {
      handler(delivery);
      observe('deliver', 0, 'ok');
    };
    const ordered = new OrderedDelivery(deliver, this.config.ordering ?? DEFAULT_ORDERED_DELIVERY, Date.now, observe);
    this.ordered = ordered;
    const sub = this.connect('subscriber');
    this.sub = sub;
    const own = this.channel(this.config.instanceId);
    const revoke = this.key('revoke');
    const broadcast = this.key('broadcast');
    sub.on('message', (channel: string, payload: string) => {
      let parsed: BusEvent | BusEvent[];
      try {
        parsed = JSON.parse(payload) as BusEvent | BusEvent[];
      } catch {
        return this.log.warn({ channel }, 'dropped a malformed bus payload');
      }
      if (Array.isArray(parsed)) {
        if (channel !== own) return;
        for (const event of parsed) {
          if (event?.kind === 'message') ordered.push(event);
          else if (event?.kind === 'frames') handler(event);
        }
        return;
      }
      const event = parsed;
      if (channel === own && event.kind === 'message') ordered.push(event);
      else if (channel === broadcast && event.kind === 'broadcast') ordered.push(event);
      else if (channel === broadcast && event.kind === 'frames' && event.recipients === 'everyone') handler(event);
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
    await Promise.all([this.sub, this.cmd].map((redis) => (redis ? disconnectRedis(redis) : undefined)));
  }
}
