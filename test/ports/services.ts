/**
 * Access to the real PostgreSQL and Redis the distributed tests need. On a developer machine
 * without them those tests skip with a loud notice; under CI=true their absence fails the run.
 */
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';

export const PG_ADMIN_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function reachable(check: () => Promise<unknown>): Promise<boolean> {
  try {
    await check();
    return true;
  } catch {
    return false;
  }
}

const checks = new Map<string, Promise<boolean>>();

/**
 * Resolves to a skip reason (string) when `service` is absent on a developer machine, or to
 * false when it is there. Under CI=true an absent service throws, so the test fails.
 */
export async function skipUnless(service: 'postgres' | 'redis'): Promise<string | false> {
  let check = checks.get(service);
  if (!check) {
    check =
      service === 'postgres'
        ? reachable(async () => {
            const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
            await client.connect();
            await client.end();
          })
        : reachable(async () => {
            const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
            redis.on('error', () => {});
            try {
              await redis.connect();
              await redis.ping();
            } finally {
              redis.disconnect();
            }
          });
    checks.set(service, check);
  }
  if (await check) return false;
  const message = `${service} is not reachable (${service === 'postgres' ? PG_ADMIN_URL : REDIS_URL})`;
  if (process.env.CI === 'true') throw new Error(`${message}: required under CI=true`);
  console.warn(`\n!!!!! SKIPPING: ${message}. Start it to run these tests. !!!!!\n`);
  return message;
}

export interface TestDatabase extends AsyncDisposable {
  url: string;
  /** The database's name (in `url`). */
  name: string;
}

/**
 * A fresh database for one test (or bench) run, dropped afterwards, so parallel runs never
 * collide. `adminUrl` names a role that may create databases.
 */
export async function createTestDatabase(prefix = 'gochat_test_', adminUrl = PG_ADMIN_URL): Promise<TestDatabase> {
  if (!/^[a-z0-9_]+$/.test(prefix)) throw new Error(`bad database prefix ${prefix}`);
  const name = `${prefix}${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async [Symbol.asyncDispose]() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Drops every database whose name starts with `prefix` (what a crashed or killed run left behind). */
export async function dropTestDatabases(prefix: string): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [prefix]);
    for (const { datname } of rows) {
      if (/^[a-z0-9_]+$/.test(datname)) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    }
  } finally {
    await admin.end();
  }
}

/** Deletes every Redis key starting with `prefix` (a test's streams and presence). */
export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } catch {
    // the server is gone (a private one that was killed): nothing to clean
  } finally {
    redis.disconnect();
  }
}

export interface PrivateRedis extends AsyncDisposable {
  url: string;
  port: number;
  /** Stops the server (SIGKILL, like a crash). */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
}

/**
 * redis-server cannot listen on port 0 and say which port it got, and a restart must come back on
 * the same port. So ports are drawn below the kernel's ephemeral range (32768–60999 by default),
 * where no test server listening on port 0 is ever put, and the bind itself is the check: a port
 * another private server holds makes redis-server exit, and another is drawn.
 */
const PRIVATE_REDIS_PORTS = { first: 20_000, count: 10_000 };
const PRIVATE_REDIS_ATTEMPTS = 10;

/** Resolves with the running server once it accepts connections, or null when `port` is taken. */
function spawnRedis(port: number, dir: string): Promise<ChildProcess | null> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`private redis-server on ${port} did not start:\n${output}`));
    }, 10_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      if (output.length < 20_000) output += chunk.toString();
      if (!output.includes('Ready to accept connections')) return;
      clearTimeout(timer);
      child.stdout!.removeAllListeners('data');
      child.stdout!.resume();
      resolve(child);
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    // 'close', not 'exit': by then everything it printed has been read.
    child.once('close', () => {
      clearTimeout(timer);
      if (output.includes('Address already in use')) resolve(null);
      else reject(new Error(`private redis-server on ${port} exited:\n${output}`));
    });
  });
}

/** A redis-server of our own, so a test may crash and restart it without disturbing others. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-redis-'));
  let child: ChildProcess | null = null;
  let port = 0;
  for (let attempt = 0; attempt < PRIVATE_REDIS_ATTEMPTS && !child; attempt++) {
    port = PRIVATE_REDIS_PORTS.first + Math.floor(Math.random() * PRIVATE_REDIS_PORTS.count);
    child = await spawnRedis(port, dir);
  }
  if (!child) throw new Error(`no free port for a private redis-server after ${PRIVATE_REDIS_ATTEMPTS} attempts`);
  const start = async () => {
    child = await spawnRedis(port, dir);
    if (!child) throw new Error(`port ${port} was taken while the private redis-server was down`);
  };
  const kill = async () => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    start,
    async [Symbol.asyncDispose]() {
      await kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `condition` until it holds; for state that has no event to wait on (e.g. a key expiring). */
export async function eventually<T>(condition: () => Promise<T | undefined | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
