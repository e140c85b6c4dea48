/**
 * `startServer()` of test/helpers/server.ts, answered by the distributed topology instead of
 * one embedded process: 2 gateways behind a round-robin TCP balancer, 2 logic, 1 task,
 * PostgreSQL and Redis. test/topology/contract.test.ts maps the helper onto this module, so
 * the unchanged contract suite runs against the cluster with its clients spread over both
 * gateways. A later call with the same `dataDir` reaches the same database, secret and Redis
 * keys: a "restart" of the whole deployment. When the runner shares one running cluster
 * (GOCHAT_SHARED_CLUSTER), a plain `startServer()` attaches to it and stopping it is a no-op.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ServerOptions, TestServer } from '../helpers/server.js';
import { createTestDatabase, deleteRedisKeys, dropTestDatabases, REDIS_URL } from '../ports/services.js';
import { startCluster, type Cluster } from './cluster.js';

/** What survives a restart, by data dir. */
interface Deployment {
  databaseUrl: string;
  secret: string;
  prefix: string;
}

const deployments = new Map<string, Deployment>();
const runId = process.env.GOCHAT_CONTRACT_RUN ?? randomBytes(4).toString('hex');

// Run by hand (not under contract.test.ts, which cleans up the whole run): clean up on the way out.
if (!process.env.GOCHAT_CONTRACT_RUN) {
  process.once('beforeExit', () => {
    void dropTestDatabases(`gochat_contract_${runId}_`).then(() => deleteRedisKeys(REDIS_URL, `gochat-contract-${runId}-`));
  });
}

/** What the runner hands to the test processes about the cluster it shares. */
export interface SharedCluster {
  port: number;
  dataDir: string;
}

/** A TCP balancer: each new connection goes to the next gateway. */
export function balance(cluster: Cluster): Promise<net.Server> {
  let next = 0;
  const server = net.createServer((client) => {
    const gateway = cluster.gateways[next++ % cluster.gateways.length]!;
    const upstream = net.connect(gateway.port, '127.0.0.1');
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

export async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const shared = process.env.GOCHAT_SHARED_CLUSTER;
  if (shared && options.dataDir === undefined && options.env === undefined) return attach(JSON.parse(shared) as SharedCluster);
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-contract-'));
  let deployment = deployments.get(dataDir);
  if (!deployment) {
    const db = await createTestDatabase(`gochat_contract_${runId}_`);
    deployment = { databaseUrl: db.url, secret: randomBytes(32).toString('base64url'), prefix: `gochat-contract-${runId}-${deployments.size}:` };
    deployments.set(dataDir, deployment);
    // Tests that forge tokens read the secret where the embedded server keeps it.
    fs.writeFileSync(path.join(dataDir, 'jwt-secret'), `${deployment.secret}\n`, { mode: 0o600 });
  }
  const cluster = await startCluster({
    databaseUrl: deployment.databaseUrl,
    keepRedisKeys: true,
    env: {
      GOCHAT_JWT_SECRET: deployment.secret,
      GOCHAT_REDIS_PREFIX: deployment.prefix,
      // The embedded defaults of what the contract observes, not the topology tests' large limits.
      GOCHAT_RATE_LOGIN_PER_IP: '100',
      GOCHAT_RATE_LOGIN_PER_USERNAME: '10',
      ...options.env,
    },
  });
  const balancer = await balance(cluster);
  const port = (balancer.address() as net.AddressInfo).port;
  const all = [...cluster.gateways, ...cluster.logics, ...cluster.tasks];
  const shutdown = async (how: 'stop' | 'kill') => {
    await Promise.all(all.map((p) => p[how]()));
    await new Promise((resolve) => balancer.close(resolve));
    await cluster[Symbol.asyncDispose]();
    return 0;
  };
  let stopped: Promise<number> | null = null;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    port,
    dataDir,
    process: cluster.gateways[0]!.child,
    output: () => all.map((p) => p.output()).join('\n'),
    stop: () => (stopped ??= shutdown('stop')),
    kill: async () => void (stopped ??= shutdown('kill')),
    async [Symbol.asyncDispose]() {
      await (stopped ??= shutdown('stop'));
    },
  };
}

function attach(shared: SharedCluster): TestServer {
  const done = async () => 0;
  return {
    baseUrl: `http://127.0.0.1:${shared.port}`,
    wsUrl: `ws://127.0.0.1:${shared.port}/ws`,
    port: shared.port,
    dataDir: shared.dataDir,
    get process(): TestServer['process'] {
      throw new Error('the shared cluster has no single process');
    },
    output: () => '',
    stop: done,
    kill: async () => {
      throw new Error('the shared cluster cannot be killed by one test file; run this file on its own cluster');
    },
    [Symbol.asyncDispose]: async () => {},
  };
}
