/**
 * The composition root: the only place that constructs objects. It picks the storage and
 * bus implementations from config and wires the roles. `all` runs everything in one process.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Repo } from '../repo/index.js';
import type { Bus } from '../bus/index.js';
import { SqliteRepo } from '../repo/sqlite/sqlite-repo.js';
import { MemoryBus } from '../bus/memory-bus.js';
import { Logic } from '../logic/logic.js';
import { buildHttpServer } from '../gateway/http/server.js';
import { WsGateway } from '../gateway/ws/ws-gateway.js';
import { loadOrCreateSecret } from './secret.js';
import { randomUUID } from 'node:crypto';

export interface RunningGoChat {
  /** The HTTP/WebSocket port actually bound (useful with PORT=0). */
  port: number;
  /** Graceful shutdown: stop accepting, flush pending commits, close sockets with 1001. */
  close(): Promise<void>;
}

function createRepo(config: Config): Repo {
  return new SqliteRepo({ file: path.join(config.dataDir, 'gochat.db') });
}

function createBus(_config: Config): Bus {
  return new MemoryBus();
}

export async function startGoChat(config: Config, log: Logger): Promise<RunningGoChat> {
  const instanceId = config.instanceId || randomUUID().slice(0, 8);
  const repo = createRepo(config);
  const bus = createBus(config);
  const logic = new Logic(
    {
      jwtSecret: loadOrCreateSecret(config.auth.jwtSecret, config.dataDir),
      tokenTtlSeconds: config.auth.tokenTtlSeconds,
      scryptCost: config.auth.scryptCost,
      maxContentChars: config.messages.maxContentChars,
      worldRoom: config.messages.worldRoom,
      maxGroupMembers: config.limits.maxGroupMembers,
      limits: config.limits,
    },
    repo,
    bus,
    log,
  );

  const http = await buildHttpServer(
    { bodyLimitBytes: config.http.bodyLimitBytes, trustProxy: config.http.trustProxy, webDir: config.http.webDir },
    logic,
    log,
  );
  const ws = new WsGateway({ ...config.ws, instanceId }, logic, bus, log);
  await ws.attach(http.server);
  await http.listen({ host: config.http.host, port: config.http.port });
  const address = http.server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  log.info({ port, role: config.role, dataDir: config.dataDir }, 'listening');

  let closing: Promise<void> | null = null;
  return {
    port,
    close() {
      closing ??= (async () => {
        ws.stopAccepting();
        // Stop taking new HTTP connections; in-flight requests finish.
        const httpClosed = http.close();
        await logic.drain();
        // Acks for the drained sends are written before the close frames.
        await new Promise((resolve) => setImmediate(resolve));
        await ws.close();
        await httpClosed;
        await bus.close();
        await repo.close();
        log.info('stopped');
      })();
      return closing;
    },
  };
}
