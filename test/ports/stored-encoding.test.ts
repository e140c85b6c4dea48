/**
 * The encoding SQLite keeps beside each message is a cache: a row whose stored text is in another
 * format than today's (written before MessageSchema changed) is served from its columns.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteRepo } from '../../src/repo/sqlite/sqlite-repo.js';
import { MessageSchema } from '../../src/protocol/schemas.js';
import { encodingFormatOf, MESSAGE_ENCODING_FORMAT } from '../../src/protocol/stored-encoding.js';
import { SQLITE_MIGRATIONS } from '../../src/repo/sqlite/migrations.js';
import { Type } from '@sinclair/typebox';
import { appendStored } from '../helpers/append.js';

describe('stored message encodings (SQLite)', () => {
  it('a row stored in an older format is never served in its old shape', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-encoding-'));
    const file = path.join(dir, 'gochat.db');
    const repo = new SqliteRepo({ file });
    try {
      const a = await repo.createUser({ username: 'ann', passwordHash: 'x', isGuest: false });
      const b = await repo.createUser({ username: 'bob', passwordHash: 'x', isGuest: false });
      const { conversationId } = await repo.getOrCreateSingleConversation(a.userId, b.userId);
      const send = (tempMessageId: string, content: string) =>
        ({ conversationId, senderId: a.userId, senderName: 'ann', tempMessageId, content, messageType: 'text', sendTime: Date.now() }) as const;
      const [old, current] = await appendStored(repo, [send('t-old', 'old'), send('t-new', 'new')]);

      // What an older schema version would have left: another format name and another shape.
      const raw = new Database(file);
      raw.prepare(`UPDATE messages SET wire_format = 'm0-older', wire = '"conversationId":"0","legacyField":true}' WHERE id = ?`).run(Number(old!.message.messageId));
      const formats = raw.prepare('SELECT wire_format FROM messages ORDER BY seq_id').pluck().all();
      raw.close();
      assert.deepEqual(formats, ['m0-older', MESSAGE_ENCODING_FORMAT]);

      const page = await repo.getMessages(conversationId, { kind: 'page', page: 1, size: 50 });
      const served = JSON.parse(page.messages.encode()) as Array<Record<string, unknown>>;
      // A plain message: the schema's required fields, in its order.
      const required = Object.keys(MessageSchema.properties).filter((key) => (MessageSchema.required as readonly string[] | undefined)?.includes(key));
      for (const m of served) assert.deepEqual(Object.keys(m), required);
      assert.deepEqual(served, [old!.message, current!.message].map((m) => JSON.parse(JSON.stringify(m))));
    } finally {
      await repo.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('migration 5 marks the rows before it with the format of the Message fields of its day', () => {
    // The fields of MessageSchema when migration 5 was written: rows stored up to it are in their format.
    const fieldsThen = ['messageId', 'conversationId', 'senderId', 'senderName', 'content', 'messageType', 'seqId', 'sendTime'];
    const formatThen = encodingFormatOf(Type.Object(Object.fromEntries(fieldsThen.map((name) => [name, Type.Unknown()]))));
    assert.match(SQLITE_MIGRATIONS[4]!, new RegExp(`ADD COLUMN wire_format TEXT DEFAULT '${formatThen}'`));
  });
});
