/**
 * Starts the servers under test as child processes, the way a user runs them, and reports
 * the port from their `"msg":"listening"` JSON log line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createTestDatabase, deleteRedisKeys, type TestDatabase } from '../test/ports/services.js';
import { openFileLimits, parentPid, postgresProcesses } from './proc.js';
import type { TargetKind } from './types.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const GOCHAT_MAIN = path.resolve(HERE, '../src/app/main.js');
export const BASELINE_MAIN = path.resolve(HERE, 'baseline-relay.js');
export const LOADGEN_MAIN = path.resolve(HERE, 'loadgen.js');

/**
 * Abuse limits a benchmark from one IP would trip during setup (thousands of guests from
 * 127.0.0.1) or while filling history. They are raised for the bench server only; nothing
 * else about the server differs from `npm start` (scrypt cost, durability, socket caps).
 */
export const BENCH_SERVER_ENV: Record<string, string> = {
  GOCHAT_RATE_GUEST_PER_IP: '100000000',
  GOCHAT_RATE_REGISTER_PER_IP: '100000000',
  GOCHAT_RATE_LOGIN_PER_IP: '100000000',
  GOCHAT_RATE_LOGIN_PER_USERNAME: '100000000',
  GOCHAT_RATE_SEND_PER_USER: '100000000',
  GOCHAT_RATE_SEND_BYTES_PER_USER: '100000000',
  GOCHAT_RATE_SEND_PER_GUEST: '100000000',
  GOCHAT_RATE_SEND_BYTES_PER_GUEST: '100000000',
  GOCHAT_RATE_LOOKUPS_PER_USER: '100000000',
  GOCHAT_RATE_LOOKUPS_PER_GUEST: '100000000',
  GOCHAT_RATE_GROUPS_PER_USER: '100000000',
  GOCHAT_RATE_WS_FRAMES: '100000000',
  GOCHAT_RATE_WS_FRAMES_PER_USER: '100000000',
  GOCHAT_RATE_WS_FRAMES_PER_IP: '100000000',
  GOCHAT_MAX_CONNECTIONS_PER_IP: '0',
  GOCHAT_MAX_SOCKETS_PER_IP: '0',
  GOCHAT_RATE_LIMITED_DELAY_MS: '0',
  GOCHAT_KDF_REGISTER_QUEUE: '100000',
  GOCHAT_KDF_LOGIN_QUEUE: '100000',
  // (g)'s one group of 5,000; the default cap is 2,000 members.
  GOCHAT_MAX_GROUP_MEMBERS: '10000',
};

export interface RunningServer {
  kind: TargetKind;
  pid: number;
  /** GoChat's temp data directory ('' for the relay). */
  dataDir: string;
  port: number;
  baseUrl: string;
  wsUrl: string;
  stop(): Promise<void>;
}

/** `node <args>` quoted for sh. */
function nodeCommand(args: readonly string[]): string {
  return [process.execPath, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
}

/**
 * The command line for a child that needs `fds` open files: when the soft limit is lower
 * but the hard one allows it, a shell raises the soft limit and execs node (same pid).
 */
export function withFileLimit(args: string[], fds: number): { command: string; args: string[] } {
  const { soft, hard } = openFileLimits();
  if (soft >= fds || hard < fds) return { command: process.execPath, args };
  return { command: '/bin/sh', args: ['-c', `ulimit -n ${Number.isFinite(hard) ? hard : fds} && exec ${nodeCommand(args)}`] };
}

/**
 * The command line for a child limited to `limit` open files: a shell lowers both limits (always
 * allowed) and execs node (same pid). Both, because Node raises its soft limit to the hard one
 * at start: a hard limit of 1024 is what a service unit or container with `LimitNOFILE=1024`
 * gives it.
 */
export function withOpenFileCap(args: string[], limit: number): { command: string; args: string[] } {
  return { command: '/bin/sh', args: ['-c', `ulimit -n ${Math.floor(limit)} && exec ${nodeCommand(args)}`] };
}

export interface StartOptions {
  /** Open files the child needs: the soft limit is raised to the hard one when lower. */
  fds: number;
  profileDir?: string;
  /**
   * GoChat as `npm start` runs it: no raised abuse limits and no GOCHAT_* settings inherited
   * from the runner's environment, so every limit is the public default.
   */
  publicDefaults?: boolean;
  /** The open-file limit (soft and hard) to run under instead of `fds`; 0 or absent keeps the runner's. */
  openFileCap?: number;
  /** GoChat's data directory, kept when the server stops (the growth scenario restarts on it); absent: a new temp dir, removed at stop. */
  dataDir?: string;
}

export async function startTarget(kind: TargetKind, options: StartOptions): Promise<RunningServer> {
  const dataDir = kind !== 'gochat' ? '' : (options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-bench-')));
  const nodeArgs = kind === 'gochat' && options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [];
  const script = [...nodeArgs, kind === 'gochat' ? GOCHAT_MAIN : BASELINE_MAIN];
  const { command, args } =
    options.openFileCap ? withOpenFileCap(script, options.openFileCap) : withFileLimit(script, options.fds);
  const env: Record<string, string | undefined> = { ...process.env, PORT: '0', HOST: '127.0.0.1' };
  if (options.publicDefaults) for (const key of Object.keys(env)) if (key.startsWith('GOCHAT_')) delete env[key];
  if (kind === 'gochat') Object.assign(env, options.publicDefaults ? {} : BENCH_SERVER_ENV, { GOCHAT_DATA_DIR: dataDir, GOCHAT_LOG_LEVEL: 'info' });
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await listeningPort(child, exited);
  return {
    kind,
    pid: child.pid!,
    dataDir,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
      if (dataDir && !options.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function listeningPort(child: ChildProcess, exited: Promise<void>): Promise<number> {
  return (await listeningLine(child, exited)).port;
}

/** The child's `"msg":"listening"` log line, parsed (it names every port the role bound). */
function listeningLine(child: ChildProcess, exited: Promise<void>): Promise<{ port: number; metricsPort?: number }> {
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      // Keep only the tail so a chatty server cannot grow this string.
      if (output.length > 64 * 1024) output = output.slice(-32 * 1024);
      for (const line of output.split('\n')) {
        if (!line.includes('"msg":"listening"')) continue;
        try {
          const parsed = JSON.parse(line) as { port?: number; metricsPort?: number };
          if (parsed.port) {
            clearTimeout(timer);
            resolve({ port: parsed.port, ...(parsed.metricsPort ? { metricsPort: parsed.metricsPort } : {}) });
          }
        } catch {
          // a partial line: wait for the rest
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 64 * 1024) output = output.slice(-32 * 1024);
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`server exited before listening:\n${output}`));
    });
  });
}

/** Where the cluster bench finds PostgreSQL (a role that may create databases) and Redis. */
export const BENCH_PG_URL = process.env.BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const BENCH_REDIS_URL = process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379';

/** The GoChat roles the cluster runs, in the order they start, with how many of each. */
export const CLUSTER_LAYOUT = [
  { role: 'logic', count: 2 },
  { role: 'task', count: 1 },
  { role: 'gateway', count: 2 },
] as const;

export interface ClusterProcess {
  /** `gateway`, `logic` or `task`. */
  kind: string;
  pid: number;
  /** HTTP port (gateway), gRPC port (logic), metrics port (task). */
  port: number;
  metricsPort?: number;
}

export interface RunningCluster {
  kind: 'cluster';
  database: string;
  redisPrefix: string;
  processes: ClusterProcess[];
  /** One per gateway, in order: the load generator alternates between them. */
  baseUrls: string[];
  wsUrls: string[];
  /** /metrics of each logic process (they count the acks and commits). */
  logicMetricsUrls: string[];
  /** Every process on the message path with its kind: GoChat's, PostgreSQL's for the bench database, Redis. Listed anew at each call. */
  pathProcesses(): Array<{ pid: number; kind: string }>;
  /** Rejects when any GoChat process exits before `stop()`: a run with a dead process measures nothing. */
  readonly failed: Promise<never>;
  stop(): Promise<void>;
}

interface Child {
  kind: string;
  child: ChildProcess;
  exited: Promise<void>;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
async function stopChild({ child, exited }: Child, graceMs: number): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(killer);
}

/**
 * GoChat as docs/deploy.md runs it: 2 logic, 1 task, 2 gateways, on a database created for this
 * run (`gochat_bench_<random>`, dropped by `stop()`) and a Redis key prefix of its own (its keys
 * deleted by `stop()`), with the embedded bench server's raised abuse limits. Whatever fails
 * while starting, what was started is stopped and dropped before the error is thrown.
 */
export async function startCluster(options: { fds: number; profileDir?: string }): Promise<RunningCluster> {
  const tag = randomBytes(6).toString('hex');
  const redisPrefix = `gochat-bench-${tag}:`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-bench-cluster-'));
  const children: Child[] = [];
  const processes: ClusterProcess[] = [];
  let stopping = false;
  let fail: (err: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => {});

  let db: TestDatabase | null = null;
  let stopped: Promise<void> | undefined;
  const cleanup = async () => {
    stopping = true;
    // Edges first, as a deploy drains: gateways, then task, then logic.
    for (const kind of ['gateway', 'task', 'logic']) await Promise.all(children.filter((c) => c.kind === kind).map((c) => stopChild(c, 15_000)));
    const errors: unknown[] = [];
    if (db) await Promise.resolve(db[Symbol.asyncDispose]()).catch((err: unknown) => errors.push(err));
    await deleteRedisKeys(BENCH_REDIS_URL, redisPrefix).catch((err: unknown) => errors.push(err));
    fs.rmSync(dataDir, { recursive: true, force: true });
    if (errors.length > 0) throw new Error(`cluster cleanup: ${errors.map(String).join('; ')}`);
  };

  try {
    const postmasterPid = await postmasterProcessId();
    db = await createTestDatabase('gochat_bench_', BENCH_PG_URL);
    const database = db.name;
    const redisPid = await redisProcessId();
    const shared: Record<string, string> = {
      ...BENCH_SERVER_ENV,
      GOCHAT_DATABASE_URL: db.url,
      GOCHAT_REDIS_URL: BENCH_REDIS_URL,
      GOCHAT_REDIS_PREFIX: redisPrefix,
      GOCHAT_JWT_SECRET: randomBytes(48).toString('base64'),
      GOCHAT_DATA_DIR: dataDir,
      GOCHAT_LOG_LEVEL: 'info',
      GOCHAT_GRPC_HOST: '127.0.0.1',
      GOCHAT_GRPC_PORT: '0',
      GOCHAT_METRICS_PORT: '0',
      HOST: '127.0.0.1',
      PORT: '0',
    };
    const start = async (role: string, extra: Record<string, string> = {}): Promise<ClusterProcess> => {
      const profile = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`, `--cpu-prof-name=cluster-${tag}-${role}-${children.length}.cpuprofile`] : [];
      const { command, args } = withFileLimit([...profile, GOCHAT_MAIN], options.fds);
      const env: Record<string, string | undefined> = { ...process.env };
      // Only the cluster's settings: a GOCHAT_* of the runner's shell must not change a role.
      for (const key of Object.keys(env)) if (key.startsWith('GOCHAT_')) delete env[key];
      Object.assign(env, shared, { GOCHAT_ROLE: role }, extra);
      const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      children.push({ kind: role, child, exited });
      void exited.then(() => {
        if (!stopping) fail(new Error(`cluster ${role} (pid ${child.pid}) exited with ${child.exitCode ?? child.signalCode}`));
      });
      const line = await listeningLine(child, exited);
      const proc: ClusterProcess = { kind: role, pid: child.pid!, port: line.port, ...(line.metricsPort ? { metricsPort: line.metricsPort } : {}) };
      processes.push(proc);
      return proc;
    };
    // Logic and task migrate the fresh schema under an advisory lock, so they may start together.
    const backends = await Promise.all([start('logic'), start('logic'), start('task')]);
    const logicAddr = backends.filter((p) => p.kind === 'logic').map((p) => `127.0.0.1:${p.port}`).join(',');
    const gateways = await Promise.all([start('gateway', { GOCHAT_LOGIC_ADDR: logicAddr }), start('gateway', { GOCHAT_LOGIC_ADDR: logicAddr })]);
    return {
      kind: 'cluster',
      database,
      redisPrefix,
      processes,
      baseUrls: gateways.map((g) => `http://127.0.0.1:${g.port}`),
      wsUrls: gateways.map((g) => `ws://127.0.0.1:${g.port}/ws`),
      logicMetricsUrls: backends.filter((p) => p.kind === 'logic' && p.metricsPort).map((p) => `http://127.0.0.1:${p.metricsPort}/metrics`),
      pathProcesses: () => [
        ...processes.map((p) => ({ pid: p.pid, kind: p.kind })),
        ...postgresProcesses(postmasterPid, database),
        { pid: redisPid, kind: 'redis' },
      ],
      failed,
      // Once: the runner's finally and its signal handler may both ask.
      stop: () => (stopped ??= cleanup()),
    };
  } catch (err) {
    await cleanup().catch(() => {});
    throw err;
  }
}

/** The postmaster's pid: the parent of a backend, read while that backend's connection is open. */
export async function postmasterProcessId(adminUrl = BENCH_PG_URL): Promise<number> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    return parentPid((await admin.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
  } finally {
    await admin.end();
  }
}

/** The redis-server's pid, from `INFO server`. */
async function redisProcessId(): Promise<number> {
  const redis = new Redis(BENCH_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const info = await redis.info('server');
    const pid = Number(/^process_id:(\d+)/m.exec(info)?.[1]);
    if (!Number.isInteger(pid) || pid <= 0) throw new Error('INFO server has no process_id');
    return pid;
  } finally {
    redis.disconnect();
  }
}

