/**
 * Schema upgrades keep what was stored: a database left at schema 1 (the first release), with
 * messages in it, opens under the current code with every row intact, resends still recognised
 * as duplicates, the idempotency index leading with temp_message_id (migration 2), and old rows
 * without a stored wire form (migration 3) served like new ones.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { MessageSchema } from '../../src/protocol/schemas.js';
import type { Repo } from '../../src/repo/index.js';
import { SqliteRepo } from '../../src/repo/sqlite/sqlite-repo.js';
import { PostgresRepo } from '../../src/repo/postgres/postgres-repo.js';
import { SQLITE_MIGRATIONS } from '../../src/repo/sqlite/migrations.js';
import { POSTGRES_MIGRATIONS } from '../../src/repo/postgres/migrations.js';
import { createTestDatabase, skipUnless } from './services.js';
import { appendStored } from '../helpers/append.js';

/** Rows as schema 1 stored them: two users, one 1:1 conversation with three messages. */
const SEED = {
  users: [
    [1, 'ann', 'ann', 'x', 0, 1_700_000_000_000],
    [2, 'bob', 'bob', 'x', 0, 1_700_000_000_000],
  ],
  conversation: [7, 'single', '1:2', 2, 3, 1_700_000_000_000, 1_700_000_000_300],
  members: [
    [7, 1, 3],
    [7, 2, 0],
  ],
  messages: [
    [41, 7, 1, 1, 'ann', 'temp-a', 'one', 'text', 1_700_000_000_100],
    [42, 7, 2, 1, 'ann', 'temp-b', 'two', 'text', 1_700_000_000_200],
    [43, 7, 3, 1, 'ann', 'temp-c', 'three', 'text', 1_700_000_000_300],
  ],
} as const;

/** What every store must show after the upgrade. */
async function assertUpgraded(repo: Repo): Promise<void> {
  const page = await repo.getMessages('7', { kind: 'page', page: 1, size: 50 });
  assert.deepEqual(
    page.messages.values.map((m) => [m.messageId, m.seqId, m.content]),
    [
      ['41', 1, 'one'],
      ['42', 2, 'two'],
      ['43', 3, 'three'],
    ],
  );
  const [resend, fresh] = await appendStored(repo, [
    { conversationId: '7', senderId: '1', senderName: 'ann', tempMessageId: 'temp-b', content: 'two again', messageType: 'text', sendTime: Date.now() },
    { conversationId: '7', senderId: '1', senderName: 'ann', tempMessageId: 'temp-d', content: 'four', messageType: 'text', sendTime: Date.now() },
  ]);
  assert.deepEqual([resend!.duplicate, resend!.message.messageId, resend!.message.seqId], [true, '42', 2]);
  assert.deepEqual([fresh!.duplicate, fresh!.message.seqId], [false, 4]);
  // Migration 6 (PostgreSQL 5): the member set is at its first version, nothing changed yet.
  assert.deepEqual(await repo.getConversationInfo('7'), { conversationId: '7', type: 'single', memberCount: 2, lastSeq: 4, membersSeq: 0 });
  // Rows from before the stored wire form (migration 3) read the same as new ones, also mixed in a page.
  for (const query of [{ kind: 'page', page: 1, size: 2 }, { kind: 'page', page: 1, size: 50 }, { kind: 'after', afterSeq: 3, size: 50 }] as const) {
    const page = await repo.getMessages('7', query);
    for (const m of JSON.parse(page.messages.encode()) as Array<Record<string, unknown>>) {
      assert.deepEqual(Object.keys(m), Object.keys(MessageSchema.properties).filter((key) => (MessageSchema.required as readonly string[] | undefined)?.includes(key)), JSON.stringify(query));
      assert.equal(m.conversationId, '7');
    }
  }
}

describe('schema upgrade from schema 1', () => {
  it('SQLite: keeps every message and idempotency, and the idempotency index leads with temp_message_id', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gochat-upgrade-'));
    const file = path.join(dir, 'gochat.db');
    try {
      const old = new Database(file);
      old.exec(SQLITE_MIGRATIONS[0]!);
      old.pragma('user_version = 1');
      for (const u of SEED.users) old.prepare('INSERT INTO users (id, username, username_key, password_hash, is_guest, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(...u);
      old.prepare('INSERT INTO conversations (id, type, pair_key, member_count, last_seq, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(...SEED.conversation);
      for (const m of SEED.members) old.prepare('INSERT INTO conversation_members (conversation_id, user_id, last_read_seq, joined_at) VALUES (?, ?, ?, 0)').run(...m);
      for (const m of SEED.messages) old.prepare('INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run(...m);
      old.close();

      const repo = new SqliteRepo({ file });
      try {
        await assertUpgraded(repo);
      } finally {
        await repo.close();
      }
      const db = new Database(file, { readonly: true });
      try {
        assert.equal(db.pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length);
        const uniqueIndexes = (db.pragma('index_list(messages)') as { name: string; unique: number }[]).filter((i) => i.unique);
        const leading = uniqueIndexes.map((i) => (db.pragma(`index_info(${i.name})`) as { name: string }[]).map((c) => c.name).join(','));
        assert.deepEqual(leading.sort(), ['conversation_id,seq_id', 'temp_message_id,sender_id,conversation_id']);
        assert.equal(db.pragma('foreign_key_check', { simple: true }), undefined);
      } finally {
        db.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL: keeps every message and idempotency, and the idempotency index leads with temp_message_id', async (t) => {
    const skip = await skipUnless('postgres');
    if (skip) return t.skip(skip);
    await using database = await createTestDatabase();
    const old = new pg.Client({ connectionString: database.url });
    await old.connect();
    try {
      await old.query(POSTGRES_MIGRATIONS[0]!);
      await old.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
      await old.query('INSERT INTO schema_migrations VALUES (1, 0)');
      for (const u of SEED.users) await old.query('INSERT INTO users (id, username, username_key, password_hash, is_guest, created_at) VALUES ($1, $2, $3, $4, $5 = 1, $6)', [...u]);
      await old.query('INSERT INTO conversations (id, type, pair_key, member_count, last_seq, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [...SEED.conversation]);
      for (const m of SEED.members) await old.query('INSERT INTO conversation_members (conversation_id, user_id, last_read_seq, joined_at) VALUES ($1, $2, $3, 0)', [...m]);
      for (const m of SEED.messages) await old.query('INSERT INTO messages VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)', [...m]);
    } finally {
      await old.end();
    }

    const repo = new PostgresRepo({ url: database.url, poolSize: 2 });
    try {
      await repo.migrate();
      await assertUpgraded(repo);
    } finally {
      await repo.close();
    }
    const check = new pg.Client({ connectionString: database.url });
    await check.connect();
    try {
      const { rows } = await check.query<{ columns: string }>(
        `SELECT string_agg(a.attname, ',' ORDER BY k.ord) AS columns
           FROM pg_index i
           CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
          WHERE i.indrelid = 'messages'::regclass AND i.indisunique AND NOT i.indisprimary
          GROUP BY i.indexrelid ORDER BY 1`,
      );
      assert.deepEqual(rows.map((r) => r.columns), ['conversation_id,seq_id', 'temp_message_id,sender_id,conversation_id']);
    } finally {
      await check.end();
    }
  });
});
