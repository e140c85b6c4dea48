/**
 * Every setting of GoChat, declared once. The tree has the shape of `Config` (the type is derived
 * from it); a setting used in two places of the tree is one constant referenced twice. The config
 * command and the env table of docs/deploy.md are generated from these declarations.
 */
import { addressList, bool, connectionUrl, directory, int, oneOf, rate, text } from './setting.js';

const FREE_PORT = 'a free port chosen by the system (logged in the `listening` line)';
const MAX_PORT = 65_535;

const TRUST_PROXY = bool({
  env: 'GOCHAT_TRUST_PROXY',
  default: false,
  section: 'gateway',
  doc: 'take the client address from `X-Forwarded-For` (set it on gateways behind a proxy that knows the address)',
});

const REFUSAL_DELAY_MS = int({
  env: 'GOCHAT_RATE_LIMITED_DELAY_MS',
  default: 1_000,
  min: 0,
  zero: 'answered at once',
  section: 'gateway',
  doc: 'a `RATE_LIMITED` answer (HTTP, refused upgrade) is held this long, so a client looping on refusals waits instead of spinning the server',
});

export const SETTINGS = {
  role: oneOf({
    env: 'GOCHAT_ROLE',
    values: ['all', 'gateway', 'logic', 'task'],
    default: 'all',
    section: 'wiring',
    doc: 'what this process runs: everything in one process, or one role of the distributed topology',
  }),
  http: {
    host: text({ env: 'HOST', default: '0.0.0.0', section: 'gateway', doc: 'address the HTTP + WebSocket listener binds (and the `/metrics` listener of `logic` and `task`)' }),
    port: int({ env: 'PORT', default: 8080, min: 0, max: MAX_PORT, zero: FREE_PORT, section: 'gateway', doc: 'HTTP + WebSocket (+ `/metrics`) port of `all` and `gateway`' }),
    // Fixed by the contract (64 KiB), not configurable.
    bodyLimitBytes: 64 * 1024,
    webDir: directory({ env: 'GOCHAT_WEB_DIR', default: 'web/dist', section: 'gateway', doc: 'the web app served at `/`' }),
    trustProxy: TRUST_PROXY,
    headersTimeoutMs: int({
      env: 'GOCHAT_HTTP_HEADERS_TIMEOUT_MS',
      default: 10_000,
      min: 1,
      section: 'gateway',
      doc: 'a request whose headers have not all arrived after this gets `408 REQUEST_TIMEOUT` (slow-header attacks)',
    }),
    requestTimeoutMs: int({
      env: 'GOCHAT_HTTP_REQUEST_TIMEOUT_MS',
      default: 30_000,
      min: 1,
      section: 'gateway',
      doc: 'a request, body included, not complete after this gets `408 REQUEST_TIMEOUT` (slow-body attacks)',
    }),
    keepAliveTimeoutMs: int({ env: 'GOCHAT_HTTP_KEEPALIVE_TIMEOUT_MS', default: 10_000, min: 1, section: 'gateway', doc: 'an idle keep-alive connection is closed after this' }),
    maxConnections: int({
      env: 'GOCHAT_MAX_CONNECTIONS',
      default: 20_000,
      min: 0,
      zero: 'no cap',
      section: 'gateway',
      doc: 'open TCP connections (HTTP and WebSocket) per process; past it new ones are dropped',
    }),
    maxConnectionsPerIp: int({
      env: 'GOCHAT_MAX_CONNECTIONS_PER_IP',
      default: 256,
      min: 0,
      zero: 'no cap',
      section: 'gateway',
      doc: 'open TCP connections from one address; not applied with `GOCHAT_TRUST_PROXY` (leave that to the proxy)',
    }),
    shutdownGraceMs: int({
      env: 'GOCHAT_SHUTDOWN_GRACE_MS',
      default: 3_000,
      min: 0,
      zero: 'cut at once',
      section: 'gateway',
      doc: 'at SIGTERM, HTTP requests still arriving after this are cut so the process stops',
    }),
    refusalDelayMs: REFUSAL_DELAY_MS,
  },
  ws: {
    // Fixed by the contract (64 KiB), not configurable.
    maxFrameBytes: 64 * 1024,
    idleTimeoutMs: int({ env: 'GOCHAT_WS_IDLE_TIMEOUT_MS', default: 90_000, min: 1, section: 'gateway', doc: 'a WebSocket silent this long (not even a ping) is closed with 4001' }),
    maxBufferedBytes: int({
      env: 'GOCHAT_WS_MAX_BUFFERED_BYTES',
      default: 1024 * 1024,
      min: 1,
      section: 'gateway',
      doc: 'a WebSocket whose unsent output passes this many bytes is closed with 4000 instead of growing server memory',
    }),
    maxSocketsPerUser: int({ env: 'GOCHAT_MAX_SOCKETS_PER_USER', default: 20, min: 1, section: 'gateway', doc: 'open WebSockets of one user; a further upgrade is refused with `429 RATE_LIMITED`' }),
    // A person or an app sends a few frames a second at most (pings every 30 s).
    frameRate: rate({ env: 'GOCHAT_RATE_WS_FRAMES', limit: 300, windowMs: 10_000, section: 'gateway', doc: 'frames one WebSocket may send per window; past it the socket is closed with 4002' }),
    framesPerUser: rate({
      env: 'GOCHAT_RATE_WS_FRAMES_PER_USER',
      limit: 600,
      windowMs: 10_000,
      section: 'gateway',
      doc: 'frames all WebSockets of one user may send per window (reconnecting does not reset it); past it 4002',
    }),
    framesPerIp: rate({
      env: 'GOCHAT_RATE_WS_FRAMES_PER_IP',
      limit: 3_000,
      windowMs: 10_000,
      section: 'gateway',
      doc: 'frames all WebSockets from one address may send per window (reconnecting does not reset it); past it 4002',
    }),
    maxSocketsPerIp: int({
      env: 'GOCHAT_MAX_SOCKETS_PER_IP',
      default: 100,
      min: 0,
      zero: 'no cap',
      section: 'gateway',
      doc: 'open WebSockets from one client address (from `X-Forwarded-For` with `GOCHAT_TRUST_PROXY`)',
    }),
    trustProxy: TRUST_PROXY,
    refusalDelayMs: REFUSAL_DELAY_MS,
    maxInFlightSends: int({
      env: 'GOCHAT_WS_MAX_INFLIGHT_SENDS',
      default: 512,
      min: 1,
      section: 'gateway',
      doc: 'unacked sends per WebSocket before the server stops reading it (until half are answered), so one client cannot queue unbounded work',
    }),
  },
  dataDir: directory({
    env: 'GOCHAT_DATA_DIR',
    default: 'data',
    defaultDoc: '`./data`',
    section: 'wiring',
    doc: '`all` on SQLite: the database file and the generated JWT secret. Unused by distributed roles',
  }),
  sqlite: {
    walAutocheckpointPages: int({
      env: 'GOCHAT_SQLITE_WAL_AUTOCHECKPOINT',
      default: 4_000,
      min: 0,
      zero: 'automatic checkpoints off',
      section: 'wiring',
      doc: '`all` on SQLite: WAL pages between automatic checkpoints (SQLite’s own default is 1000)',
    }),
  },
  databaseUrl: connectionUrl({
    env: 'GOCHAT_DATABASE_URL',
    schemes: ['postgres', 'postgresql'],
    defaultDoc: 'empty (SQLite)',
    section: 'wiring',
    doc: '`postgres://user:password@host:port/db`: PostgreSQL storage. Required for `logic` and `task`; with `all` it replaces SQLite',
  }),
  redisUrl: connectionUrl({
    env: 'GOCHAT_REDIS_URL',
    schemes: ['redis', 'rediss'],
    defaultDoc: 'empty (in-process bus)',
    section: 'wiring',
    doc: '`redis://[:password@]host:port[/db]`: the Redis bus. Required for `gateway`, `logic`, `task`',
  }),
  postgres: {
    poolSize: int({ env: 'GOCHAT_PG_POOL_SIZE', default: 10, min: 1, max: 1_000, section: 'wiring', doc: 'PostgreSQL connections per process' }),
  },
  redis: {
    keyPrefix: text({
      env: 'GOCHAT_REDIS_PREFIX',
      default: 'gochat:',
      maxLength: 100,
      section: 'wiring',
      doc: 'prefix of every Redis key and channel (several deployments can share one Redis)',
    }),
    presenceTtlSeconds: int({
      env: 'GOCHAT_PRESENCE_TTL_SECONDS',
      default: 30,
      min: 1,
      section: 'gateway',
      doc: 'presence entries expire this long after the gateway’s last heartbeat (it beats every third of it), so a crashed gateway stops receiving deliveries on its own',
    }),
  },
  grpc: {
    host: text({ env: 'GOCHAT_GRPC_HOST', default: '0.0.0.0', section: 'logic', doc: 'address the gRPC listener of `logic` binds (services in `src/rpc/proto/*.proto`)' }),
    port: int({ env: 'GOCHAT_GRPC_PORT', default: 9001, min: 0, max: MAX_PORT, zero: FREE_PORT, section: 'logic', doc: 'gRPC port of `logic`' }),
    logicAddrs: addressList({
      env: 'GOCHAT_LOGIC_ADDR',
      maxItems: 256,
      defaultDoc: '—',
      section: 'gateway',
      doc: 'every logic instance. Calls go round-robin, except that a conversation’s sends keep to the instance its id hashes to and a username’s logins to the one the name hashes to; an unreachable instance is skipped (failover) and used again once it is back. List the instances in the same order on every gateway so that a conversation’s sends meet in one instance (any order is still correct, just less local)',
    }),
    timeoutMs: int({ env: 'GOCHAT_GRPC_TIMEOUT_MS', default: 10_000, min: 1, section: 'gateway', doc: 'deadline of one call to logic' }),
  },
  metrics: {
    port: int({
      env: 'GOCHAT_METRICS_PORT',
      default: 9464,
      min: 0,
      max: MAX_PORT,
      zero: FREE_PORT,
      section: 'logic',
      doc: '`/metrics`, `/healthz`, `/readyz` listener of `logic` and `task` (on `HOST`); gateways serve them on `PORT`',
    }),
  },
  fanout: {
    claimIdleMs: int({
      env: 'GOCHAT_FANOUT_CLAIM_IDLE_MS',
      default: 10_000,
      min: 100,
      section: 'task',
      doc: 'entries a dead worker read but never acknowledged are taken over by a live one after this long',
    }),
    batchSize: int({ env: 'GOCHAT_FANOUT_BATCH_SIZE', default: 100, min: 1, section: 'task', doc: 'stream entries a worker reads per round' }),
    streamMaxLen: int({
      env: 'GOCHAT_FANOUT_STREAM_MAX_LEN',
      default: 100_000,
      min: 1,
      section: 'logic',
      doc: 'entries the fan-out stream keeps (approximate `MAXLEN`, applied by logic as it appends); older ones are trimmed even if no worker read them',
    }),
    blockMs: int({
      env: 'GOCHAT_FANOUT_BLOCK_MS',
      default: 1_000,
      min: 1,
      section: 'task',
      doc: 'a worker waits at most this long for new stream entries per read before it looks for stale ones again',
    }),
    memberCacheMs: int({
      env: 'GOCHAT_FANOUT_MEMBER_CACHE_MS',
      default: 2_000,
      min: 0,
      zero: 'members are loaded for every entry',
      section: 'task',
      doc: 'a worker reuses a conversation’s member list this long before loading it again',
    }),
  },
  delivery: {
    reorderWaitMs: int({
      env: 'GOCHAT_DELIVERY_REORDER_MS',
      default: 300,
      min: 0,
      zero: 'no wait: an early delivery is released at the next tick',
      section: 'gateway',
      doc: 'when several logic instances write one conversation (failover, different address orders) or fan-out retries, a gateway may receive its messages out of order or twice; it holds an early one this long for the missing seqId, then releases in order (clients catch up the gap with `afterSeq`), and drops repeats. The first delivery of a conversation the gateway has not seen for 10 s waits 25 ms for an earlier one still in flight',
    }),
  },
  auth: {
    jwtSecret: text({
      env: 'GOCHAT_JWT_SECRET',
      default: '',
      minLength: 32,
      maxLength: 1_024,
      secret: true,
      defaultDoc: 'generated into the data dir (`all` only)',
      section: 'wiring',
      doc: 'token signing secret; required and identical on every `gateway` and `logic`',
    }),
    tokenTtlSeconds: int({ env: 'GOCHAT_TOKEN_TTL_SECONDS', default: 7 * 24 * 3600, min: 1, section: 'logic', doc: 'token lifetime' }),
    scryptCost: int({
      env: 'GOCHAT_SCRYPT_COST',
      default: 16_384,
      min: 2,
      max: 1_048_576,
      powerOfTwo: true,
      section: 'logic',
      doc: 'scrypt cost N of new password hashes (each takes 1 KiB × N of memory); stored hashes keep their own',
    }),
  },
  messages: {
    maxContentChars: int({ env: 'GOCHAT_MAX_CONTENT_CHARS', default: 4_000, min: 1, section: 'logic', doc: 'characters of a message’s content (after trimming)' }),
    worldRoom: bool({ env: 'GOCHAT_WORLD_ROOM', default: true, section: 'logic', doc: 'every user and guest is a member of the world conversation' }),
    largeGroupThreshold: int({
      env: 'GOCHAT_LARGE_GROUP_THRESHOLD',
      default: 500,
      min: 0,
      zero: 'every conversation goes through the workers',
      section: 'logic',
      doc: 'with Redis, a conversation with more members than this is fanned out by `task` workers instead of by logic',
    }),
    recallWindowSeconds: int({
      env: 'GOCHAT_RECALL_WINDOW_SECONDS',
      default: 120,
      min: 0,
      zero: 'senders cannot recall (group owners and admins still remove any message)',
      section: 'logic',
      doc: 'how long after sending a sender may recall its message',
    }),
    editWindowSeconds: int({
      env: 'GOCHAT_EDIT_WINDOW_SECONDS',
      default: 0,
      min: 0,
      zero: 'no limit: a sender edits its text messages at any time',
      section: 'logic',
      doc: 'how long after sending a sender may edit a text message',
    }),
    maxReactionsPerMessage: int({
      env: 'GOCHAT_MAX_REACTIONS_PER_MESSAGE',
      default: 20,
      min: 1,
      max: 100,
      section: 'logic',
      doc: 'different emojis one message may carry (`TOO_MANY_REACTIONS` past it)',
    }),
    commitWindowMs: int({
      env: 'GOCHAT_COMMIT_WINDOW_MS',
      default: 3,
      min: 0,
      zero: 'commits every event-loop turn',
      section: 'logic',
      doc: 'group-commit pacing: under a steady stream of sends (two or more expected per window) a message batch starts at most this often. Also applies to `all`',
    }),
  },
  guests: {
    ttlSeconds: int({
      env: 'GOCHAT_GUEST_TTL_SECONDS',
      default: 24 * 3600,
      min: 0,
      zero: 'guests never expire',
      section: 'logic',
      doc: 'a guest unused this long expires (out of the world room, its tokens refused, its sockets closed). Also applies to `all`',
    }),
    sweepIntervalMs: int({ env: 'GOCHAT_GUEST_SWEEP_INTERVAL_MS', default: 60_000, min: 100, section: 'logic', doc: 'every logic instance looks for expired guests this often' }),
    sweepBatch: int({ env: 'GOCHAT_GUEST_SWEEP_BATCH', default: 500, min: 1, section: 'logic', doc: 'guests expired per sweep at most (instances never take the same guest)' }),
  },
  // Defaults fit a public server: far above a person typing or an app syncing, far below a flood.
  limits: {
    sendPerUser: rate({ env: 'GOCHAT_RATE_SEND_PER_USER', limit: 60, windowMs: 10_000, section: 'logic', doc: 'messages a registered user may send per window' }),
    sendPerGuest: rate({ env: 'GOCHAT_RATE_SEND_PER_GUEST', limit: 20, windowMs: 10_000, section: 'logic', doc: 'messages a guest may send per window' }),
    sendBytesPerUser: rate({
      env: 'GOCHAT_RATE_SEND_BYTES_PER_USER',
      limit: 512 * 1024,
      windowMs: 60_000,
      section: 'logic',
      doc: 'UTF-8 bytes of content a registered user may send per window',
    }),
    sendBytesPerGuest: rate({ env: 'GOCHAT_RATE_SEND_BYTES_PER_GUEST', limit: 64 * 1024, windowMs: 60_000, section: 'logic', doc: 'UTF-8 bytes of content a guest may send per window' }),
    loginPerUsername: rate({ env: 'GOCHAT_RATE_LOGIN_PER_USERNAME', limit: 10, windowMs: 60_000, section: 'logic', doc: 'login attempts for one username from one address per window' }),
    loginPerIp: rate({ env: 'GOCHAT_RATE_LOGIN_PER_IP', limit: 100, windowMs: 60_000, section: 'logic', doc: 'login attempts from one address per window' }),
    // Short windows: the same hourly allowance (30 accounts, 60 guests, 20 groups, 120 / 20 lookups)
    // comes as small bursts, so an attacker cannot spend an hour's worth in one second.
    registerPerIp: rate({
      env: 'GOCHAT_RATE_REGISTER_PER_IP',
      limit: 5,
      windowMs: 600_000,
      section: 'logic',
      doc: 'accounts registered from one address per window (raise it for a large office behind one NAT)',
    }),
    guestPerIp: rate({ env: 'GOCHAT_RATE_GUEST_PER_IP', limit: 10, windowMs: 600_000, section: 'logic', doc: 'guests created from one address per window' }),
    groupsPerUser: rate({ env: 'GOCHAT_RATE_GROUPS_PER_USER', limit: 5, windowMs: 900_000, section: 'logic', doc: 'groups one user may create per window' }),
    membersAddedPerUser: rate({
      env: 'GOCHAT_RATE_MEMBERS_ADDED_PER_USER',
      limit: 200,
      windowMs: 900_000,
      section: 'logic',
      doc: 'users one user may ask to add to existing groups per window (each id counts)',
    }),
    lookupsPerUser: rate({
      env: 'GOCHAT_RATE_LOOKUPS_PER_USER',
      limit: 20,
      windowMs: 600_000,
      section: 'logic',
      doc: 'other users a registered user may look up (opening a 1:1, finding by username) per window',
    }),
    lookupsPerGuest: rate({ env: 'GOCHAT_RATE_LOOKUPS_PER_GUEST', limit: 5, windowMs: 900_000, section: 'logic', doc: 'other users a guest may look up per window' }),
    maxGroupMembers: int({ env: 'GOCHAT_MAX_GROUP_MEMBERS', default: 2_000, min: 1, section: 'logic', doc: 'members of a group, its creator included' }),
  },
  kdf: {
    register: {
      concurrency: int({ env: 'GOCHAT_KDF_REGISTER_CONCURRENCY', default: 1, min: 1, section: 'logic', doc: 'password hashes of registrations running at once' }),
      maxQueued: int({
        env: 'GOCHAT_KDF_REGISTER_QUEUE',
        default: 16,
        min: 0,
        zero: 'none wait: refused whenever all are running',
        section: 'logic',
        doc: 'registration hashes waiting; past it `503` + `Retry-After: 1`',
      }),
    },
    login: {
      concurrency: int({ env: 'GOCHAT_KDF_LOGIN_CONCURRENCY', default: 2, min: 1, section: 'logic', doc: 'password hashes of logins running at once' }),
      maxQueued: int({
        env: 'GOCHAT_KDF_LOGIN_QUEUE',
        default: 64,
        min: 0,
        zero: 'none wait: refused whenever all are running',
        section: 'logic',
        doc: 'login hashes waiting; past it `503` + `Retry-After: 1`',
      }),
    },
  },
  log: {
    level: oneOf({
      env: 'GOCHAT_LOG_LEVEL',
      aliases: ['LOG_LEVEL'],
      values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
      default: 'info',
      section: 'wiring',
      doc: 'the least severe level logged',
    }),
  },
  instanceId: text({
    env: 'GOCHAT_INSTANCE_ID',
    default: '',
    maxLength: 100,
    defaultDoc: 'role + random',
    section: 'wiring',
    doc: 'this process’s name: its delivery channel, presence entries and fan-out consumer name. Must be unique among live processes',
  }),
};
