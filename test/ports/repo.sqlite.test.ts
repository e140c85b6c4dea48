/** The storage interface suite against the embedded SQLite store (a temp file, so a second handle shares it). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteRepo } from '../../src/repo/sqlite/sqlite-repo.js';
import { repoSuite } from './repo.suite.js';

repoSuite('SQLite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-repo-'));
  const file = path.join(dir, 'gochat.db');
  return {
    open: async () => new SqliteRepo({ file }),
    openAgain: async () => new SqliteRepo({ file }),
    cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
});
