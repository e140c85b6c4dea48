/**
 * Presence of the cluster, in Redis (`{p}` is the key prefix):
 * - `{p}pres:conn:{userId}`: the gateways holding the user's sockets (no members = no key);
 * - `{p}pres:on:{gatewayId}`: the users a gateway holds, so a dead gateway's users can be found;
 * - `{p}pres:gateways`: each gateway's lease (a sorted set scored by when it runs out), renewed
 *   every third of the lease; a gateway killed with -9 stops renewing it;
 * - `{p}pres:due`: users with a change to look at, scored by when (now for a connect, the end of
 *   the grace period for a disconnect, so a later connect overwrites a pending offline);
 * - `{p}pres:left`: when each user's last connection closed, until its offline is claimed;
 * - `{p}pres:shown`: the users others were last told are online.
 * Every step is a script, so a claim never sees half a connect, and two claimers never claim the
 * same change. Scripts go as EVAL, not EVALSHA: ioredis retries an EVALSHA the server does not know
 * as an EVAL, after commands sent later, and a disconnect must never overtake the connect before it
 * (Redis caches the compiled script either way; these calls are rare next to messages). Like the bus's scripts they name keys they are not given in KEYS: presence needs one
 * Redis primary (or a hash-tagged prefix), as docs/deploy.md says. Times come from the caller's
 * clock; the cluster's hosts are assumed NTP-synchronized (skew matters against seconds, not ms).
 */
import type { Redis } from 'ioredis';
import type { PresenceChange, PresenceOptions, PresenceStore } from './index.js';
import { connectRedis, disconnectRedis, type RedisLogger } from '../bus/redis-connection.js';

export interface RedisPresenceOptions extends PresenceOptions {
  url: string;
  keyPrefix: string;
  /** This process's id: the gateway its connects and disconnects are recorded under. */
  instanceId: string;
  /** How long a gateway's users stay online after its last lease renewal (GOCHAT_PRESENCE_TTL_SECONDS). */
  leaseMs: number;
}

const CONNECT = `
local p, gw, u, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
redis.call('SADD', p .. 'pres:conn:' .. u, gw)
redis.call('SADD', p .. 'pres:on:' .. gw, u)
redis.call('HDEL', p .. 'pres:left', u)
redis.call('ZADD', p .. 'pres:due', now, u)
`;

const DISCONNECT = `
local p, gw, u, now, grace = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local conn = p .. 'pres:conn:' .. u
redis.call('SREM', conn, gw)
redis.call('SREM', p .. 'pres:on:' .. gw, u)
if redis.call('EXISTS', conn) == 0 then
  redis.call('HSET', p .. 'pres:left', u, now)
  redis.call('ZADD', p .. 'pres:due', now + grace, u)
end
`;

/** Renews the lease; 0 when there was none (first beat, lease lost, Redis restarted): the caller announces its users again. */
const RENEW = `
local had = redis.call('ZSCORE', ARGV[1] .. 'pres:gateways', ARGV[2])
redis.call('ZADD', ARGV[1] .. 'pres:gateways', ARGV[3], ARGV[2])
if had then return 1 end
return 0
`;

/** A gateway leaving cleanly: its lease and its user index go (its users were disconnected first). */
const LEAVE = `
redis.call('ZREM', ARGV[1] .. 'pres:gateways', ARGV[2])
redis.call('DEL', ARGV[1] .. 'pres:on:' .. ARGV[2])
`;

/**
 * Expired leases first (at most 100 gateways a call: their users lose that connection, their last
 * sign of life being the lease's last renewal), then at most `limit` due users. Returns flat
 * triples: userId, '1' (online) or '0' (offline), lastSeenAt ('' when online).
 */
const CLAIM = `
local p, now, limit, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local due = p .. 'pres:due'
local left = p .. 'pres:left'
local dead = redis.call('ZRANGEBYSCORE', p .. 'pres:gateways', '-inf', now, 'WITHSCORES', 'LIMIT', 0, 100)
for i = 1, #dead, 2 do
  local gw, lastBeat = dead[i], tonumber(dead[i + 1]) - lease
  for _, u in ipairs(redis.call('SMEMBERS', p .. 'pres:on:' .. gw)) do
    local conn = p .. 'pres:conn:' .. u
    redis.call('SREM', conn, gw)
    if redis.call('EXISTS', conn) == 0 then
      redis.call('HSET', left, u, lastBeat)
      redis.call('ZADD', due, now, u)
    end
  end
  redis.call('DEL', p .. 'pres:on:' .. gw)
  redis.call('ZREM', p .. 'pres:gateways', gw)
end
local out = {}
for _, u in ipairs(redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, limit)) do
  redis.call('ZREM', due, u)
  local online = redis.call('EXISTS', p .. 'pres:conn:' .. u) == 1
  local shown = redis.call('SISMEMBER', p .. 'pres:shown', u) == 1
  if online and not shown then
    redis.call('SADD', p .. 'pres:shown', u)
    out[#out + 1] = u; out[#out + 1] = '1'; out[#out + 1] = ''
  elseif shown and not online then
    redis.call('SREM', p .. 'pres:shown', u)
    out[#out + 1] = u; out[#out + 1] = '0'; out[#out + 1] = redis.call('HGET', left, u) or tostring(now)
    redis.call('HDEL', left, u)
  elseif not online then
    redis.call('HDEL', left, u)
  end
end
return out
`;

/** Users asked about in one round trip. */
const LOOKUP_CHUNK = 500;

export class RedisPresence implements PresenceStore {
  private readonly redis: Redis;
  private readonly clock: () => number;
  /** The users this gateway holds, to announce again when the lease was lost. */
  private readonly local = new Set<string>();
  private renewal: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly options: RedisPresenceOptions,
    private readonly log: RedisLogger,
  ) {
    this.clock = options.clock ?? Date.now;
    this.redis = connectRedis(options.url, 'presence', log);
  }

  private get prefix(): string {
    return this.options.keyPrefix;
  }

  connected(userId: string): void {
    if (this.closed) return;
    this.local.add(userId);
    // The lease is taken with the first user: only gateways hold one.
    if (!this.renewal) this.startRenewal();
    this.redis.eval(CONNECT, 0, this.prefix, this.options.instanceId, userId, String(this.clock())).catch((err: unknown) => this.failed(err));
  }

  disconnected(userId: string): void {
    if (this.closed || !this.local.delete(userId)) return;
    this.disconnect(userId).catch((err: unknown) => this.failed(err));
  }

  private disconnect(userId: string): Promise<unknown> {
    return this.redis.eval(DISCONNECT, 0, this.prefix, this.options.instanceId, userId, String(this.clock()), String(this.options.graceMs));
  }

  private failed(err: unknown): void {
    // Repaired when the lease is next found lost (a connect), or by the lease running out (a disconnect).
    this.log.warn({ err: (err as Error).message }, 'presence update failed');
  }

  private startRenewal(): void {
    void this.renew();
    this.renewal = setInterval(() => void this.renew(), Math.max(100, this.options.leaseMs / 3));
    this.renewal.unref();
  }

  /**
   * Renews the lease; when it was lost (a long stall, a Redis restart) announces every local user
   * again. The renewal timer's work, callable so that tests need not wait for the timer.
   */
  async renew(): Promise<void> {
    try {
      const had = (await this.redis.eval(RENEW, 0, this.prefix, this.options.instanceId, String(this.clock() + this.options.leaseMs))) as number;
      if (had === 1 || this.closed) return;
      const now = String(this.clock());
      const pipeline = this.redis.pipeline();
      for (const userId of this.local) pipeline.eval(CONNECT, 0, this.prefix, this.options.instanceId, userId, now);
      await pipeline.exec();
    } catch (err) {
      this.failed(err);
    }
  }

  async claimChanges(limit: number): Promise<PresenceChange[]> {
    const flat = (await this.redis.eval(CLAIM, 0, this.prefix, String(this.clock()), String(limit), String(this.options.leaseMs))) as string[];
    const changes: PresenceChange[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const userId = flat[i]!;
      if (flat[i + 1] === '1') changes.push({ userId, online: true });
      else changes.push({ userId, online: false, lastSeenAt: Number(flat[i + 2]) });
    }
    return changes;
  }

  async onlineOf(userIds: readonly string[]): Promise<Set<string>> {
    const online = new Set<string>();
    for (let i = 0; i < userIds.length; i += LOOKUP_CHUNK) {
      const chunk = userIds.slice(i, i + LOOKUP_CHUNK);
      const pipeline = this.redis.pipeline();
      for (const userId of chunk) pipeline.sismember(`${this.prefix}pres:shown`, userId).exists(`${this.prefix}pres:conn:${userId}`);
      const replies = (await pipeline.exec()) ?? [];
      chunk.forEach((userId, j) => {
        const [shown, connected] = [replies[2 * j], replies[2 * j + 1]];
        if (shown?.[0] || connected?.[0]) throw shown?.[0] ?? connected?.[0];
        if (shown?.[1] === 1 || connected?.[1] === 1) online.add(userId);
      });
    }
    return online;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.renewal) {
      clearInterval(this.renewal);
      // Leave cleanly: the users get their grace period now (and reconnect elsewhere within it)
      // instead of staying online until the lease runs out.
      const users = [...this.local];
      this.local.clear();
      const leave = Promise.all(users.map((userId) => this.disconnect(userId))).then(() =>
        this.redis.eval(LEAVE, 0, this.prefix, this.options.instanceId),
      );
      await Promise.race([leave.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    }
    await disconnectRedis(this.redis);
  }

  /** Test hook: stop as a killed process would, leaving its lease and users behind. */
  abandon(): Promise<void> {
    this.closed = true;
    if (this.renewal) clearInterval(this.renewal);
    return disconnectRedis(this.redis);
  }
}
