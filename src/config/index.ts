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
  http: {
    host: string;
    port: number;
    bodyLimitBytes: number;
    webDir: string;
    trustProxy: boolean;
    /** A request's headers must arrive within this (slow-header attacks). */
    headersTimeoutMs: number;
    /** A whole request, body included, must arrive within this (slow-body attacks). */
    requestTimeoutMs: number;
    /** An idle keep-alive connection is closed after this. */
    keepAliveTimeoutMs: number;
    /** Open TCP connections (HTTP and WebSocket) the process accepts; past it new ones are dropped. */
    maxConnections: number;
    /** Open TCP connections from one address (when not behind a trusted proxy). */
    maxConnectionsPerIp: number;
    /** At shutdown, requests still not answered after this are cut so the process can stop. */
    shutdownGraceMs: number;
    /**
     * A RATE_LIMITED answer (HTTP, and a refused WebSocket upgrade) is held this long: a client
     * looping on refusals then costs one timer a second per connection instead of a busy core.
     */
    refusalDelayMs: number;
  };
  ws: {
    maxFrameBytes: number;
    idleTimeoutMs: number;
    /** A socket whose unsent output passes this many bytes is closed. */
    maxBufferedBytes: number;
    maxSocketsPerUser: number;
    /** Frames one connection may send per window; past it the socket is closed with 4002. */
    frameRate: RateLimitConfig;
    /** Frames all of one user's / one address's connections may send per window: reconnecting does not reset them. */
    framesPerUser: RateLimitConfig;
    framesPerIp: RateLimitConfig;
    /** Open WebSockets from one client address (0: no cap). */
    maxSocketsPerIp: number;
    /** Take the client address from X-Forwarded-For (GOCHAT_TRUST_PROXY). */
    trustProxy: boolean;
    /** A refused upgrade (429) is answered after this (GOCHAT_RATE_LIMITED_DELAY_MS). */
    refusalDelayMs: number;
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
    /** Messages a registered user / a guest may send per window. */
    sendPerUser: RateLimitConfig;
    sendPerGuest: RateLimitConfig;
    /** UTF-8 bytes of content a registered user / a guest may send per window. */
    sendBytesPerUser: RateLimitConfig;
    sendBytesPerGuest: RateLimitConfig;
    loginPerUsername: RateLimitConfig;
    loginPerIp: RateLimitConfig;
    registerPerIp: RateLimitConfig;
    guestPerIp: RateLimitConfig;
    /** Groups one user may create per window. */
    groupsPerUser: RateLimitConfig;
    /** Other users looked up (by id or name: opening a 1:1, finding by username) per window. */
    lookupsPerUser: RateLimitConfig;
    lookupsPerGuest: RateLimitConfig;
    maxGroupMembers: number;
  };
  /** Password hashing: how many run at once and how many may wait, for registrations and logins. */
  kdf: {
    register: { concurrency: number; maxQueued: number };
    login: { concurrency: number; maxQueued: number };
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
      headersTimeoutMs: Math.max(1, int(env, 'GOCHAT_HTTP_HEADERS_TIMEOUT_MS', 10_000)),
      requestTimeoutMs: Math.max(1, int(env, 'GOCHAT_HTTP_REQUEST_TIMEOUT_MS', 30_000)),
      keepAliveTimeoutMs: Math.max(1, int(env, 'GOCHAT_HTTP_KEEPALIVE_TIMEOUT_MS', 10_000)),
      maxConnections: int(env, 'GOCHAT_MAX_CONNECTIONS', 20_000),
      maxConnectionsPerIp: int(env, 'GOCHAT_MAX_CONNECTIONS_PER_IP', 256),
      shutdownGraceMs: int(env, 'GOCHAT_SHUTDOWN_GRACE_MS', 3_000),
      refusalDelayMs: int(env, 'GOCHAT_RATE_LIMITED_DELAY_MS', 1_000),
    },
    ws: {
      maxFrameBytes: 64 * 1024,
      idleTimeoutMs: int(env, 'GOCHAT_WS_IDLE_TIMEOUT_MS', 90_000),
      maxBufferedBytes: int(env, 'GOCHAT_WS_MAX_BUFFERED_BYTES', 1024 * 1024),
      maxSocketsPerUser: int(env, 'GOCHAT_MAX_SOCKETS_PER_USER', 20),
      // A person or an app sends a few frames a second at most (pings every 30 s).
      frameRate: rate(env, 'GOCHAT_RATE_WS_FRAMES', 300, 10_000),
      framesPerUser: rate(env, 'GOCHAT_RATE_WS_FRAMES_PER_USER', 600, 10_000),
      framesPerIp: rate(env, 'GOCHAT_RATE_WS_FRAMES_PER_IP', 3_000, 10_000),
      maxSocketsPerIp: int(env, 'GOCHAT_MAX_SOCKETS_PER_IP', 100),
      trustProxy: bool(env, 'GOCHAT_TRUST_PROXY', false),
      refusalDelayMs: int(env, 'GOCHAT_RATE_LIMITED_DELAY_MS', 1_000),
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
      // Defaults fit a public server: far above a person typing or an app syncing, far below a flood.
      sendPerUser: rate(env, 'GOCHAT_RATE_SEND_PER_USER', 60, 10_000),
      sendPerGuest: rate(env, 'GOCHAT_RATE_SEND_PER_GUEST', 20, 10_000),
      sendBytesPerUser: rate(env, 'GOCHAT_RATE_SEND_BYTES_PER_USER', 512 * 1024, 60_000),
      sendBytesPerGuest: rate(env, 'GOCHAT_RATE_SEND_BYTES_PER_GUEST', 64 * 1024, 60_000),
      loginPerUsername: rate(env, 'GOCHAT_RATE_LOGIN_PER_USERNAME', 10, 60_000),
      loginPerIp: rate(env, 'GOCHAT_RATE_LOGIN_PER_IP', 100, 60_000),
      // Short windows: the same hourly allowance (30 accounts, 60 guests, 20 groups, 120 / 20 lookups)
      // comes as small bursts, so an attacker cannot spend an hour's worth in one second.
      registerPerIp: rate(env, 'GOCHAT_RATE_REGISTER_PER_IP', 5, 600_000),
      guestPerIp: rate(env, 'GOCHAT_RATE_GUEST_PER_IP', 10, 600_000),
      groupsPerUser: rate(env, 'GOCHAT_RATE_GROUPS_PER_USER', 5, 900_000),
      lookupsPerUser: rate(env, 'GOCHAT_RATE_LOOKUPS_PER_USER', 20, 600_000),
      lookupsPerGuest: rate(env, 'GOCHAT_RATE_LOOKUPS_PER_GUEST', 5, 900_000),
      maxGroupMembers: int(env, 'GOCHAT_MAX_GROUP_MEMBERS', 2000),
    },
    kdf: {
      register: {
        concurrency: Math.max(1, int(env, 'GOCHAT_KDF_REGISTER_CONCURRENCY', 1)),
        maxQueued: int(env, 'GOCHAT_KDF_REGISTER_QUEUE', 16),
      },
      login: {
        concurrency: Math.max(1, int(env, 'GOCHAT_KDF_LOGIN_CONCURRENCY', 2)),
        maxQueued: int(env, 'GOCHAT_KDF_LOGIN_QUEUE', 64),
      },
    },
    log: { level: env.GOCHAT_LOG_LEVEL ?? env.LOG_LEVEL ?? 'info' },
    instanceId: env.GOCHAT_INSTANCE_ID ?? '',
  };
}
