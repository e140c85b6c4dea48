import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteRepo } from '../../src/repo/sqlite/sqlite-repo.js';

/** Writes `batches` group commits and returns the WAL file's size: its high-water mark between checkpoints. */
async function walBytesAfterWrites(walAutocheckpointPages: number, batches: number): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-wal-'));
  const file = path.join(dir, 'gochat.db');
  const repo = new SqliteRepo({ file, walAutocheckpointPages });
  try {
    const a = await repo.createUser({ username: 'wal-a', passwordHash: 'x', isGuest: false });
    const b = await repo.createUser({ username: 'wal-b', passwordHash: 'x', isGuest: false });
    const { conversationId } = await repo.getOrCreateSingleConversation(a.userId, b.userId);
    for (let n = 0; n < batches; n++) {
      await repo.appendMessages(
        Array.from({ length: 50 }, (_, i) => ({
          conversationId,
          senderId: a.userId,
          senderName: a.username,
          tempMessageId: `${n}-${i}`,
          content: 'x'.repeat(200),
          messageType: 'text' as const,
          sendTime: Date.now(),
        })),
      );
    }
    return fs.statSync(`${file}-wal`).size;
  } finally {
    await repo.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('SQLite checkpoint interval (GOCHAT_SQLITE_WAL_AUTOCHECKPOINT)', () => {
  it('bounds the WAL by the configured number of pages between checkpoints', async () => {
    const small = await walBytesAfterWrites(20, 200);
    const large = await walBytesAfterWrites(100_000, 200);
    assert.ok(small < 40 * 4096 * 2, `WAL of ${small} bytes with a 20-page interval`);
    assert.ok(large > small * 4, `a larger interval lets the WAL grow (${large} vs ${small} bytes)`);
  });
});
