/**
 * How many bytes of a GoChat SQLite file its schema takes: the pages a fresh database has once
 * every migration ran. Tests that damage a file on purpose overwrite only what follows, so the file
 * still opens (the schema grows with every migration, and its pages come first).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteRepo } from '../../src/repo/sqlite/sqlite-repo.js';

export async function sqliteSchemaBytes(): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-schema-'));
  try {
    const file = path.join(dir, 'gochat.db');
    const repo = new SqliteRepo({ file, integrityCheck: false });
    await repo.close();
    return fs.statSync(file).size;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
