/**
 * The composition root: the only place that constructs objects. It picks the storage and
 * bus implementations from config and wires the role:
 * - `all` (default): gateway + logic (+ fan-out worker when Redis is configured) in one
 *   process; with no env at all that is SQLite + the in-process bus.
 * - `gateway`: HTTP + WebSocket; calls logic over gRPC, receives deliveries from Redis.
 * - `logic`: serves the LogicApi over gRPC; stores in PostgreSQL, publishes to Redis.
 * - `task`: fans out large conversations from the Redis Stream.
 */
import path from 'node:path';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Repo } from '../repo/index.js';
import type { Bus } from '../bus/index.js';
import type { LogicApi } from '../logic/api.js';
import type { OperationObserver } from '../ports/observer.js';
import { SqliteRepo } from '../repo/sqlite/sqlite-repo.js';
import { PostgresRepo } from '../repo/postgres/postgres-repo.js';
import { MemoryBus } from '../bus/memory-bus.js';
import { RedisBus } from '../bus/redis-bus.js';
import { RedisFanoutQueue } from '../bus/redis-fanout-queue.js';
import type { DeliveryRouter, FanoutQueue } from '../bus/fanout-queue.js';
import { DEFAULT_ORDERED_DELIVERY } from '../bus/ordered-delivery.js';
import { Logic } from '../logic/logic.js';
import { buildHttpServer } from '../gateway/http/server.js';
import { WsGateway } from '../gateway/ws/ws-gateway.js';
import { RpcServer, SEND_MESSAGE_CALL, UNAUTHENTICATED_CALL } from '../rpc/server.js';
import { RpcLogicClient } from '../rpc/client.js';
import { internalKey } from '../rpc/definitions.js';
import { FanoutWorker } from '../task/fanout-worker.js';
import { Metrics } from '../metrics/metrics.js';
import { observeBus, observeFanoutQueue, observeFanoutWorker, observeRepo, observeRpcClient, observeRpcServer, observeSends } from '../metrics/observers.js';
import { loadOrCreateSecret } from './secret.js';
import { ResourceStack } from './resources.js';

export interface RunningGoChat {
  /** The main port actually bound (useful with port 0): HTTP for all/gateway, gRPC for logic, metrics for task. */
  port: number;
  /** Graceful shutdown: stop accepting, flush pending commits, close sockets with 1001. */
  close(): Promise<void>;
}

async function startRepo(stack: ResourceStack, config: Config, metrics: Metrics): Promise<Repo> {
  const observe = observeRepo(metrics);
  const close = (repo: Repo) => repo.close();
  if (!config.databaseUrl) {
    return stack.add('store', () => new SqliteRepo({ file: path.join(config.dataDir, 'gochat.db'), walAutocheckpointPages: config.sqlite.walAutocheckpointPages, observe }), close);
  }
  // On the stack before it migrates, so a migration that fails still closes the pool.
  const repo = await stack.add('store', () => new PostgresRepo({ url: config.databaseUrl, poolSize: config.postgres.poolSize, observe }), close);
  await repo.migrate();
  return repo;
}

/** The Redis bus and, started before it, the fan-out queue it hands large conversations to. */
async function startRedisBus(stack: ResourceStack, config: Config, instanceId: string, metrics: Metrics, log: Logger): Promise<{ bus: RedisBus; queue: FanoutQueue }> {
  const queue = await stack.add(
    'fan-out queue',
    () => new RedisFanoutQueue({ url: config.redisUrl, keyPrefix: config.redis.keyPrefix, maxLen: config.fanout.streamMaxLen, observe: observeFanoutQueue(metrics) }, log),
    (queue) => queue.close(),
  );
  const bus = await stack.add(
    'bus',
    () =>
      new RedisBus(
        {
          url: config.redisUrl,
          instanceId,
          keyPrefix: config.redis.keyPrefix,
          presenceTtlSeconds: config.redis.presenceTtlSeconds,
          largeGroupThreshold: config.messages.largeGroupThreshold,
          ordering: { ...DEFAULT_ORDERED_DELIVERY, waitMs: config.delivery.reorderWaitMs },
          observe: observeBus(metrics),
        },
        queue,
        log,
      ),
    (bus) => bus.close(),
  );
  return { bus, queue };
}

/**
 * Logic over its store and bus; its stop commits what it accepted. `secret` is read inside the
 * start: a data dir that cannot hold the generated one fails this step, with the store started.
 */
async function startLogic(stack: ResourceStack, config: Config, repo: Repo, bus: Bus, log: Logger, secret: () => string): Promise<Logic> {
  const logic = await stack.add(
    'logic',
    async () => {
      const logic = new Logic(
        {
          jwtSecret: secret(),
          tokenTtlSeconds: config.auth.tokenTtlSeconds,
          scryptCost: config.auth.scryptCost,
          maxContentChars: config.messages.maxContentChars,
          worldRoom: config.messages.worldRoom,
          maxGroupMembers: config.limits.maxGroupMembers,
          commitWindowMs: config.messages.commitWindowMs,
          typingMaxMembers: config.messages.typingMaxMembers,
          messageActions: {
            recallWindowSeconds: config.messages.recallWindowSeconds,
            editWindowSeconds: config.messages.editWindowSeconds,
            maxReactionsPerMessage: config.messages.maxReactionsPerMessage,
          },
          guestExpiry: config.guests,
          limits: config.limits,
          kdf: config.kdf,
        },
        repo,
        bus,
        log,
      );
      await logic.start();
      return logic;
    },
    (logic) => logic.drain(),
  );
  return logic;
}

/** The guest sweep of a logic: a resource of its own, so a start that fails after it stops it. */
async function startGuestExpiry(stack: ResourceStack, logic: Logic): Promise<void> {
  await stack.add(
    'guest expiry',
    () => logic.startGuestExpiry(),
    () => logic.stopGuestExpiry(),
  );
}

async function startFanoutWorker(
  stack: ResourceStack,
  config: Config,
  instanceId: string,
  queue: FanoutQueue,
  router: DeliveryRouter,
  repo: Repo,
  metrics: Metrics,
  log: Logger,
): Promise<void> {
  await stack.add(
    'fan-out worker',
    async () => {
      const worker = new FanoutWorker(
        {
          consumer: instanceId,
          batchSize: config.fanout.batchSize,
          blockMs: config.fanout.blockMs,
          claimIdleMs: config.fanout.claimIdleMs,
          memberCacheMs: config.fanout.memberCacheMs,
          observe: observeFanoutWorker(metrics),
        },
        queue,
        router,
        repo,
        log,
      );
      await worker.start();
      return worker;
    },
    (worker) => worker.stop(),
  );
}

/** The logic role has no WebSocket edge: its sends are the gRPC server's SendMessage calls that passed the key check. */
function observeRpcCallsAndSends(metrics: Metrics): OperationObserver {
  const calls = observeRpcServer(metrics);
  const sends = observeSends(metrics);
  return (method, seconds, outcome) => {
    calls(method, seconds, outcome);
    if (method === SEND_MESSAGE_CALL && outcome !== UNAUTHENTICATED_CALL) sends(method, seconds, outcome);
  };
}

/** Distributed roles share one secret: logic signs tokens with it, gateways derive the gRPC key from it. */
function requireSecret(config: Config): string {
  if (!config.auth.jwtSecret) throw new Error(`GOCHAT_JWT_SECRET is required for GOCHAT_ROLE=${config.role} (the same value on every gateway and logic)`);
  return config.auth.jwtSecret;
}

function requireSetting(value: string | readonly string[], name: string, role: string): void {
  if (value.length === 0) throw new Error(`${name} is required for GOCHAT_ROLE=${role}`);
}

/**
 * The HTTP + WebSocket edge over any LogicApi, with GET /metrics beside the API: three resources,
 * so a listen that fails still closes the server and the WebSocket gateway. Stopped last started
 * first, they make the graceful shutdown of an edge:
 * 1. `edge` (the listening): refuse new sockets and sends, stop taking HTTP connections while
 *    in-flight requests finish, let accepted sends commit (`drain`) and their acks be written;
 * 2. `websocket gateway`: close the sockets with 1001;
 * 3. `http server`: wait until its connections are gone (the upgraded sockets included), cut
 *    after `shutdownGraceMs` so a request still arriving (a slow body) cannot hold the shutdown.
 */
async function startEdge(
  stack: ResourceStack,
  config: Config,
  instanceId: string,
  api: LogicApi,
  bus: Bus,
  metrics: Metrics,
  log: Logger,
  drain: () => Promise<void>,
): Promise<number> {
  let httpClosed: Promise<void> | null = null;
  const server = await stack.add(
    'http server',
    async () => {
      const server = await buildHttpServer(config.http, api, log);
      server.get('/metrics', { schema: { hide: true } }, async (_req, reply) => reply.type(metrics.contentType).send(await metrics.text()));
      return server;
    },
    (server) => (httpClosed ??= server.close()),
  );
  const ws = await stack.add(
    'websocket gateway',
    async () => {
      const ws = new WsGateway({ ...config.ws, instanceId, observe: observeSends(metrics) }, api, bus, log);
      metrics.countConnectionsWith(() => ws.connectionCount);
      await ws.attach(server.server);
      return ws;
    },
    (ws) => ws.close(),
  );
  await stack.add(
    'edge',
    () => server.listen({ host: config.http.host, port: config.http.port }),
    async () => {
      ws.stopAccepting();
      httpClosed ??= server.close();
      const cut = setTimeout(() => server.server.closeAllConnections(), config.http.shutdownGraceMs);
      cut.unref();
      const uncut = () => clearTimeout(cut);
      httpClosed.then(uncut, uncut);
      await drain();
      // Acks for the drained sends are written before the close frames.
      await new Promise((resolve) => setImmediate(resolve));
    },
  );
  const address = server.server.address();
  return typeof address === 'object' && address ? address.port : config.http.port;
}

/** /metrics, /healthz and /readyz for the roles without an HTTP API; resolves with the bound port. */
async function startMetricsListener(stack: ResourceStack, config: Config, metrics: Metrics, ready: () => Promise<void>, log: Logger): Promise<number> {
  const send = (res: http.ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type }).end(body);
  };
  const json = (success: boolean, message: string, extra: object) => JSON.stringify({ success, message, ...extra });
  const server = http.createServer((req, res) => {
    const route = req.method === 'GET' ? (req.url ?? '').split('?')[0] : '';
    if (route === '/metrics') {
      metrics.text().then(
        (text) => send(res, 200, metrics.contentType, text),
        () => send(res, 500, 'text/plain', 'metrics unavailable'),
      );
    } else if (route === '/healthz') {
      send(res, 200, 'application/json', json(true, 'OK', { data: { status: 'ok' } }));
    } else if (route === '/readyz') {
      ready().then(
        () => send(res, 200, 'application/json', json(true, 'OK', { data: { status: 'ready' } })),
        (err: unknown) => {
          log.warn({ err }, 'not ready');
          send(res, 503, 'application/json', json(false, 'Not ready', { code: 'SERVICE_UNAVAILABLE' }));
        },
      );
    } else {
      send(res, 404, 'application/json', json(false, 'Route not found', { code: 'ROUTE_NOT_FOUND' }));
    }
  });
  await stack.add(
    'metrics listener',
    () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.metrics.port, config.http.host, () => resolve());
      }),
    () => new Promise<void>((resolve) => server.close(() => resolve())),
  );
  const address = server.address();
  return typeof address === 'object' && address ? address.port : config.metrics.port;
}

export async function startGoChat(config: Config, log: Logger): Promise<RunningGoChat> {
  const instanceId = config.instanceId || `${config.role}-${randomUUID().slice(0, 8)}`;
  const metrics = new Metrics(config.role, instanceId);
  const stack = new ResourceStack();
  let port: number;
  try {
    port = await startRole(config, instanceId, metrics, log, stack);
  } catch (err) {
    // Whatever started before the failure is stopped again, last first: a failed start leaks nothing.
    await stack.stop().catch((stopErr: unknown) => log.error({ err: stopErr }, 'stopping after a failed start'));
    throw err;
  }

  let closing: Promise<void> | null = null;
  return {
    port,
    close() {
      closing ??= (async () => {
        await stack.stop();
        log.info('stopped');
      })();
      return closing;
    },
  };
}

/**
 * Starts `config.role`, adding each resource to `stack` as it starts it. The graceful shutdown is
 * the same stack stopped last first, so each role starts its edge (what clients and peers call)
 * last and stops it first.
 */
async function startRole(config: Config, instanceId: string, metrics: Metrics, log: Logger, stack: ResourceStack): Promise<number> {
  switch (config.role) {
    case 'all': {
      const repo = await startRepo(stack, config, metrics);
      const redis = config.redisUrl ? await startRedisBus(stack, config, instanceId, metrics, log) : null;
      const bus = redis?.bus ?? (await stack.add('bus', () => new MemoryBus({ observe: observeBus(metrics) }), (bus) => bus.close()));
      const logic = await startLogic(stack, config, repo, bus, log, () => loadOrCreateSecret(config.auth.jwtSecret, config.dataDir));
      await startGuestExpiry(stack, logic);
      // With Redis, large conversations go through the stream: this process drains it too.
      if (redis) await startFanoutWorker(stack, config, instanceId, redis.queue, redis.bus, repo, metrics, log);
      const port = await startEdge(stack, config, instanceId, logic, bus, metrics, log, () => logic.drain());
      log.info({ port, role: config.role, dataDir: config.dataDir }, 'listening');
      return port;
    }

    case 'gateway': {
      requireSetting(config.grpc.logicAddrs, 'GOCHAT_LOGIC_ADDR', 'gateway');
      requireSetting(config.redisUrl, 'GOCHAT_REDIS_URL', 'gateway');
      const key = internalKey(requireSecret(config));
      const client = await stack.add(
        'logic client',
        () => new RpcLogicClient({ addrs: config.grpc.logicAddrs, internalKey: key, timeoutMs: config.grpc.timeoutMs, observe: observeRpcClient(metrics) }),
        (client) => client.close(),
      );
      const { bus } = await startRedisBus(stack, config, instanceId, metrics, log);
      const port = await startEdge(stack, config, instanceId, client, bus, metrics, log, () => client.drain());
      log.info({ port, role: config.role, instanceId, logic: config.grpc.logicAddrs }, 'listening');
      return port;
    }

    case 'logic': {
      requireSetting(config.databaseUrl, 'GOCHAT_DATABASE_URL', 'logic');
      requireSetting(config.redisUrl, 'GOCHAT_REDIS_URL', 'logic');
      const secret = requireSecret(config);
      const repo = await startRepo(stack, config, metrics);
      const { bus } = await startRedisBus(stack, config, instanceId, metrics, log);
      const logic = await startLogic(stack, config, repo, bus, log, () => secret);
      // Before the gRPC edge, so /metrics and /readyz outlive its drain.
      const metricsPort = await startMetricsListener(stack, config, metrics, () => logic.ready(), log);
      await startGuestExpiry(stack, logic);
      // The edge of this role: its stop finishes the calls in flight, then commits what they sent.
      const { port: grpcPort } = await stack.add(
        'grpc server',
        async () => {
          const rpc = new RpcServer({ host: config.grpc.host, port: config.grpc.port, internalKey: internalKey(secret), observe: observeRpcCallsAndSends(metrics) }, logic, log);
          return { rpc, port: await rpc.start() };
        },
        async ({ rpc }) => {
          await rpc.close();
          await logic.drain();
        },
      );
      log.info({ port: grpcPort, grpcPort, metricsPort, role: config.role, instanceId }, 'listening');
      return grpcPort;
    }

    case 'task': {
      requireSetting(config.databaseUrl, 'GOCHAT_DATABASE_URL', 'task');
      requireSetting(config.redisUrl, 'GOCHAT_REDIS_URL', 'task');
      const repo = await startRepo(stack, config, metrics);
      const { bus, queue } = await startRedisBus(stack, config, instanceId, metrics, log);
      // Before the worker, so /metrics stays up while it finishes its batch.
      const port = await startMetricsListener(stack, config, metrics, () => repo.ping(), log);
      await startFanoutWorker(stack, config, instanceId, queue, bus, repo, metrics, log);
      log.info({ port, metricsPort: port, role: config.role, instanceId }, 'listening');
      return port;
    }
  }
}
