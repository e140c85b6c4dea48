/**
 * The typed configuration tree. This module is the only reader of `process.env`:
 * everything else receives its slice of `Config` from the composition root.
 */
import path from 'node:path';

export type Role = 'all' | 'gateway' | 'logic' | 'task';

export interface RateLimitConfig {
  /** Requests allowed per window. */
  limit: number;
  windowMs: number;
}

export interface Config {
  role: Role;
  http: { host: string; port: number; bodyLimitBytes: number; webDir: string; trustProxy: boolean };
  ws: {
    maxFrameBytes: number;
    idleTimeoutMs: number;
    /** A socket whose unsent output passes this many bytes is closed. */
    maxBufferedBytes: number;
    maxSocketsPerUser: number;
    /** Frames one connection may send per window; past it the socket is closed with 4002. */
    frameRate: RateLimitConfig;
    /** Unacked send-message frames per connection before the server stops reading it (TCP pushes back). */
    maxInFlightSends: number;
  };
  dataDir: string;
  sqlite: {
    /** WAL pages between automatic checkpoints (SQLite's default is 1000). */
    walAutocheckpointPages: number;
  };
  /** postgres://… selects PostgreSQL storage; empty keeps SQLite in `dataDir`. */
  databaseUrl: string;
  /** redis://… selects the Redis bus; empty keeps the in-process bus. */
  redisUrl: string;
  postgres: { poolSize: number };
  redis: {
    /** Prefix of every Redis key and channel, so deployments can share one Redis. */
    keyPrefix: string;
    /** A gateway's presence entries expire this long after its last heartbeat. */
    presenceTtlSeconds: number;
  };
  grpc: {
    /** Where a `logic` process serves gRPC. */
    host: string;
    port: number;
    /** Where a `gateway` finds logic: every `host:port`, load-balanced with failover. */
    logicAddrs: string[];
    /** Deadline of one gateway -> logic call. */
    timeoutMs: number;
  };
  /** The /metrics (and /healthz) listener of the `logic` and `task` roles; gateways use their HTTP port. */
  metrics: { port: number };
  fanout: {
    /** An entry a dead worker left unacknowledged is taken over after this long. */
    claimIdleMs: number;
    batchSize: number;
  };
  delivery: {
    /** How long a gateway holds an out-of-order delivery waiting for the missing seqId. */
    reorderWaitMs: number;
  };
  auth: {
    /** Empty: generated once and kept in the data dir (embedded) or required (distributed). */
    jwtSecret: string;
    tokenTtlSeconds: number;
    /** scrypt cost parameter N (a power of two). */
    scryptCost: number;
  };
  messages: {
    maxContentChars: number;
    worldRoom: boolean;
    largeGroupThreshold: number;
    /** Under a steady stream of sends, batches start at most this often (ms); 0 commits every turn. */
    commitWindowMs: number;
  };
  guests: {
    /** A guest that has not authenticated for this long expires (out of the world room, tokens dead); 0: never. */
    ttlSeconds: number;
    /** How often logic looks for expired guests. */
    sweepIntervalMs: number;
    /** Guests expired per sweep at most. */
    sweepBatch: number;
  };
  limits: {
    sendPerUser: RateLimitConfig;
    loginPerUsername: RateLimitConfig;
    loginPerIp: RateLimitConfig;
    registerPerIp: RateLimitConfig;
    guestPerIp: RateLimitConfig;
    maxGroupMembers: number;
  };
  log: { level: string };
  instanceId: string;
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  return raw === '1' || raw.toLowerCase() === 'true';
}

function rate(env: Env, name: string, limit: number, windowMs: number): RateLimitConfig {
  return { limit: int(env, `${name}`, limit), windowMs: int(env, `${name}_WINDOW_MS`, windowMs) };
}

function role(raw: string | undefined): Role {
  const value = raw ?? 'all';
  if (value === 'all' || value === 'gateway' || value === 'logic' || value === 'task') return value;
  throw new Error(`GOCHAT_ROLE must be all|gateway|logic|task, got "${value}"`);
}

export function loadConfig(env: Env = process.env): Config {
  const port = int(env, 'PORT', 8080);
  return {
    role: role(env.GOCHAT_ROLE),
    http: {
      host: env.HOST ?? '0.0.0.0',
      port,
      bodyLimitBytes: 64 * 1024,
      webDir: path.resolve(env.GOCHAT_WEB_DIR ?? 'web/dist'),
      trustProxy: bool(env, 'GOCHAT_TRUST_PROXY', false),
    },
    ws: {
      maxFrameBytes: 64 * 1024,
      idleTimeoutMs: int(env, 'GOCHAT_WS_IDLE_TIMEOUT_MS', 90_000),
      maxBufferedBytes: int(env, 'GOCHAT_WS_MAX_BUFFERED_BYTES', 1024 * 1024),
      maxSocketsPerUser: int(env, 'GOCHAT_MAX_SOCKETS_PER_USER', 20),
      frameRate: rate(env, 'GOCHAT_RATE_WS_FRAMES', 100_000, 10_000),
      maxInFlightSends: Math.max(1, int(env, 'GOCHAT_WS_MAX_INFLIGHT_SENDS', 512)),
    },
    dataDir: path.resolve(env.GOCHAT_DATA_DIR ?? 'data'),
    sqlite: { walAutocheckpointPages: int(env, 'GOCHAT_SQLITE_WAL_AUTOCHECKPOINT', 4000) },
    databaseUrl: env.GOCHAT_DATABASE_URL ?? '',
    redisUrl: env.GOCHAT_REDIS_URL ?? '',
    postgres: { poolSize: int(env, 'GOCHAT_PG_POOL_SIZE', 10) },
    redis: {
      keyPrefix: env.GOCHAT_REDIS_PREFIX ?? 'gochat:',
      presenceTtlSeconds: Math.max(1, int(env, 'GOCHAT_PRESENCE_TTL_SECONDS', 30)),
    },
    grpc: {
      host: env.GOCHAT_GRPC_HOST ?? '0.0.0.0',
      port: int(env, 'GOCHAT_GRPC_PORT', 9001),
      logicAddrs: (env.GOCHAT_LOGIC_ADDR ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      timeoutMs: int(env, 'GOCHAT_GRPC_TIMEOUT_MS', 10_000),
    },
    metrics: { port: int(env, 'GOCHAT_METRICS_PORT', 9464) },
    fanout: {
      claimIdleMs: Math.max(100, int(env, 'GOCHAT_FANOUT_CLAIM_IDLE_MS', 10_000)),
      batchSize: Math.max(1, int(env, 'GOCHAT_FANOUT_BATCH_SIZE', 100)),
    },
    delivery: { reorderWaitMs: int(env, 'GOCHAT_DELIVERY_REORDER_MS', 300) },
    auth: {
      jwtSecret: env.GOCHAT_JWT_SECRET ?? '',
      tokenTtlSeconds: int(env, 'GOCHAT_TOKEN_TTL_SECONDS', 7 * 24 * 3600),
      scryptCost: int(env, 'GOCHAT_SCRYPT_COST', 16384),
    },
    messages: {
      maxContentChars: int(env, 'GOCHAT_MAX_CONTENT_CHARS', 4000),
      worldRoom: bool(env, 'GOCHAT_WORLD_ROOM', true),
      largeGroupThreshold: int(env, 'GOCHAT_LARGE_GROUP_THRESHOLD', 500),
      commitWindowMs: Math.max(0, int(env, 'GOCHAT_COMMIT_WINDOW_MS', 3)),
    },
    guests: {
      ttlSeconds: int(env, 'GOCHAT_GUEST_TTL_SECONDS', 24 * 3600),
      sweepIntervalMs: Math.max(100, int(env, 'GOCHAT_GUEST_SWEEP_INTERVAL_MS', 60_000)),
      sweepBatch: Math.max(1, int(env, 'GOCHAT_GUEST_SWEEP_BATCH', 500)),
    },
    limits: {
      sendPerUser: rate(env, 'GOCHAT_RATE_SEND_PER_USER', 100_000, 10_000),
      loginPerUsername: rate(env, 'GOCHAT_RATE_LOGIN_PER_USERNAME', 10, 60_000),
      loginPerIp: rate(env, 'GOCHAT_RATE_LOGIN_PER_IP', 100, 60_000),
      registerPerIp: rate(env, 'GOCHAT_RATE_REGISTER_PER_IP', 10_000, 60_000),
      guestPerIp: rate(env, 'GOCHAT_RATE_GUEST_PER_IP', 10_000, 60_000),
      maxGroupMembers: int(env, 'GOCHAT_MAX_GROUP_MEMBERS', 2000),
    },
    log: { level: env.GOCHAT_LOG_LEVEL ?? env.LOG_LEVEL ?? 'info' },
    instanceId: env.GOCHAT_INSTANCE_ID ?? '',
  };
}
