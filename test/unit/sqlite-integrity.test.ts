/**
 * The start-up integrity check runs in a worker thread: the store opens at once, is not ready until
 * the check has answered, then ready on a healthy file and never on a damaged one.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteRepo } from '../../src/repo/sqlite/sqlite-repo.js';
import { eventually } from '../ports/services.js';
import { sqliteSchemaBytes } from '../helpers/sqlite-schema-size.js';

const PAGE = 4096;

/** ready() as a verdict, polled until the check is no longer in progress. */
async function verdict(repo: SqliteRepo): Promise<string> {
  return eventually(async () => {
    try {
      await repo.ping();
      return 'ready';
    } catch (err) {
      const message = (err as Error).message;
      return /in progress/.test(message) ? undefined : message;
    }
  });
}

describe('SQLite start-up integrity check', () => {
  it('a healthy file is ready once the check has answered', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-integrity-'));
    try {
      const repo = new SqliteRepo({ file: path.join(dir, 'gochat.db') });
      await repo.createUser({ username: 'ann', passwordHash: 'x', isGuest: false });
      assert.equal(await verdict(repo), 'ready');
      await repo.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a damaged file opens, serves what it can, and is never ready', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-integrity-'));
    const file = path.join(dir, 'gochat.db');
    try {
      const healthy = new SqliteRepo({ file });
      for (let i = 0; i < 200; i++) await healthy.createUser({ username: `user${i}`, passwordHash: 'x'.repeat(100), isGuest: false });
      await healthy.close();
      const size = fs.statSync(file).size;
      // Every page past the schema's is garbage: the file still opens.
      const kept = await sqliteSchemaBytes();
      assert.ok(size > kept + 4 * PAGE, `database of ${size} bytes, schema ${kept}`);
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, Buffer.alloc(size - kept, 0x5a), 0, size - kept, kept);
      fs.closeSync(fd);
      const damaged = new SqliteRepo({ file });
      assert.match(await verdict(damaged), /integrity check/);
      await damaged.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
