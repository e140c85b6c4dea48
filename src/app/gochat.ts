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
import { observeBus, observeFanoutQueue, observeRepo, observeRpcServer, observeSends } from '../metrics/observers.js';
import { loadOrCreateSecret } from './secret.js';

export interface RunningGoChat {
  /** The main port actually bound (useful with port 0): HTTP for all/gateway, gRPC for logic, metrics for task. */
  port: number;
  /** Graceful shutdown: stop accepting, flush pending commits, close sockets with 1001. */
  close(): Promise<void>;
}

/** Shutdown steps, run in order. */
type Step = () => Promise<unknown> | unknown;

async function createRepo(config: Config, metrics: Metrics): Promise<Repo> {
  const observe = observeRepo(metrics);
  if (!config.databaseUrl) return new SqliteRepo({ file: path.join(config.dataDir, 'gochat.db'), walAutocheckpointPages: config.sqlite.walAutocheckpointPages, observe });
  const repo = new PostgresRepo({ url: config.databaseUrl, poolSize: config.postgres.poolSize, observe });
  await repo.migrate();
  return repo;
}

/** The Redis bus and, beside it, the fan-out queue it hands large conversations to. */
function createRedisBus(config: Config, instanceId: string, metrics: Metrics, log: Logger): { bus: RedisBus; queue: FanoutQueue } {
  const queue = new RedisFanoutQueue({ url: config.redisUrl, keyPrefix: config.redis.keyPrefix, maxLen: config.fanout.streamMaxLen, observe: observeFanoutQueue(metrics) }, log);
  const bus = new RedisBus(
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
  );
  return { bus, queue };
}

function createBus(config: Config, instanceId: string, metrics: Metrics, log: Logger): { bus: Bus; queue: FanoutQueue | null; router: RedisBus | null } {
  if (!config.redisUrl) return { bus: new MemoryBus({ observe: observeBus(metrics) }), queue: null, router: null };
  const { bus, queue } = createRedisBus(config, instanceId, metrics, log);
  return { bus, queue, router: bus };
}

function createLogic(config: Config, repo: Repo, bus: Bus, log: Logger, jwtSecret: string): Logic {
  const logic = new Logic(
    {
      jwtSecret,
      tokenTtlSeconds: config.auth.tokenTtlSeconds,
      scryptCost: config.auth.scryptCost,
      maxContentChars: config.messages.maxContentChars,
      worldRoom: config.messages.worldRoom,
      maxGroupMembers: config.limits.maxGroupMembers,
      commitWindowMs: config.messages.commitWindowMs,
      guestExpiry: config.guests,
      limits: config.limits,
      kdf: config.kdf,
    },
    repo,
    bus,
    log,
  );
  // Stopped by logic.drain() in the graceful shutdown of the roles that run logic.
  logic.startGuestExpiry();
  return logic;
}

function createFanoutWorker(config: Config, instanceId: string, queue: FanoutQueue, router: DeliveryRouter, repo: Repo, metrics: Metrics, log: Logger): FanoutWorker {
  return new FanoutWorker(
    { consumer: instanceId, batchSize: config.fanout.batchSize, blockMs: config.fanout.blockMs, claimIdleMs: config.fanout.claimIdleMs, memberCacheMs: config.fanout.memberCacheMs },
    queue,
    router,
    repo,
    log,
    { lag: (seconds) => metrics.fanoutLag.observe(seconds), routed: (count) => metrics.fanoutPublishes.inc(count) },
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

/** The HTTP + WebSocket edge over any LogicApi, with GET /metrics beside the API. */
async function startEdge(config: Config, instanceId: string, api: LogicApi, bus: Bus, metrics: Metrics, log: Logger) {
  const server = await buildHttpServer(
    config.http,
    api,
    log,
  );
  server.get('/metrics', { schema: { hide: true } }, async (_req, reply) => reply.type(metrics.contentType).send(await metrics.text()));
  const ws = new WsGateway({ ...config.ws, instanceId, observe: observeSends(metrics) }, api, bus, log);
  metrics.countConnectionsWith(() => ws.connectionCount);
  await ws.attach(server.server);
  await server.listen({ host: config.http.host, port: config.http.port });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  return { server, ws, port };
}

/** /metrics, /healthz and /readyz for the roles without an HTTP API. */
async function startMetricsListener(config: Config, metrics: Metrics, ready: () => Promise<void>, log: Logger) {
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.metrics.port, config.http.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.metrics.port;
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return { port, close };
}

export async function startGoChat(config: Config, log: Logger): Promise<RunningGoChat> {
  const instanceId = config.instanceId || `${config.role}-${randomUUID().slice(0, 8)}`;
  const metrics = new Metrics(config.role, instanceId);
  const steps: Step[] = [];
  // Whatever started before a failure is stopped again, so a failed start leaks nothing.
  const cleanup = async () => {
    for (const step of steps.splice(0).reverse()) await Promise.resolve(step()).catch(() => {});
  };
  let port: number;
  let shutdown: Step[];
  try {
    ({ port, shutdown } = await startRole(config, instanceId, metrics, log, steps));
  } catch (err) {
    await cleanup();
    throw err;
  }

  let closing: Promise<void> | null = null;
  return {
    port,
    close() {
      closing ??= (async () => {
        for (const step of shutdown) await step();
        log.info('stopped');
      })();
      return closing;
    },
  };
}

/**
 * Graceful shutdown of an edge: refuse new sockets and sends, stop taking HTTP connections while
 * in-flight requests finish, let accepted sends commit (`drain`), write their acks, then close the
 * sockets with 1001.
 */
function drainEdge(edge: Awaited<ReturnType<typeof startEdge>>, drain: () => Promise<void>, graceMs: number): Step[] {
  return [
    () => edge.ws.stopAccepting(),
    async () => {
      const httpClosed = edge.server.close();
      // A request still arriving (a slow body) must not hold the shutdown hostage.
      const cut = setTimeout(() => edge.server.server.closeAllConnections(), graceMs);
      cut.unref();
      const uncut = () => clearTimeout(cut);
      httpClosed.then(uncut, uncut);
      await drain();
      // Acks for the drained sends are written before the close frames.
      await new Promise((resolve) => setImmediate(resolve));
      await edge.ws.close();
      await httpClosed;
    },
  ];
}

/**
 * Starts `config.role`. `started` collects undo steps while starting (for a failed start);
 * the returned `shutdown` is the graceful order.
 */
async function startRole(config: Config, instanceId: string, metrics: Metrics, log: Logger, started: Step[]): Promise<{ port: number; shutdown: Step[] }> {
  switch (config.role) {
    case 'all': {
      const repo = await createRepo(config, metrics);
      started.push(() => repo.close());
      const { bus, queue, router } = createBus(config, instanceId, metrics, log);
      started.push(() => queue?.close());
      started.push(() => bus.close());
      const logic = createLogic(config, repo, bus, log, loadOrCreateSecret(config.auth.jwtSecret, config.dataDir));
      await logic.start();
      // With Redis, large conversations go through the stream: this process drains it too.
      const worker = queue && router ? createFanoutWorker(config, instanceId, queue, router, repo, metrics, log) : null;
      await worker?.start();
      started.push(() => worker?.stop());
      const edge = await startEdge(config, instanceId, logic, bus, metrics, log);
      log.info({ port: edge.port, role: config.role, dataDir: config.dataDir }, 'listening');
      return {
        port: edge.port,
        shutdown: [
          ...drainEdge(edge, () => logic.drain(), config.http.shutdownGraceMs),
          () => worker?.stop(),
          () => bus.close(),
          () => queue?.close(),
          () => repo.close(),
        ],
      };
    }

    case 'gateway': {
      requireSetting(config.grpc.logicAddrs, 'GOCHAT_LOGIC_ADDR', 'gateway');
      requireSetting(config.redisUrl, 'GOCHAT_REDIS_URL', 'gateway');
      const client = new RpcLogicClient(
        { addrs: config.grpc.logicAddrs, internalKey: internalKey(requireSecret(config)), timeoutMs: config.grpc.timeoutMs },
        (method, code, seconds) => metrics.grpcClient.observe({ method, code }, seconds),
      );
      started.push(() => client.close());
      const { bus, queue } = createRedisBus(config, instanceId, metrics, log);
      started.push(() => queue.close());
      started.push(() => bus.close());
      const edge = await startEdge(config, instanceId, client, bus, metrics, log);
      log.info({ port: edge.port, role: config.role, instanceId, logic: config.grpc.logicAddrs }, 'listening');
      return {
        port: edge.port,
        shutdown: [
          ...drainEdge(edge, () => client.drain(), config.http.shutdownGraceMs),
          () => bus.close(),
          () => queue.close(),
          () => client.close(),
        ],
      };
    }

    case 'logic': {
      requireSetting(config.databaseUrl, 'GOCHAT_DATABASE_URL', 'logic');
      requireSetting(config.redisUrl, 'GOCHAT_REDIS_URL', 'logic');
      const secret = requireSecret(config);
      const repo = await createRepo(config, metrics);
      started.push(() => repo.close());
      const { bus, queue } = createRedisBus(config, instanceId, metrics, log);
      started.push(() => queue.close());
      started.push(() => bus.close());
      const logic = createLogic(config, repo, bus, log, secret);
      await logic.start();
      const rpc = new RpcServer(
        { host: config.grpc.host, port: config.grpc.port, internalKey: internalKey(secret), observe: observeRpcCallsAndSends(metrics) },
        logic,
        log,
      );
      const grpcPort = await rpc.start();
      started.push(() => rpc.close(0));
      const listener = await startMetricsListener(config, metrics, () => logic.ready(), log);
      log.info({ port: grpcPort, grpcPort, metricsPort: listener.port, role: config.role, instanceId }, 'listening');
      return {
        port: grpcPort,
        shutdown: [() => rpc.close(), () => logic.drain(), () => listener.close(), () => bus.close(), () => queue.close(), () => repo.close()],
      };
    }

    case 'task': {
      requireSetting(config.databaseUrl, 'GOCHAT_DATABASE_URL', 'task');
      requireSetting(config.redisUrl, 'GOCHAT_REDIS_URL', 'task');
      const repo = await createRepo(config, metrics);
      started.push(() => repo.close());
      const { bus, queue } = createRedisBus(config, instanceId, metrics, log);
      started.push(() => queue.close());
      started.push(() => bus.close());
      const worker = createFanoutWorker(config, instanceId, queue, bus, repo, metrics, log);
      await worker.start();
      started.push(() => worker.stop());
      const listener = await startMetricsListener(config, metrics, () => repo.ping(), log);
      log.info({ port: listener.port, metricsPort: listener.port, role: config.role, instanceId }, 'listening');
      return {
        port: listener.port,
        shutdown: [() => worker.stop(), () => listener.close(), () => bus.close(), () => queue.close(), () => repo.close()],
      };
    }
  }
}
