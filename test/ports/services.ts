/**
 * Access to the real PostgreSQL and Redis the distributed tests need. On a developer machine
 * without them those tests skip with a loud notice; under CI=true their absence fails the run.
 */
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
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
}

/** A fresh database for one test run, dropped afterwards, so parallel runs never collide. */
export async function createTestDatabase(prefix = 'gochat_test_'): Promise<TestDatabase> {
  if (!/^[a-z0-9_]+$/.test(prefix)) throw new Error(`bad database prefix ${prefix}`);
  const name = `${prefix}${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async [Symbol.asyncDispose]() {
      const client = new pg.Client({ connectionString: PG_ADMIN_URL });
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

/** A free TCP port on loopback (closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface PrivateRedis extends AsyncDisposable {
  url: string;
  port: number;
  /** Stops the server (SIGKILL, like a crash). */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
}

/** A redis-server of our own, so a test may crash and restart it without disturbing others. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-redis-'));
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: 'ignore',
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ok = await reachable(async () => {
        const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        redis.on('error', () => {});
        try {
          await redis.connect();
          await redis.ping();
        } finally {
          redis.disconnect();
        }
      });
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`private redis-server on ${port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const kill = async () => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  await start();
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
