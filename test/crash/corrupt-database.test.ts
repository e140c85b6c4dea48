/**
 * A damaged database file: the server still starts and stays alive (`/healthz`), but `/readyz`
 * answers 503 from the start (PRAGMA quick_check when opening) instead of "ready" while requests fail.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Api } from '../helpers/client.js';
import { startServer } from '../helpers/server.js';
import { sqliteSchemaBytes } from '../helpers/sqlite-schema-size.js';

const PAGE = 4096;

describe('a corrupt database file', () => {
  it('is never reported ready', async () => {
    let dataDir: string;
    {
      await using server = await startServer();
      dataDir = server.dataDir;
      const api = new Api(server.baseUrl);
      // Enough rows to fill pages past the schema's.
      for (let i = 0; i < 15; i++) await Promise.all(Array.from({ length: 10 }, () => api.user('resident')));
      assert.equal((await api.get('/readyz')).status, 200);
    }
    // A graceful stop checkpoints the WAL into the file; then every page past the schema is garbage.
    const file = path.join(dataDir, 'gochat.db');
    const size = fs.statSync(file).size;
    const kept = await sqliteSchemaBytes();
    assert.ok(size > kept + PAGE, `database of ${size} bytes, schema ${kept}`);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.alloc(size - kept, 0x5a), 0, size - kept, kept);
    fs.closeSync(fd);

    await using server = await startServer({ dataDir });
    const api = new Api(server.baseUrl);
    assert.equal((await api.get('/healthz')).status, 200);
    const ready = await api.get('/readyz');
    assert.deepEqual([ready.status, ready.body.code], [503, 'SERVICE_UNAVAILABLE']);
  });
});
