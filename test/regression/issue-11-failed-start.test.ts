/**
 * Issue 11: a role kept one list of what to undo when a start failed and another of what to stop
 * at shutdown, and the first missed resources: when the edge of role `all` could not listen, the
 * guest sweep kept running against the store that had just been closed (and the HTTP server and
 * the WebSocket gateway were never closed). Both are now one stack, stopped last first.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { startGoChat } from '../../src/app/gochat.js';
import { CHEAP_HASHING_ENV } from '../helpers/limits.js';
import { createTestDatabase, REDIS_URL, skipUnless } from '../ports/services.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/app/main.js');
const SWEEP_INTERVAL_MS = 100;

/** A port this test holds, so the server's listen fails with EADDRINUSE. */
async function takenPort(): Promise<net.Server> {
  const holder = net.createServer();
  holder.listen(0, '127.0.0.1');
  await once(holder, 'listening');
  return holder;
}

const portOf = (server: net.Server) => (server.address() as net.AddressInfo).port;

/** A logger that keeps its lines. */
function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    }),
  );
  return { log, lines };
}

/** The timers this process has pending: a resource left running after a failed start keeps one. */
const pendingTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** After a failed start, nothing it started is left scheduled, and every stop succeeded. */
function assertNothingLeftRunning(timersBefore: number, lines: string[]): void {
  assert.equal(pendingTimers(), timersBefore, 'no timer of the failed start is pending (the guest sweep was stopped)');
  assert.deepEqual(
    lines.filter((l) => l.includes('stopping after a failed start')),
    [],
    'everything that started stopped cleanly',
  );
}

it('role all whose listen fails stops its guest sweep and releases the store', async () => {
  const holder = await takenPort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-failed-start-'));
  const { log, lines } = capturingLogger();
  try {
    const config = loadConfig({
      ...CHEAP_HASHING_ENV,
      HOST: '127.0.0.1',
      PORT: String(portOf(holder)),
      GOCHAT_DATA_DIR: dataDir,
      GOCHAT_WEB_DIR: '',
      GOCHAT_GUEST_SWEEP_INTERVAL_MS: String(SWEEP_INTERVAL_MS),
    });
    const timersBefore = pendingTimers();
    await assert.rejects(startGoChat(config, log), /EADDRINUSE/);
    assertNothingLeftRunning(timersBefore, lines);
    // The store was closed: another writer takes its file at once.
    const db = new Database(path.join(dataDir, 'gochat.db'), { timeout: 0 });
    try {
      db.exec('BEGIN EXCLUSIVE; COMMIT');
    } finally {
      db.close();
    }
  } finally {
    holder.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

it('role logic whose gRPC port is taken stops its guest sweep and closes its pool', async (t) => {
  const skip = (await skipUnless('postgres')) || (await skipUnless('redis'));
  if (skip) return t.skip(skip);
  const holder = await takenPort();
  await using db = await createTestDatabase();
  const { log, lines } = capturingLogger();
  try {
    const config = loadConfig({
      ...CHEAP_HASHING_ENV,
      GOCHAT_ROLE: 'logic',
      HOST: '127.0.0.1',
      GOCHAT_METRICS_PORT: '0',
      GOCHAT_GRPC_HOST: '127.0.0.1',
      GOCHAT_GRPC_PORT: String(portOf(holder)),
      GOCHAT_DATABASE_URL: db.url,
      GOCHAT_REDIS_URL: REDIS_URL,
      GOCHAT_JWT_SECRET: 'issue-11-secret-0123456789abcdefghijklmnop',
      GOCHAT_GUEST_SWEEP_INTERVAL_MS: String(SWEEP_INTERVAL_MS),
    });
    const timersBefore = pendingTimers();
    await assert.rejects(startGoChat(config, log));
    assertNothingLeftRunning(timersBefore, lines);
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
      assert.equal(rows[0]!.n, 0, 'the store closed its pool');
    } finally {
      await admin.end();
    }
  } finally {
    holder.close();
  }
});

it('a server whose port is taken exits 1 and says why', async () => {
  const holder = await takenPort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-failed-start-'));
  try {
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, ...CHEAP_HASHING_ENV, HOST: '127.0.0.1', PORT: String(portOf(holder)), GOCHAT_DATA_DIR: dataDir, GOCHAT_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 1, output);
    assert.match(output, /"msg":"failed to start"/);
    assert.match(output, /EADDRINUSE/);
    assert.doesNotMatch(output, /stopping after a failed start/);
  } finally {
    holder.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
