/**
 * The distributed storage: PostgreSQL through a `pg` pool. Every query is parameterized.
 * Several logic processes may write the same conversation at once: a batch locks its
 * conversations' rows (in id order, so two batches cannot deadlock) and allocates each
 * seqId with `UPDATE conversations SET last_seq = last_seq + 1 … RETURNING`, so the row lock
 * serializes writers and the sequence stays 1, 2, 3… with no gaps.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { AppError, MessageList } from '../../protocol/index.js';
import type { Conversation, Group, GroupMember, ReadResult, User } from '../../protocol/index.js';
import type {
  AccountAuth,
  AppendResult,
  ConversationInfo,
  ConversationListPage,
  ConversationListQuery,
  HistoryPage,
  HistoryQuery,
  NewGroup,
  NewMessage,
  NewUser,
  Repo,
  UserRecord,
} from '../index.js';
import { EXPIRED_GUEST_ACTIVITY, historyRange, pairKey, storedMessage, toIso, usernameKey, WORLD_KEY, WORLD_NAME } from '../shared.js';
import { CONVERSATION_ORDER, CONVERSATION_SELECT, conversationCountSql, conversationPageSql, pageLimit, toConversation, toMessage, toUser, type ConversationRow, type MessageRow, type UserRow } from '../rows.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';

export interface PostgresRepoConfig {
  /** postgres://user@host:port/db */
  url: string;
  poolSize: number;
}

type Queryable = Pick<pg.PoolClient, 'query'>;


/** Ids on the wire are strings; anything that is not a positive BIGINT matches no row (null). */
function rowId(id: string): string | null {
  return /^[1-9][0-9]{0,17}$/.test(id) ? id : null;
}

const newAccountKey = (): string => randomBytes(16).toString('hex');

/** Serialization failures and deadlocks are safe to retry: the transaction was rolled back. */
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);


/** Observes how long each storage call takes (a metrics histogram in production). */
export type QueryTimer = (operation: string, seconds: number) => void;

/** SQLSTATE classes 53 (insufficient resources: disk full…), 57P (shutdown), 08 (connection) and socket errors. */
const UNAVAILABLE = /^(53|57P|08)|^E(CONNREFUSED|CONNRESET|PIPE|TIMEDOUT|HOSTUNREACH)$/;

export class PostgresRepo implements Repo {
  private readonly pool: pg.Pool;
  /** The last failure's code while statements fail for want of resources; null once one succeeds. */
  private writeError: string | null = null;
  private migrated: Promise<void> | null = null;

  constructor(
    config: PostgresRepoConfig,
    private readonly timer: QueryTimer = () => {},
  ) {
    this.pool = new pg.Pool({ connectionString: config.url, max: config.poolSize });
    // An idle client losing its connection (e.g. a database restart) must not crash the process.
    this.pool.on('error', () => {});
  }

  /** Applies pending migrations. Safe to call from several processes at once (advisory lock). */
  migrate(): Promise<void> {
    this.migrated ??= this.transaction(async (db) => {
      await db.query('SELECT pg_advisory_xact_lock(7234001)');
      await db.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
      const { rows } = await db.query<{ version: number | null }>('SELECT MAX(version) AS version FROM schema_migrations');
      const current = rows[0]?.version ?? 0;
      for (const [index, sql] of POSTGRES_MIGRATIONS.entries()) {
        const version = index + 1;
        if (version <= current) continue;
        await db.query(sql);
        await db.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [version, Date.now()]);
      }
    }, 'migrate');
    return this.migrated;
  }

  private async query<R extends pg.QueryResultRow>(operation: string, sql: string, params: unknown[] = []): Promise<R[]> {
    const started = performance.now();
    try {
      return (await this.pool.query<R>(sql, params)).rows;
    } catch (err) {
      throw this.storageFailure(err);
    } finally {
      this.timer(operation, (performance.now() - started) / 1000);
    }
  }

  private async transaction<T>(work: (db: Queryable) => Promise<T>, operation: string): Promise<T> {
    const started = performance.now();
    try {
      for (let attempt = 1; ; attempt++) {
        const client = await this.pool.connect();
        let broken = false;
        try {
          await client.query('BEGIN');
          const result = await work(client);
          await client.query('COMMIT');
          this.writeError = null;
          return result;
        } catch (err) {
          await client.query('ROLLBACK').catch(() => (broken = true));
          const sqlState = (err as { code?: string }).code;
          if (attempt < 3 && sqlState !== undefined && RETRYABLE_SQLSTATES.has(sqlState)) continue;
          throw this.storageFailure(err);
        } finally {
          client.release(broken);
        }
      }
    } finally {
      this.timer(operation, (performance.now() - started) / 1000);
    }
  }

  async createUser(user: NewUser): Promise<User> {
    const now = Date.now();
    // No conflict target: a taken name and a taken skeleton both insert nothing.
    const rows = await this.query<UserRow>(
      'createUser',
      `INSERT INTO users (username, username_key, username_skeleton, password_hash, is_guest, created_at, last_active_at, account_key)
       VALUES ($1, $2, $3, $4, $5, $6, $6, $7) ON CONFLICT DO NOTHING RETURNING *`,
      [user.username, usernameKey(user.username), user.usernameSkeleton ?? null, user.passwordHash, user.isGuest, now, user.accountKey ?? newAccountKey()],
    );
    if (!rows[0]) throw new AppError('USERNAME_TAKEN', `Username "${user.username}" is already taken or looks like one that is`);
    return toUser(rows[0]);
  }

  async findUserByUsername(username: string): Promise<UserRecord | null> {
    const [row] = await this.query<UserRow>('findUserByUsername', 'SELECT * FROM users WHERE username_key = $1', [usernameKey(username)]);
    return row ? { ...toUser(row), passwordHash: row.password_hash ?? '', accountKey: row.account_key ?? '' } : null;
  }

  async getAccountAuth(userId: string, jti: string): Promise<AccountAuth | null> {
    const id = rowId(userId);
    if (id === null) return null;
    const [row] = await this.query<{ account_key: string; revoked: boolean }>(
      'getAccountAuth',
      'SELECT account_key, EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $1) AS revoked FROM users WHERE id = $2',
      [jti, id],
    );
    return row ? { accountKey: row.account_key, revoked: row.revoked } : null;
  }

  async backfillUsernameSkeletons(skeleton: (username: string) => string): Promise<number> {
    let filled = 0;
    for (let after = '0'; ; ) {
      const rows = await this.query<{ id: string; username: string }>(
        'usersWithoutSkeleton',
        'SELECT id, username FROM users WHERE username_skeleton IS NULL AND id > $1 ORDER BY id LIMIT 500',
        [after],
      );
      if (rows.length === 0) return filled;
      for (const row of rows) {
        const updated = await this.query(
          'setSkeleton',
          `UPDATE users SET username_skeleton = $1 WHERE id = $2 AND username_skeleton IS NULL
             AND NOT EXISTS (SELECT 1 FROM users WHERE username_skeleton = $1)
           RETURNING id`,
          [skeleton(row.username), row.id],
        ).catch((err: unknown) => {
          // Another process filled the same skeleton between the check and the write.
          if ((err as { code?: string }).code === '23505') return [];
          throw err;
        });
        filled += updated.length;
      }
      after = rows.at(-1)!.id;
    }
  }

  async getUsers(ids: readonly string[]): Promise<User[]> {
    const valid = [...new Set(ids.map(rowId).filter((id): id is string => id !== null))];
    if (valid.length === 0) return [];
    return (await this.query<UserRow>('getUsers', 'SELECT * FROM users WHERE id = ANY($1::bigint[])', [valid])).map(toUser);
  }

  async revokeToken(jti: string, expiresAtMs: number): Promise<void> {
    await this.transaction(async (db) => {
      await db.query('INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING', [jti, expiresAtMs]);
      // Expired tokens fail verification anyway; keep the table small.
      await db.query('DELETE FROM revoked_tokens WHERE expires_at < $1', [Date.now() - 60_000]);
    }, 'revokeToken');
  }

  async isTokenRevoked(jti: string): Promise<boolean> {
    return (await this.query('isTokenRevoked', 'SELECT 1 FROM revoked_tokens WHERE jti = $1', [jti])).length > 0;
  }

  async getOrCreateSingleConversation(userId: string, peerId: string): Promise<{ conversationId: string; created: boolean }> {
    const key = pairKey(userId, peerId);
    return this.transaction(async (db) => {
      const now = Date.now();
      // A concurrent creator of the same pair makes this wait on the unique index, then do nothing.
      const inserted = await db.query<{ id: string }>(
        `INSERT INTO conversations (type, name, pair_key, member_count, created_at, updated_at)
         VALUES ('single', '', $1, 2, $2, $2) ON CONFLICT (pair_key) DO NOTHING RETURNING id`,
        [key, now],
      );
      const created = inserted.rows[0];
      if (!created) {
        const existing = await db.query<{ id: string }>('SELECT id FROM conversations WHERE pair_key = $1', [key]);
        return { conversationId: existing.rows[0]!.id, created: false };
      }
      await db.query(
        `INSERT INTO conversation_members (conversation_id, user_id, role, joined_at)
         VALUES ($1, $2, 'member', $4), ($1, $3, 'member', $4)`,
        [created.id, userId, peerId, now],
      );
      return { conversationId: created.id, created: true };
    }, 'getOrCreateSingleConversation');
  }

  async joinWorld(userId: string): Promise<string> {
    return this.transaction(async (db) => {
      const now = Date.now();
      await db.query(
        `INSERT INTO conversations (type, name, pair_key, member_count, created_at, updated_at)
         VALUES ('world', $1, $2, 0, $3, $3) ON CONFLICT (pair_key) DO NOTHING`,
        [WORLD_NAME, WORLD_KEY, now],
      );
      const { rows } = await db.query<{ id: string }>('SELECT id FROM conversations WHERE pair_key = $1', [WORLD_KEY]);
      const worldId = rows[0]!.id;
      const joined = await db.query(
        `INSERT INTO conversation_members (conversation_id, user_id, role, joined_at)
         VALUES ($1, $2, 'member', $3) ON CONFLICT DO NOTHING`,
        [worldId, userId, now],
      );
      if (joined.rowCount === 1) await db.query('UPDATE conversations SET member_count = member_count + 1 WHERE id = $1', [worldId]);
      return worldId;
    }, 'joinWorld');
  }

  async touchGuest(userId: string, at: number): Promise<boolean> {
    const id = rowId(userId);
    if (id === null) return false;
    const rows = await this.query(
      'touchGuest',
      'UPDATE users SET last_active_at = GREATEST(last_active_at, $2) WHERE id = $1 AND is_guest AND last_active_at >= 0 RETURNING 1',
      [id, at],
    );
    return rows.length === 1;
  }

  async expireGuests(inactiveBefore: number, limit: number): Promise<string[]> {
    return this.transaction(async (db) => {
      // SKIP LOCKED: another logic process sweeping at the same moment takes other guests. FOR UPDATE
      // re-checks a row a concurrent touch changed, so a guest active just now is not expired.
      const expired = await db.query<{ id: string }>(
        `WITH picked AS (
           SELECT id FROM users
           WHERE is_guest AND last_active_at >= 0 AND last_active_at < $1 AND created_at < $1
           ORDER BY last_active_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         UPDATE users u SET account_key = '', last_active_at = ${EXPIRED_GUEST_ACTIVITY} FROM picked WHERE u.id = picked.id
         RETURNING u.id`,
        [inactiveBefore, Math.max(0, limit)],
      );
      const ids = expired.rows.map((r) => r.id);
      if (ids.length === 0) return [];
      const left = await db.query(
        `DELETE FROM conversation_members
         WHERE conversation_id = (SELECT id FROM conversations WHERE pair_key = $1) AND user_id = ANY($2::bigint[])`,
        [WORLD_KEY, ids],
      );
      if ((left.rowCount ?? 0) > 0) {
        await db.query('UPDATE conversations SET member_count = member_count - $1 WHERE pair_key = $2', [left.rowCount, WORLD_KEY]);
      }
      return ids;
    }, 'expireGuests');
  }

  async createGroup(group: NewGroup): Promise<{ groupId: string; conversationId: string }> {
    return this.transaction(async (db) => {
      const now = Date.now();
      const conv = await db.query<{ id: string }>(
        `INSERT INTO conversations (type, name, pair_key, member_count, created_at, updated_at)
         VALUES ('group', $1, NULL, $2, $3, $3) RETURNING id`,
        [group.name, 1 + group.memberIds.length, now],
      );
      const conversationId = conv.rows[0]!.id;
      const grp = await db.query<{ id: string }>(
        'INSERT INTO chat_groups (conversation_id, name, owner_id, created_at) VALUES ($1, $2, $3, $4) RETURNING id',
        [conversationId, group.name, group.ownerId, now],
      );
      const groupId = grp.rows[0]!.id;
      await db.query('UPDATE conversations SET group_id = $1 WHERE id = $2', [groupId, conversationId]);
      await db.query(
        `INSERT INTO conversation_members (conversation_id, user_id, role, joined_at)
         SELECT $1, member.id, CASE WHEN member.id = $2::bigint THEN 'owner' ELSE 'member' END, $4
         FROM unnest(array_prepend($2::bigint, $3::bigint[])) AS member (id)
         ON CONFLICT DO NOTHING`,
        [conversationId, group.ownerId, group.memberIds, now],
      );
      return { groupId, conversationId };
    }, 'createGroup');
  }

  async getGroup(groupId: string): Promise<Group | null> {
    const id = rowId(groupId);
    if (id === null) return null;
    const [r] = await this.query<{ id: string; conversation_id: string; name: string; owner_id: string; created_at: string; member_count: number }>(
      'getGroup',
      `SELECT g.id, g.conversation_id, g.name, g.owner_id, g.created_at, c.member_count
       FROM chat_groups g JOIN conversations c ON c.id = g.conversation_id WHERE g.id = $1`,
      [id],
    );
    if (!r) return null;
    return {
      groupId: r.id,
      conversationId: r.conversation_id,
      name: r.name,
      ownerId: r.owner_id,
      memberCount: r.member_count,
      createdAt: toIso(Number(r.created_at)),
    };
  }

  async getGroupMembers(groupId: string): Promise<GroupMember[]> {
    const id = rowId(groupId);
    if (id === null) return [];
    const rows = await this.query<{ id: string; username: string; avatar: string; role: GroupMember['role']; joined_at: string }>(
      'getGroupMembers',
      `SELECT u.id, u.username, u.avatar, m.role, m.joined_at
       FROM chat_groups g
       JOIN conversation_members m ON m.conversation_id = g.conversation_id
       JOIN users u ON u.id = m.user_id
       WHERE g.id = $1 ORDER BY m.joined_at, u.id`,
      [id],
    );
    return rows.map((r) => ({ userId: r.id, username: r.username, avatar: r.avatar, role: r.role, joinedAt: toIso(Number(r.joined_at)) }));
  }

  async getConversationInfo(conversationId: string): Promise<ConversationInfo | null> {
    const id = rowId(conversationId);
    if (id === null) return null;
    const [r] = await this.query<{ id: string; type: Conversation['type']; member_count: number; last_seq: string }>(
      'getConversationInfo',
      'SELECT id, type, member_count, last_seq FROM conversations WHERE id = $1',
      [id],
    );
    return r ? { conversationId: r.id, type: r.type, memberCount: r.member_count, lastSeq: Number(r.last_seq) } : null;
  }

  async isMember(conversationId: string, userId: string): Promise<boolean> {
    const [cid, uid] = [rowId(conversationId), rowId(userId)];
    if (cid === null || uid === null) return false;
    const rows = await this.query('isMember', 'SELECT 1 FROM conversation_members WHERE conversation_id = $1 AND user_id = $2', [cid, uid]);
    return rows.length > 0;
  }

  async getMemberIds(conversationId: string): Promise<string[]> {
    const id = rowId(conversationId);
    if (id === null) return [];
    const rows = await this.query<{ user_id: string }>('getMemberIds', 'SELECT user_id FROM conversation_members WHERE conversation_id = $1', [id]);
    return rows.map((r) => r.user_id);
  }

  async getConversation(conversationId: string, userId: string): Promise<Conversation | null> {
    const [cid, uid] = [rowId(conversationId), rowId(userId)];
    if (cid === null || uid === null) return null;
    const [row] = await this.query<ConversationRow>('getConversation', `${CONVERSATION_SELECT} WHERE m.user_id = $1 AND m.conversation_id = $2`, [uid, cid]);
    return row ? toConversation(row) : null;
  }

  async listConversations(userId: string): Promise<Conversation[]> {
    const uid = rowId(userId);
    if (uid === null) return [];
    const rows = await this.query<ConversationRow>(
      'listConversations',
      `${CONVERSATION_SELECT} WHERE m.user_id = $1 ${CONVERSATION_ORDER}`,
      [uid],
    );
    return rows.map(toConversation);
  }

  async listConversationsPage(userId: string, query: ConversationListQuery): Promise<ConversationListPage> {
    const uid = rowId(userId);
    if (uid === null) return { conversations: [], total: 0, hasMore: false };
    const limit = pageLimit(query.limit);
    const param = (n: number) => `$${n}`;
    // An id that is no row id positions below every row of its instant, as SQLite's -1 does.
    const afterId = query.after === null ? null : (rowId(query.after.conversationId) ?? '0');
    // One row more than the page tells whether another page follows. The page and the count are two
    // statements (a count taken a moment apart is still a count of the user's conversations).
    const [rows, counted] = await Promise.all([
      query.after === null
        ? this.query<ConversationRow>('listConversationsPage', conversationPageSql(param, false), [uid, limit + 1])
        : this.query<ConversationRow>('listConversationsPage', conversationPageSql(param, true), [uid, query.after.updatedAt, afterId, limit + 1]),
      this.query<{ total: string }>('countConversations', conversationCountSql(param), [uid]),
    ]);
    return { conversations: rows.slice(0, limit).map(toConversation), total: Number(counted[0]?.total ?? 0), hasMore: rows.length > limit };
  }

  async appendMessages(batch: readonly NewMessage[]): Promise<AppendResult[]> {
    if (batch.length === 0) return [];
    return this.transaction(async (db) => {
      const conversationIds = [...new Set(batch.map((m) => rowId(m.conversationId)))];
      if (conversationIds.includes(null)) throw new AppError('CONVERSATION_NOT_FOUND');
      // Lock every conversation row of the batch up front, in id order: the lock is held to
      // COMMIT, so other writers of these conversations wait, and two batches never deadlock.
      await db.query('SELECT id FROM conversations WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [conversationIds]);
      const results: AppendResult[] = [];
      for (const m of batch) results.push(await this.appendOne(db, m));
      return results;
    }, 'appendMessages');
  }

  private async appendOne(db: Queryable, m: NewMessage): Promise<AppendResult> {
    // Under the row lock a concurrent writer of the same tempMessageId has either committed
    // (we see its row here) or not started: the unique index never fires mid-allocation.
    const existing = await db.query<MessageRow>(
      'SELECT * FROM messages WHERE conversation_id = $1 AND sender_id = $2 AND temp_message_id = $3',
      [m.conversationId, m.senderId, m.tempMessageId],
    );
    if (existing.rows[0]) {
      const message = toMessage(existing.rows[0]);
      return { message, duplicate: true };
    }
    const seq = await db.query<{ last_seq: string }>(
      'UPDATE conversations SET last_seq = last_seq + 1, updated_at = $1 WHERE id = $2 RETURNING last_seq',
      [m.sendTime, m.conversationId],
    );
    if (!seq.rows[0]) throw new AppError('CONVERSATION_NOT_FOUND');
    const seqId = Number(seq.rows[0].last_seq);
    const inserted = await db.query<{ id: string }>(
      `INSERT INTO messages (conversation_id, seq_id, sender_id, sender_name, temp_message_id, content, message_type, send_time)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
      [m.conversationId, seqId, m.senderId, m.senderName, m.tempMessageId, m.content, m.messageType, m.sendTime],
    );
    await db.query(
      'UPDATE conversation_members SET last_read_seq = GREATEST(last_read_seq, $1) WHERE conversation_id = $2 AND user_id = $3',
      [seqId, m.conversationId, m.senderId],
    );
    const message = { messageId: inserted.rows[0]!.id, ...storedMessage(m, seqId) };
    return { duplicate: false, message };
  }

  async getMessages(conversationId: string, query: HistoryQuery): Promise<HistoryPage> {
    const id = rowId(conversationId);
    if (id === null) return { messages: MessageList.of([]), total: 0, hasMore: false };
    const [row] = await this.query<{ last_seq: string }>('lastSeq', 'SELECT last_seq FROM conversations WHERE id = $1', [id]);
    const last = Number(row?.last_seq ?? 0);
    const range = historyRange(query, last);
    const rows = range.empty
      ? []
      : await this.query<MessageRow>(
          'getMessages',
          'SELECT * FROM messages WHERE conversation_id = $1 AND seq_id BETWEEN $2 AND $3 ORDER BY seq_id',
          [id, range.from, range.to],
        );
    return { messages: MessageList.of(rows.map(toMessage)), total: last, hasMore: range.hasMore };
  }

  async markRead(conversationId: string, userId: string): Promise<ReadResult> {
    const [cid, uid] = [rowId(conversationId), rowId(userId)];
    if (cid === null || uid === null) return { conversationId, lastReadSeq: 0, unreadCount: 0 };
    const [row] = await this.query<{ last_seq: string; last_read_seq: string }>(
      'markRead',
      `WITH c AS (SELECT last_seq FROM conversations WHERE id = $1)
       UPDATE conversation_members m SET last_read_seq = GREATEST(m.last_read_seq, c.last_seq)
       FROM c WHERE m.conversation_id = $1 AND m.user_id = $2
       RETURNING c.last_seq, m.last_read_seq`,
      [cid, uid],
    );
    const last = Number(row?.last_seq ?? 0);
    const lastReadSeq = Number(row?.last_read_seq ?? 0);
    return { conversationId, lastReadSeq, unreadCount: Math.max(0, last - lastReadSeq) };
  }

  /**
   * PostgreSQL's "cannot serve now" failures (disk full and other resource limits, a server
   * shutting down or unreachable) become SERVICE_UNAVAILABLE, which clients may retry; readiness
   * reports them until a statement succeeds.
   */
  private storageFailure(err: unknown): unknown {
    if (err instanceof AppError) return err;
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string' || !UNAVAILABLE.test(code)) return err;
    this.writeError = code;
    return new AppError('SERVICE_UNAVAILABLE', 'Storage cannot serve right now; try again later', undefined, { cause: err });
  }

  async ping(): Promise<void> {
    await this.query('ping', 'SELECT 1');
    // SELECT 1 answering says nothing about a full disk: unready until a transaction commits.
    if (this.writeError && /^53/.test(this.writeError)) throw new Error(`storage cannot write (${this.writeError})`);
    this.writeError = null;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
