/**
 * Starts the distributed topology as real processes on loopback, the way docs/deploy.md runs
 * it: `node dist/src/app/main.js` once per process, only the env differs. PostgreSQL gets a
 * database of its own (dropped afterwards) and Redis a key prefix of its own, so runs never collide.
 */
import { CHEAP_HASHING_ENV, RAISED_LIMITS_ENV } from '../helpers/limits.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, deleteRedisKeys, REDIS_URL } from '../ports/services.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/app/main.js');

export type Role = 'gateway' | 'logic' | 'task';

export interface Proc {
  readonly role: Role;
  readonly name: string;
  /** HTTP port (gateway), gRPC port (logic) or metrics port (task). */
  readonly port: number;
  /** Where /metrics is served. */
  readonly metricsUrl: string;
  readonly baseUrl: string;
  readonly wsUrl: string;
  readonly child: ChildProcess;
  readonly running: boolean;
  output(): string;
  /** SIGKILL: no graceful anything. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  gateways?: number;
  logics?: number;
  tasks?: number;
  redisUrl?: string;
  /** Use this database (kept afterwards) instead of a fresh one (dropped afterwards). */
  databaseUrl?: string;
  /** Prefix of the fresh database's name. */
  databasePrefix?: string;
  /**
   * The logic addresses gateway `index` is given (default: all, in the same order). Another
   * order per gateway sends one conversation to different logic instances from each gateway.
   */
  logicAddrsFor?: (index: number, addrs: string[]) => string[];
  /** Keep the Redis keys afterwards (a later cluster continues with them). */
  keepRedisKeys?: boolean;
  env?: Record<string, string>;
}

export interface Cluster extends AsyncDisposable {
  readonly gateways: Proc[];
  readonly logics: Proc[];
  readonly tasks: Proc[];
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** The env every process got (secret, prefix, URLs…). */
  readonly env: Readonly<Record<string, string>>;
  /** Everything every process wrote, for a failure message. */
  dump(): string;
}

const OUTPUT_LIMIT = 200_000;

async function spawnRole(role: Role, name: string, env: Record<string, string>, spawned: ChildProcess[]): Promise<Proc> {
  const child = spawn(process.execPath, [MAIN], { env: { ...process.env, ...env, GOCHAT_ROLE: role }, stdio: ['ignore', 'pipe', 'pipe'] });
  // Tracked from the start: if a sibling fails to start, this one is killed too, listening or not.
  spawned.push(child);
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT / 2);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const listening = await new Promise<{ port: number; metricsPort?: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${output}`)), 30_000);
    const onData = () => {
      for (const line of output.split('\n')) {
        if (!line.includes('"msg":"listening"')) continue;
        try {
          const parsed = JSON.parse(line) as { port: number; metricsPort?: number };
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          resolve(parsed);
          return;
        } catch {
          // a partial line: wait for the rest
        }
      }
    };
    child.stdout!.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before listening:\n${output}`));
    });
  });
  const metricsPort = role === 'gateway' ? listening.port : listening.metricsPort ?? listening.port;
  return {
    role,
    name,
    port: listening.port,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    baseUrl: `http://127.0.0.1:${listening.port}`,
    wsUrl: `ws://127.0.0.1:${listening.port}/ws`,
    child,
    get running() {
      return child.exitCode === null && child.signalCode === null;
    },
    output: () => output,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const db = options.databaseUrl ? null : await createTestDatabase(options.databasePrefix);
  const databaseUrl = options.databaseUrl ?? db!.url;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-topology-'));
  const redisUrl = options.redisUrl ?? REDIS_URL;
  const procs: Proc[] = [];
  const spawned: ChildProcess[] = [];
  const common: Record<string, string> = {
    HOST: '127.0.0.1',
    PORT: '0',
    GOCHAT_GRPC_HOST: '127.0.0.1',
    GOCHAT_GRPC_PORT: '0',
    GOCHAT_METRICS_PORT: '0',
    GOCHAT_DATA_DIR: dataDir,
    GOCHAT_DATABASE_URL: databaseUrl,
    GOCHAT_REDIS_URL: redisUrl,
    GOCHAT_REDIS_PREFIX: `gochat-topology-${randomBytes(4).toString('hex')}:`,
    GOCHAT_JWT_SECRET: randomBytes(32).toString('base64url'),
    GOCHAT_PRESENCE_TTL_SECONDS: '3',
    GOCHAT_LARGE_GROUP_THRESHOLD: '3',
    GOCHAT_FANOUT_CLAIM_IDLE_MS: '1000',
    // Shared noisy CI machines: give an out-of-order delivery time to be completed.
    GOCHAT_DELIVERY_REORDER_MS: '2000',
    ...RAISED_LIMITS_ENV,
    ...CHEAP_HASHING_ENV,
    GOCHAT_LOG_LEVEL: 'info',
    ...options.env,
  };
  const cleanup = async () => {
    await Promise.all(procs.map((p) => p.kill()));
    await Promise.all(
      spawned.map((child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        return exited;
      }),
    );
    await db?.[Symbol.asyncDispose]();
    if (!options.keepRedisKeys) await deleteRedisKeys(redisUrl, common.GOCHAT_REDIS_PREFIX!);
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const start = async (role: Role, name: string, env: Record<string, string> = {}) => {
      const proc = await spawnRole(role, name, { ...common, GOCHAT_INSTANCE_ID: name, ...env }, spawned);
      procs.push(proc);
      return proc;
    };
    // Every process binds port 0 and logs the port it got, so no port is picked early and taken by
    // someone else meanwhile. Gateways need the logic ports, so they start once logic listens.
    const [logics, tasks] = await Promise.all([
      Promise.all(Array.from({ length: options.logics ?? 2 }, (_, i) => start('logic', `logic${i + 1}`))),
      Promise.all(Array.from({ length: options.tasks ?? 1 }, (_, i) => start('task', `task${i + 1}`))),
    ]);
    const addrs = logics.map((logic) => `127.0.0.1:${logic.port}`);
    const logicAddr = (i: number) => (options.logicAddrsFor?.(i, addrs) ?? addrs).join(',');
    const gateways = await Promise.all(Array.from({ length: options.gateways ?? 2 }, (_, i) => start('gateway', `gateway${i + 1}`, { GOCHAT_LOGIC_ADDR: logicAddr(i) })));
    return {
      gateways,
      logics,
      tasks,
      databaseUrl,
      redisUrl,
      env: common,
      dump: () => procs.map((p) => `---- ${p.name}\n${p.output().slice(-4000)}`).join('\n'),
      [Symbol.asyncDispose]: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
