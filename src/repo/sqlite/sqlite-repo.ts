/**
 * The embedded storage: one SQLite file in WAL mode with synchronous=FULL, so a committed
 * transaction is on disk before `appendMessages` resolves. better-sqlite3 is synchronous;
 * the async Repo surface keeps logic identical over PostgreSQL.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { AppError } from '../../protocol/index.js';
import type { Conversation, Group, GroupMember, Message, MessageType, ReadResult, User } from '../../protocol/index.js';
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
import { encodeStoredMessageBody, withStoredEncoding } from '../../protocol/stored-encoding.js';
import { MessageList } from '../../protocol/index.js';
import { CONVERSATION_ORDER, CONVERSATION_SELECT, conversationCountSql, conversationPageSql, pageLimit, toConversation, toMessage, toUser, type ConversationRow, type MessageRow, type UserRow } from '../rows.js';
import { SQLITE_MIGRATIONS } from './migrations.js';

/** A `messagesInRange` row: id, sender_id, sender_name, content, message_type, seq_id, send_time. */
type HistoryRow = [number, number, string, string, string, number, number];

export interface SqliteRepoConfig {
  /** Path of the database file, or ':memory:'. */
  file: string;
  /**
   * WAL pages between automatic checkpoints. Larger than SQLite's 1000 by default: a page that a
   * burst rewrites many times is copied back to the database once, and checkpoints (which run on
   * the committing thread) come less often. Commits still fsync the WAL (synchronous=FULL).
   */
  walAutocheckpointPages?: number;
  /** Run PRAGMA quick_check when opening (default true). */
  integrityCheck?: boolean;
}

/** SQLite result codes that mean "this store cannot take writes now". */
const UNWRITABLE = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|CORRUPT|NOTADB|PROTOCOL)/;
const PROBE_INTERVAL_MS = 1_000;

const newAccountKey = (): string => randomBytes(16).toString('hex');

/** Ids on the wire are strings; anything that is not a positive integer matches no row. */
function rowId(id: string): number {
  return /^[1-9][0-9]{0,15}$/.test(id) ? Number(id) : -1;
}


export class SqliteRepo implements Repo {
  private readonly db: Database.Database;
  private readonly stmt: Record<string, Statement>;
  private readonly appendTx: (batch: readonly NewMessage[]) => AppendResult[];
  /** The last write's failure code while writes fail (disk full…); null once one succeeds. */
  private writeError: string | null = null;
  /** Set when the start-up integrity check or a later read found the file corrupt; sticky. */
  private integrityError: string | null = null;
  private probedAt = 0;

  constructor(config: SqliteRepoConfig) {
    if (config.file !== ':memory:') fs.mkdirSync(path.dirname(config.file), { recursive: true });
    this.db = new Database(config.file);
    this.db.pragma('journal_mode = WAL');
    // FULL: every commit fsyncs the WAL, so an ack after commit survives power loss too.
    this.db.pragma('synchronous = FULL');
    this.db.pragma(`wal_autocheckpoint = ${Math.max(0, Math.floor(config.walAutocheckpointPages ?? 4000))}`);
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    this.stmt = this.prepare();
    this.appendTx = this.db.transaction((batch: readonly NewMessage[]) => this.appendBatch(batch));
    if (config.integrityCheck !== false) {
      // Cheaper than integrity_check (no index cross-checks), and enough to refuse readiness on a
      // damaged file instead of answering ready while requests fail.
      const verdict = this.db.pragma('quick_check(1)', { simple: true });
      if (verdict !== 'ok') this.integrityError = `quick_check: ${String(verdict).slice(0, 200)}`;
    }
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    SQLITE_MIGRATIONS.forEach((sql, index) => {
      const version = index + 1;
      if (version <= current) return;
      this.db.transaction(() => {
        this.db.exec(sql);
        this.db.pragma(`user_version = ${version}`);
      })();
    });
  }

  private prepare(): Record<string, Statement> {
    const p = (sql: string): Statement => this.db.prepare(sql);
    return {
      // No conflict target: a taken name and a taken skeleton both insert nothing.
      insertUser: p(`INSERT INTO users (username, username_key, username_skeleton, password_hash, is_guest, created_at, last_active_at, account_key)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING *`),
      accountAuth: p(`SELECT account_key, EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?) AS revoked FROM users WHERE id = ?`),
      usersWithoutSkeleton: p('SELECT id, username FROM users WHERE username_skeleton IS NULL AND id > ? ORDER BY id LIMIT 500'),
      setSkeleton: p(`UPDATE users SET username_skeleton = ?1
                      WHERE id = ?2 AND username_skeleton IS NULL AND NOT EXISTS (SELECT 1 FROM users WHERE username_skeleton = ?1)`),
      probeWrite: p("INSERT INTO revoked_tokens (jti, expires_at) VALUES ('readiness-probe', 0) ON CONFLICT (jti) DO NOTHING"),
      probeClear: p("DELETE FROM revoked_tokens WHERE jti = 'readiness-probe'"),
      userByKey: p('SELECT * FROM users WHERE username_key = ?'),
      usersByIds: p('SELECT * FROM users WHERE id IN (SELECT value FROM json_each(?))'),
      revoke: p('INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING'),
      isRevoked: p('SELECT 1 FROM revoked_tokens WHERE jti = ?'),
      purgeRevoked: p('DELETE FROM revoked_tokens WHERE expires_at < ?'),
      conversationByKey: p('SELECT id FROM conversations WHERE pair_key = ?'),
      insertConversation: p(`INSERT INTO conversations (type, name, pair_key, member_count, created_at, updated_at)
                             VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
      insertMember: p(`INSERT INTO conversation_members (conversation_id, user_id, role, joined_at)
                       VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`),
      bumpMemberCount: p('UPDATE conversations SET member_count = member_count + ? WHERE id = ?'),
      insertGroup: p('INSERT INTO chat_groups (conversation_id, name, owner_id, created_at) VALUES (?, ?, ?, ?) RETURNING id'),
      setGroupId: p('UPDATE conversations SET group_id = ? WHERE id = ?'),
      groupById: p(`SELECT g.id, g.conversation_id, g.name, g.owner_id, g.created_at, c.member_count
                    FROM chat_groups g JOIN conversations c ON c.id = g.conversation_id WHERE g.id = ?`),
      groupMembers: p(`SELECT u.id, u.username, u.avatar, m.role, m.joined_at
                       FROM chat_groups g
                       JOIN conversation_members m ON m.conversation_id = g.conversation_id
                       JOIN users u ON u.id = m.user_id
                       WHERE g.id = ? ORDER BY m.joined_at, u.id`),
      conversationInfo: p('SELECT id, type, member_count, last_seq FROM conversations WHERE id = ?'),
      isMember: p('SELECT 1 FROM conversation_members WHERE conversation_id = ? AND user_id = ?'),
      memberIds: p('SELECT user_id FROM conversation_members WHERE conversation_id = ?'),
      listConversations: p(`${CONVERSATION_SELECT} WHERE m.user_id = ? ${CONVERSATION_ORDER}`),
      conversationsFirstPage: p(conversationPageSql(() => '?', false)),
      conversationsPageAfter: p(conversationPageSql(() => '?', true)),
      countConversations: p(conversationCountSql(() => '?')).pluck(),
      oneConversation: p(`${CONVERSATION_SELECT} WHERE m.user_id = ? AND m.conversation_id = ?`),
      messageByTemp: p(`SELECT * FROM messages WHERE conversation_id = ? AND sender_id = ? AND temp_message_id = ?`),
      // A resend (same sender, conversation and tempMessageId) inserts nothing: `changes` is 0.
      insertMessage: p(`INSERT INTO messages (conversation_id, seq_id, sender_id, sender_name, temp_message_id, content, message_type, send_time, wire)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (temp_message_id, sender_id, conversation_id) DO NOTHING`),
      setLastSeq: p('UPDATE conversations SET last_seq = ?, updated_at = ? WHERE id = ?'),
      advanceReadPointer: p(`UPDATE conversation_members SET last_read_seq = MAX(last_read_seq, ?)
                             WHERE conversation_id = ? AND user_id = ?`),
      // Raw rows of just the columns a Message needs: building a keyed object per row cost more than the query.
      messagesInRange: p(`SELECT id, sender_id, sender_name, content, message_type, seq_id, send_time
                          FROM messages WHERE conversation_id = ? AND seq_id >= ? AND seq_id <= ? ORDER BY seq_id`).raw(),
      // Each message's whole JSON, concatenated by SQLite (NULL for rows stored before migration 3):
      // one string per row instead of two values and a concatenation in JS.
      messageJsonInRange: p(`SELECT '{"messageId":"' || id || '",' || wire
                             FROM messages WHERE conversation_id = ? AND seq_id >= ? AND seq_id <= ? ORDER BY seq_id`).pluck(),
      lastSeq: p('SELECT last_seq FROM conversations WHERE id = ?'),
      markRead: p(`UPDATE conversation_members SET last_read_seq = MAX(last_read_seq, ?)
                   WHERE conversation_id = ? AND user_id = ? RETURNING last_read_seq`),
      ping: p('SELECT 1'),
      // Guest expiry. `is_guest = 1` is spelled out so SQLite uses the partial index guests_by_activity.
      touchGuest: p(`UPDATE users SET last_active_at = MAX(last_active_at, ?) WHERE id = ? AND is_guest = 1 AND last_active_at >= 0`),
      expirableGuests: p(`SELECT id FROM users WHERE is_guest = 1 AND last_active_at >= 0 AND last_active_at < ? AND created_at < ?
                          ORDER BY last_active_at LIMIT ?`).pluck(),
      expireGuest: p(`UPDATE users SET account_key = '', last_active_at = ${EXPIRED_GUEST_ACTIVITY} WHERE id = ?`),
      leaveConversation: p('DELETE FROM conversation_members WHERE conversation_id = ? AND user_id = ?'),
    };
  }

  async createUser(user: NewUser): Promise<User> {
    const now = Date.now();
    // An explicit transaction: in autocommit, `.get()` of INSERT … RETURNING hands back the row
    // before the commit, and a commit that fails (disk full) would go unnoticed.
    const row = this.write(() =>
      this.stmt.insertUser!.get(
        user.username,
        usernameKey(user.username),
        user.usernameSkeleton ?? null,
        user.passwordHash,
        user.isGuest ? 1 : 0,
        now,
        now,
        user.accountKey ?? newAccountKey(),
      ),
    ) as UserRow | undefined;
    if (!row) throw new AppError('USERNAME_TAKEN', `Username "${user.username}" is already taken or looks like one that is`);
    return toUser(row);
  }

  async findUserByUsername(username: string): Promise<UserRecord | null> {
    const row = this.stmt.userByKey!.get(usernameKey(username)) as UserRow | undefined;
    return row ? { ...toUser(row), passwordHash: row.password_hash ?? '', accountKey: row.account_key ?? '' } : null;
  }

  async getAccountAuth(userId: string, jti: string): Promise<AccountAuth | null> {
    const row = this.stmt.accountAuth!.get(jti, rowId(userId)) as { account_key: string; revoked: number } | undefined;
    return row ? { accountKey: row.account_key, revoked: row.revoked === 1 } : null;
  }

  async backfillUsernameSkeletons(skeleton: (username: string) => string): Promise<number> {
    let filled = 0;
    for (let after = 0; ; ) {
      const rows = this.stmt.usersWithoutSkeleton!.all(after) as Array<{ id: number; username: string }>;
      if (rows.length === 0) return filled;
      this.write(() => {
        for (const row of rows) filled += this.stmt.setSkeleton!.run(skeleton(row.username), row.id).changes;
      });
      after = rows.at(-1)!.id;
    }
  }

  async getUsers(ids: readonly string[]): Promise<User[]> {
    const numeric = [...new Set(ids.map(rowId).filter((id) => id > 0))];
    if (numeric.length === 0) return [];
    const rows = this.stmt.usersByIds!.all(JSON.stringify(numeric)) as UserRow[];
    return rows.map(toUser);
  }

  async revokeToken(jti: string, expiresAtMs: number): Promise<void> {
    this.write(() => {
      this.stmt.revoke!.run(jti, expiresAtMs);
      // Expired tokens fail verification anyway; keep the table small.
      this.stmt.purgeRevoked!.run(Date.now() - 60_000);
    });
  }

  async isTokenRevoked(jti: string): Promise<boolean> {
    return this.stmt.isRevoked!.get(jti) !== undefined;
  }

  async getOrCreateSingleConversation(userId: string, peerId: string): Promise<{ conversationId: string; created: boolean }> {
    const key = pairKey(userId, peerId);
    return this.write(() => {
      const existing = this.stmt.conversationByKey!.get(key) as { id: number } | undefined;
      if (existing) return { conversationId: String(existing.id), created: false };
      const now = Date.now();
      const { id } = this.stmt.insertConversation!.get('single', '', key, 2, now, now) as { id: number };
      this.stmt.insertMember!.run(id, rowId(userId), 'member', now);
      this.stmt.insertMember!.run(id, rowId(peerId), 'member', now);
      return { conversationId: String(id), created: true };
    });
  }

  async joinWorld(userId: string): Promise<string> {
    return this.write(() => {
      const now = Date.now();
      let row = this.stmt.conversationByKey!.get(WORLD_KEY) as { id: number } | undefined;
      row ??= this.stmt.insertConversation!.get('world', WORLD_NAME, WORLD_KEY, 0, now, now) as { id: number };
      const inserted = this.stmt.insertMember!.run(row.id, rowId(userId), 'member', now);
      if (inserted.changes === 1) this.stmt.bumpMemberCount!.run(1, row.id);
      return String(row.id);
    });
  }

  async touchGuest(userId: string, at: number): Promise<boolean> {
    return this.write(() => this.stmt.touchGuest!.run(at, rowId(userId)).changes === 1);
  }

  async expireGuests(inactiveBefore: number, limit: number): Promise<string[]> {
    // IMMEDIATE (as every write): the lock is taken before the read, so a second handle cannot pick the same guests.
    return this.write(() => {
      const ids = this.stmt.expirableGuests!.all(inactiveBefore, inactiveBefore, Math.max(0, limit)) as number[];
      if (ids.length === 0) return [];
      const world = this.stmt.conversationByKey!.get(WORLD_KEY) as { id: number } | undefined;
      let left = 0;
      for (const id of ids) {
        this.stmt.expireGuest!.run(id);
        if (world) left += this.stmt.leaveConversation!.run(world.id, id).changes;
      }
      if (world && left > 0) this.stmt.bumpMemberCount!.run(-left, world.id);
      return ids.map(String);
    });
  }

  async createGroup(group: NewGroup): Promise<{ groupId: string; conversationId: string }> {
    return this.write(() => {
      const now = Date.now();
      const memberCount = 1 + group.memberIds.length;
      const { id: conversationId } = this.stmt.insertConversation!.get('group', group.name, null, memberCount, now, now) as {
        id: number;
      };
      const { id: groupId } = this.stmt.insertGroup!.get(conversationId, group.name, rowId(group.ownerId), now) as { id: number };
      this.stmt.setGroupId!.run(groupId, conversationId);
      this.stmt.insertMember!.run(conversationId, rowId(group.ownerId), 'owner', now);
      for (const memberId of group.memberIds) this.stmt.insertMember!.run(conversationId, rowId(memberId), 'member', now);
      return { groupId: String(groupId), conversationId: String(conversationId) };
    });
  }

  async getGroup(groupId: string): Promise<Group | null> {
    const r = this.stmt.groupById!.get(rowId(groupId)) as
      | { id: number; conversation_id: number; name: string; owner_id: number; created_at: number; member_count: number }
      | undefined;
    if (!r) return null;
    return {
      groupId: String(r.id),
      conversationId: String(r.conversation_id),
      name: r.name,
      ownerId: String(r.owner_id),
      memberCount: r.member_count,
      createdAt: toIso(r.created_at),
    };
  }

  async getGroupMembers(groupId: string): Promise<GroupMember[]> {
    const rows = this.stmt.groupMembers!.all(rowId(groupId)) as Array<{
      id: number;
      username: string;
      avatar: string;
      role: GroupMember['role'];
      joined_at: number;
    }>;
    return rows.map((r) => ({ userId: String(r.id), username: r.username, avatar: r.avatar, role: r.role, joinedAt: toIso(r.joined_at) }));
  }

  async getConversationInfo(conversationId: string): Promise<ConversationInfo | null> {
    const r = this.stmt.conversationInfo!.get(rowId(conversationId)) as
      | { id: number; type: Conversation['type']; member_count: number; last_seq: number }
      | undefined;
    return r ? { conversationId: String(r.id), type: r.type, memberCount: r.member_count, lastSeq: r.last_seq } : null;
  }

  async isMember(conversationId: string, userId: string): Promise<boolean> {
    return this.stmt.isMember!.get(rowId(conversationId), rowId(userId)) !== undefined;
  }

  async getMemberIds(conversationId: string): Promise<string[]> {
    return (this.stmt.memberIds!.all(rowId(conversationId)) as Array<{ user_id: number }>).map((r) => String(r.user_id));
  }

  async getConversation(conversationId: string, userId: string): Promise<Conversation | null> {
    const row = this.stmt.oneConversation!.get(rowId(userId), rowId(conversationId)) as ConversationRow | undefined;
    return row ? toConversation(row) : null;
  }

  async listConversations(userId: string): Promise<Conversation[]> {
    return (this.stmt.listConversations!.all(rowId(userId)) as ConversationRow[]).map(toConversation);
  }

  async listConversationsPage(userId: string, query: ConversationListQuery): Promise<ConversationListPage> {
    const uid = rowId(userId);
    const limit = pageLimit(query.limit);
    // One read transaction: the page and its total come from the same snapshot.
    return this.db.transaction(() => {
      // One row more than the page tells whether another page follows.
      const rows = (
        query.after === null
          ? this.stmt.conversationsFirstPage!.all(uid, limit + 1)
          : this.stmt.conversationsPageAfter!.all(uid, query.after.updatedAt, rowId(query.after.conversationId), limit + 1)
      ) as ConversationRow[];
      const total = this.stmt.countConversations!.get(uid) as number;
      return { conversations: rows.slice(0, limit).map(toConversation), total, hasMore: rows.length > limit };
    })();
  }

  async appendMessages(batch: readonly NewMessage[]): Promise<AppendResult[]> {
    return this.writeWith(() => this.appendTx(batch));
  }

  /**
   * One INSERT per message; each conversation's last_seq and each sender's read pointer are
   * written once per batch. Runs inside one transaction, so seqIds stay gap-free.
   */
  private appendBatch(batch: readonly NewMessage[]): AppendResult[] {
    const conversations = new Map<number, { lastSeq: number; updatedAt: number; senders: Map<number, number> }>();
    const results = batch.map((m): AppendResult => {
      const conversationId = rowId(m.conversationId);
      const senderId = rowId(m.senderId);
      let state = conversations.get(conversationId);
      if (!state) {
        const row = this.stmt.lastSeq!.get(conversationId) as { last_seq: number } | undefined;
        if (!row) throw new AppError('CONVERSATION_NOT_FOUND');
        state = { lastSeq: row.last_seq, updatedAt: 0, senders: new Map() };
        conversations.set(conversationId, state);
      }
      const seqId = state.lastSeq + 1;
      const stored = storedMessage(m, seqId);
      const tail = encodeStoredMessageBody(stored);
      const inserted = this.stmt.insertMessage!.run(
        conversationId,
        seqId,
        senderId,
        m.senderName,
        m.tempMessageId,
        m.content,
        m.messageType,
        m.sendTime,
        tail,
      );
      if (inserted.changes === 0) {
        const message = toMessage(this.stmt.messageByTemp!.get(conversationId, senderId, m.tempMessageId) as MessageRow);
        return { message, duplicate: true };
      }
      state.lastSeq = seqId;
      state.updatedAt = m.sendTime;
      state.senders.set(senderId, seqId);
      const messageId = String(inserted.lastInsertRowid);
      return { duplicate: false, message: withStoredEncoding({ messageId, ...stored }, tail) };
    });
    for (const [conversationId, state] of conversations) {
      if (state.updatedAt === 0) continue;
      this.stmt.setLastSeq!.run(state.lastSeq, state.updatedAt, conversationId);
      for (const [senderId, seqId] of state.senders) this.stmt.advanceReadPointer!.run(seqId, conversationId, senderId);
    }
    return results;
  }

  /** The conversation's row id, its newest seqId and the seq range `query` selects. */
  private pageRange(conversationId: string, query: HistoryQuery) {
    const id = rowId(conversationId);
    const last = (this.stmt.lastSeq!.get(id) as { last_seq: number } | undefined)?.last_seq ?? 0;
    return { id, last, range: historyRange(query, last) };
  }

  private getMessagesFromColumns(conversationId: string, query: HistoryQuery): HistoryPage {
    const { id, last, range } = this.pageRange(conversationId, query);
    const rows = range.empty ? [] : (this.stmt.messagesInRange!.all(id, range.from, range.to) as HistoryRow[]);
    const messages = rows.map(
      ([messageId, senderId, senderName, content, messageType, seqId, sendTime]): Message => ({
        messageId: String(messageId),
        conversationId,
        senderId: String(senderId),
        senderName,
        content,
        messageType: messageType as MessageType,
        seqId,
        sendTime: toIso(sendTime),
      }),
    );
    return { messages: MessageList.of(messages), total: last, hasMore: range.hasMore };
  }

  async getMessages(conversationId: string, query: HistoryQuery): Promise<HistoryPage> {
    const { id, last, range } = this.pageRange(conversationId, query);
    const messages = range.empty ? [] : (this.stmt.messageJsonInRange!.all(id, range.from, range.to) as (string | null)[]);
    // Stored before migration 3: build the page from the columns.
    if (messages.includes(null)) return this.getMessagesFromColumns(conversationId, query);
    return { messages: MessageList.ofEncoded(messages as string[]), total: last, hasMore: range.hasMore };
  }

  async markRead(conversationId: string, userId: string): Promise<ReadResult> {
    const id = rowId(conversationId);
    return this.write(() => {
      const last = (this.stmt.lastSeq!.get(id) as { last_seq: number } | undefined)?.last_seq ?? 0;
      const row = this.stmt.markRead!.get(last, id, rowId(userId)) as { last_read_seq: number } | undefined;
      const lastReadSeq = row?.last_read_seq ?? 0;
      return { conversationId, lastReadSeq, unreadCount: Math.max(0, last - lastReadSeq) };
    });
  }

  /**
   * Runs `work` in one transaction (BEGIN IMMEDIATE … COMMIT): it returns only once the commit
   * succeeded. A store that cannot write (disk full, I/O error, read-only, corrupt) answers
   * SERVICE_UNAVAILABLE, which clients may retry, and readiness reports it until a write succeeds.
   */
  private write<T>(work: () => T): T {
    return this.writeWith(this.db.transaction(work).immediate);
  }

  /** `write` for a transaction function prepared once (the append path). */
  private writeWith<T>(committed: () => T): T {
    try {
      const result = committed();
      this.writeError = null;
      return result;
    } catch (err) {
      throw this.storageFailure(err);
    }
  }

  /** Maps SQLite's "cannot write" errors to SERVICE_UNAVAILABLE and remembers them for readiness. */
  private storageFailure(err: unknown): unknown {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string' || !UNWRITABLE.test(code)) return err;
    if (/^SQLITE_(CORRUPT|NOTADB)/.test(code)) this.integrityError ??= code;
    this.writeError = code;
    return new AppError('SERVICE_UNAVAILABLE', 'Storage cannot write right now; try again later', undefined, { cause: err });
  }

  async ping(): Promise<void> {
    if (this.integrityError) throw new Error(`database failed its integrity check (${this.integrityError})`);
    const now = Date.now();
    // A real write, at most once a second: readiness must notice a full disk before a client does.
    if (now - this.probedAt >= PROBE_INTERVAL_MS) {
      this.probedAt = now;
      try {
        this.write(() => {
          this.stmt.probeWrite!.run();
          this.stmt.probeClear!.run();
        });
      } catch {
        // writeError now holds the reason
      }
    }
    if (this.writeError) throw new Error(`storage cannot write (${this.writeError})`);
    this.stmt.ping!.get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
