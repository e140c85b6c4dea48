/**
 * The one SQL store: every Repo method written once, over a driver (driver.ts) and a dialect's
 * statements (statements.ts). `SqliteRepo` and `PostgresRepo` only bind a dialect to it.
 *
 * Transaction bodies are generators that yield their statements (see driver.ts): SQLite runs a
 * body synchronously from BEGIN to COMMIT, so no other request's code can run inside it.
 */
import { randomBytes } from 'node:crypto';
import { AppError } from '../../protocol/index.js';
import type { Conversation, Group, GroupMember, Message, ReadResult, User } from '../../protocol/index.js';
import { unobserved, type OperationObserver } from '../../ports/observer.js';
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
import { historyRange, pairKey, storedMessage, usernameKey, WORLD_KEY, WORLD_NAME } from '../shared.js';
import {
  flag,
  pageLimit,
  rowId,
  toConversation,
  toConversationInfo,
  toGroup,
  toGroupMember,
  toHistoryMessage,
  toMessage,
  toUser,
  toUserRecord,
  type AccountAuthRow,
  type ConversationInfoRow,
  type ConversationRow,
  type GroupMemberRow,
  type GroupRow,
  type HistoryRow,
  type MessageRow,
  type UserRow,
} from '../rows.js';
import { sql, type SqlDriver, type Step } from './driver.js';
import { MessageList } from '../../protocol/index.js';
import { encodeStoredMessageBody, withStoredEncoding } from '../../protocol/stored-encoding.js';
import type { SqlDialect, Statements } from './statements.js';

/** An integer column as either driver returns it. */
type Int = number | string;

type StoredMessageRow = MessageRow & { temp_message_id: string };

const newAccountKey = (): string => randomBytes(16).toString('hex');

/** The idempotency key of a message; unambiguous because both ids are digits only. */
const messageKey = (conversationId: string, senderId: string, tempMessageId: string): string =>
  `${conversationId}\n${senderId}\n${tempMessageId}`;

/** A conversation of an append batch: its seq counter and who sent what in it. */
interface BatchConversation {
  lastSeq: number;
  updatedAt: number;
  /** Sender id → the seqId of its last new message in the batch (its read pointer's target). */
  senders: Map<string, number>;
}

/**
 * Finds in-batch repeats of a new message's key without building a key string per message: by
 * tempMessageId first (a string the message already has), fully keyed only when two new messages
 * share a tempMessageId but not their conversation and sender.
 */
class FirstOccurrences {
  private readonly byTemp = new Map<string, number>();
  private byKey: Map<string, number> | null = null;

  constructor(
    private readonly conversationIds: readonly string[],
    private readonly senderIds: readonly string[],
  ) {}

  /** The batch index of the first new message with message `i`'s key, or -1 (then `i` is that first one). */
  claim(i: number, tempMessageId: string): number {
    const j = this.byTemp.get(tempMessageId);
    if (j === undefined) {
      this.byTemp.set(tempMessageId, i);
      return -1;
    }
    const conversationId = this.conversationIds[i]!;
    const senderId = this.senderIds[i]!;
    if (this.conversationIds[j] === conversationId && this.senderIds[j] === senderId) return j;
    this.byKey ??= new Map();
    const key = messageKey(conversationId, senderId, tempMessageId);
    const k = this.byKey.get(key);
    if (k !== undefined) return k;
    this.byKey.set(key, i);
    return -1;
  }
}

export class SqlRepo implements Repo {
  private readonly s: Statements;
  /** Rows keep their message's JSON tail (`messages.wire`, SQLite): pages are spliced from it. */
  private readonly storesWire: boolean;

  constructor(
    private readonly driver: SqlDriver,
    private readonly dialect: SqlDialect,
    observe: OperationObserver = unobserved,
  ) {
    this.s = dialect.statements;
    this.storesWire = this.s.messageJsonInRange !== null;
    if (observe !== unobserved) observeEveryMethod(this, observe);
  }

  async createUser(user: NewUser): Promise<User> {
    const now = Date.now();
    const row = await this.driver.writeOne(
      sql.row<UserRow>(this.s.insertUser, [
        user.username,
        usernameKey(user.username),
        user.usernameSkeleton ?? null,
        user.passwordHash,
        this.dialect.flag(user.isGuest),
        now,
        user.accountKey ?? newAccountKey(),
      ]),
    );
    if (!row) throw new AppError('USERNAME_TAKEN', `Username "${user.username}" is already taken or looks like one that is`);
    return toUser(row);
  }

  async findUserByUsername(username: string): Promise<UserRecord | null> {
    const row = await this.driver.read(() => sql.row<UserRow>(this.s.userByKey, [usernameKey(username)]));
    return row ? toUserRecord(row) : null;
  }

  async getAccountAuth(userId: string, jti: string): Promise<AccountAuth | null> {
    const id = rowId(userId);
    if (id === null) return null;
    const row = await this.driver.read(() => sql.row<AccountAuthRow>(this.s.accountAuth, [jti, id]));
    return row ? { accountKey: row.account_key, revoked: flag(row.revoked) } : null;
  }

  async backfillUsernameSkeletons(skeleton: (username: string) => string): Promise<number> {
    let filled = 0;
    for (let after = '0'; ; ) {
      const rows = await this.driver.read(() => sql.rows<{ id: Int; username: string }>(this.s.usersWithoutSkeleton, [after]));
      if (rows.length === 0) return filled;
      filled += await this.fillSkeletons(rows, skeleton);
      after = String(rows.at(-1)!.id);
    }
  }

  /** One batch of the backfill in one transaction (one fsync on SQLite, not one per account). */
  private async fillSkeletons(rows: ReadonlyArray<{ id: Int; username: string }>, skeleton: (username: string) => string): Promise<number> {
    const s = this.s;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.driver.write(function* () {
          let filled = 0;
          for (const row of rows) filled += yield* sql.run(s.setSkeleton, [skeleton(row.username), String(row.id)]);
          return filled;
        });
      } catch (err) {
        // Another process (PostgreSQL) gave the same skeleton to another account meanwhile: run the
        // batch again; its NOT EXISTS now sees that account and skips this one.
        if (attempt < 3 && this.dialect.isUniqueViolation(err)) continue;
        throw err;
      }
    }
  }

  async getUsers(ids: readonly string[]): Promise<User[]> {
    const valid = [...new Set(ids.map(rowId).filter((id): id is string => id !== null))];
    if (valid.length === 0) return [];
    const rows = await this.driver.read(() => sql.rowsEach<UserRow>(this.s.usersByIds, [valid]));
    return rows.map(toUser);
  }

  async revokeToken(jti: string, expiresAtMs: number): Promise<void> {
    const s = this.s;
    await this.driver.write(function* () {
      yield* sql.run(s.revoke, [jti, expiresAtMs]);
      // Expired tokens fail verification anyway; keep the table small.
      yield* sql.run(s.purgeRevoked, [Date.now() - 60_000]);
    });
  }

  async isTokenRevoked(jti: string): Promise<boolean> {
    return (await this.driver.read(() => sql.row(this.s.isRevoked, [jti]))) !== undefined;
  }

  async getOrCreateSingleConversation(userId: string, peerId: string): Promise<{ conversationId: string; created: boolean }> {
    const key = pairKey(userId, peerId);
    const existing = await this.driver.read(() => sql.row<{ id: Int }>(this.s.conversationByKey, [key]));
    if (existing) return { conversationId: String(existing.id), created: false };
    const s = this.s;
    return this.driver.write(function* () {
      const now = Date.now();
      const inserted = yield* sql.row<{ id: Int }>(s.insertKeyedConversation, ['single', '', key, 2, now]);
      if (!inserted) {
        // A concurrent creator of the pair committed first.
        const other = yield* sql.row<{ id: Int }>(s.conversationByKey, [key]);
        return { conversationId: String(other!.id), created: false };
      }
      const id = String(inserted.id);
      yield* sql.runEach(s.insertMembers, [[id, id], [rowId(userId), rowId(peerId)], ['member', 'member'], [now, now]]);
      return { conversationId: id, created: true };
    });
  }

  async joinWorld(userId: string): Promise<string> {
    const s = this.s;
    return this.driver.write(function* () {
      const now = Date.now();
      const world =
        (yield* sql.row<{ id: Int }>(s.conversationByKey, [WORLD_KEY])) ??
        (yield* sql.row<{ id: Int }>(s.insertKeyedConversation, ['world', WORLD_NAME, WORLD_KEY, 0, now])) ??
        // Created by a concurrent joiner (PostgreSQL) between the two statements above.
        (yield* sql.row<{ id: Int }>(s.conversationByKey, [WORLD_KEY]));
      const worldId = String(world!.id);
      const joined = yield* sql.runEach(s.insertMembers, [[worldId], [rowId(userId)], ['member'], [now]]);
      if (joined === 1) yield* sql.run(s.bumpMemberCount, [1, worldId]);
      return worldId;
    });
  }

  async touchGuest(userId: string, at: number): Promise<boolean> {
    const id = rowId(userId);
    if (id === null) return false;
    return (await this.driver.writeOne(sql.run(this.s.touchGuest, [id, at]))) === 1;
  }

  async expireGuests(inactiveBefore: number, limit: number): Promise<string[]> {
    const s = this.s;
    return this.driver.write(function* () {
      const ids = (yield* sql.values<Int>(s.expirableGuests, [inactiveBefore, Math.max(0, limit)])).map(String);
      if (ids.length === 0) return [];
      yield* sql.runEach(s.expireGuests, [ids]);
      const world = yield* sql.row<{ id: Int }>(s.conversationByKey, [WORLD_KEY]);
      if (world) {
        const worldId = String(world.id);
        const left = yield* sql.runEach(s.leaveConversation, [ids.map(() => worldId), ids]);
        if (left > 0) yield* sql.run(s.bumpMemberCount, [-left, worldId]);
      }
      return ids;
    });
  }

  async createGroup(group: NewGroup): Promise<{ groupId: string; conversationId: string }> {
    const s = this.s;
    const ownerId = rowId(group.ownerId);
    const members = [ownerId, ...group.memberIds.map(rowId)];
    return this.driver.write(function* () {
      const now = Date.now();
      const conversation = yield* sql.row<{ id: Int }>(s.insertGroupConversation, [group.name, members.length, now]);
      const conversationId = String(conversation!.id);
      const inserted = yield* sql.row<{ id: Int }>(s.insertGroup, [conversationId, group.name, ownerId, now]);
      const groupId = String(inserted!.id);
      yield* sql.run(s.setGroupId, [groupId, conversationId]);
      yield* sql.runEach(s.insertMembers, [
        members.map(() => conversationId),
        members,
        members.map((_, i) => (i === 0 ? 'owner' : 'member')),
        members.map(() => now),
      ]);
      return { groupId, conversationId };
    });
  }

  async getGroup(groupId: string): Promise<Group | null> {
    const id = rowId(groupId);
    if (id === null) return null;
    const row = await this.driver.read(() => sql.row<GroupRow>(this.s.groupById, [id]));
    return row ? toGroup(row) : null;
  }

  async getGroupMembers(groupId: string): Promise<GroupMember[]> {
    const id = rowId(groupId);
    if (id === null) return [];
    return (await this.driver.read(() => sql.rows<GroupMemberRow>(this.s.groupMembers, [id]))).map(toGroupMember);
  }

  async getConversationInfo(conversationId: string): Promise<ConversationInfo | null> {
    const id = rowId(conversationId);
    if (id === null) return null;
    const row = await this.driver.read(() => sql.row<ConversationInfoRow>(this.s.conversationInfo, [id]));
    return row ? toConversationInfo(row) : null;
  }

  async isMember(conversationId: string, userId: string): Promise<boolean> {
    const [cid, uid] = [rowId(conversationId), rowId(userId)];
    if (cid === null || uid === null) return false;
    return (await this.driver.read(() => sql.row(this.s.isMember, [cid, uid]))) !== undefined;
  }

  async getMemberIds(conversationId: string): Promise<string[]> {
    const id = rowId(conversationId);
    if (id === null) return [];
    return (await this.driver.read(() => sql.values<Int>(this.s.memberIds, [id]))).map(String);
  }

  async getConversation(conversationId: string, userId: string): Promise<Conversation | null> {
    const [cid, uid] = [rowId(conversationId), rowId(userId)];
    if (cid === null || uid === null) return null;
    const row = await this.driver.read(() => sql.row<ConversationRow>(this.s.oneConversation, [uid, cid]));
    return row ? toConversation(row) : null;
  }

  async listConversations(userId: string): Promise<Conversation[]> {
    const uid = rowId(userId);
    if (uid === null) return [];
    return (await this.driver.read(() => sql.rows<ConversationRow>(this.s.listConversations, [uid]))).map(toConversation);
  }

  async listConversationsPage(userId: string, query: ConversationListQuery): Promise<ConversationListPage> {
    const uid = rowId(userId);
    if (uid === null) return { conversations: [], total: 0, hasMore: false };
    const limit = pageLimit(query.limit);
    const { after } = query;
    // One row more than the page tells whether another page follows. An id that is no row id
    // positions below every row of its instant. The page and its total are two reads, sent
    // together (a count taken a moment apart is still a count of the user's conversations).
    const [rows, [total]] = await Promise.all([
      this.driver.read(() =>
        after === null
          ? sql.rows<ConversationRow>(this.s.conversationsFirstPage, [uid, limit + 1])
          : sql.rows<ConversationRow>(this.s.conversationsPageAfter, [uid, after.updatedAt, rowId(after.conversationId) ?? '0', limit + 1]),
      ),
      this.driver.read(() => sql.values<Int>(this.s.countConversations, [uid])),
    ]);
    return { conversations: rows.slice(0, limit).map(toConversation), total: Number(total ?? 0), hasMore: rows.length > limit };
  }

  async appendMessages(batch: readonly NewMessage[]): Promise<AppendResult[]> {
    if (batch.length === 0) return [];
    return this.driver.write(() => this.append(batch));
  }

  /**
   * The append algorithm, a fixed number of statements whatever the batch size:
   * 1. lock the batch's conversation rows (in id order) and read their last_seq;
   * 2. find the batch's keys already stored — under the lock, so no writer can add one meanwhile;
   * 3. give each new message the next seqId of its conversation, in batch order (repeats of a key,
   *    stored or earlier in the batch, take none and resolve to the original), so seqIds stay
   *    1, 2, 3… with no gaps;
   * 4. insert the new rows as one set, then write each conversation's last_seq and each sender's
   *    read pointer once.
   */
  private *append(batch: readonly NewMessage[]): Step<AppendResult[]> {
    const s = this.s;
    const n = batch.length;
    const conversationIds: string[] = new Array<string>(n);
    const senderIds: string[] = new Array<string>(n);
    const tempIds: string[] = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const m = batch[i]!;
      const conversationId = rowId(m.conversationId);
      if (conversationId === null) throw new AppError('CONVERSATION_NOT_FOUND');
      const senderId = rowId(m.senderId);
      if (senderId === null) throw new Error('appendMessages: senderId is not a user id');
      conversationIds[i] = conversationId;
      senderIds[i] = senderId;
      tempIds[i] = m.tempMessageId;
    }

    const distinct = [...new Set(conversationIds)];
    const locked = yield* sql.rowsEach<{ id: Int; last_seq: Int }>(s.lockConversations, [distinct]);
    if (locked.length !== distinct.length) throw new AppError('CONVERSATION_NOT_FOUND');
    const conversations = new Map<string, BatchConversation>();
    for (const row of locked) conversations.set(String(row.id), { lastSeq: Number(row.last_seq), updatedAt: 0, senders: new Map() });

    const storedRows = yield* sql.rowsEach<StoredMessageRow>(s.storedMessages, [conversationIds, senderIds, tempIds]);
    const stored = storedRows.length === 0 ? null : new Map(storedRows.map((r) => [messageKey(String(r.conversation_id), String(r.sender_id), r.temp_message_id), r]));

    const results = new Array<AppendResult>(n);
    const firsts = new FirstOccurrences(conversationIds, senderIds);
    /** Batch index of each new message, and its row's columns. */
    const fresh: number[] = [];
    const freshMessages: Omit<Message, 'messageId'>[] = [];
    const columns = {
      conversationId: [] as string[],
      seqId: [] as number[],
      senderId: [] as string[],
      senderName: [] as string[],
      tempMessageId: [] as string[],
      content: [] as string[],
      messageType: [] as string[],
      sendTime: [] as number[],
      wire: [] as string[],
    };
    /** Pairs (index, index of the first with its key) of in-batch repeats, resolved after the insert. */
    const repeats: number[] = [];
    for (let i = 0; i < n; i++) {
      const m = batch[i]!;
      const conversationId = conversationIds[i]!;
      const senderId = senderIds[i]!;
      const original = stored?.get(messageKey(conversationId, senderId, m.tempMessageId));
      if (original) {
        const message = toMessage(original);
        results[i] = { message, duplicate: true };
        continue;
      }
      const first = firsts.claim(i, m.tempMessageId);
      if (first >= 0) {
        repeats.push(i, first);
        continue;
      }
      const conversation = conversations.get(conversationId)!;
      const seqId = ++conversation.lastSeq;
      conversation.updatedAt = m.sendTime;
      conversation.senders.set(senderId, seqId);
      const message = storedMessage(m, seqId);
      fresh.push(i);
      freshMessages.push(message);
      columns.conversationId.push(conversationId);
      columns.seqId.push(seqId);
      columns.senderId.push(senderId);
      columns.senderName.push(m.senderName);
      columns.tempMessageId.push(m.tempMessageId);
      columns.content.push(m.content);
      columns.messageType.push(m.messageType);
      columns.sendTime.push(m.sendTime);
      columns.wire.push(encodeStoredMessageBody(message));
    }

    if (fresh.length > 0) {
      const c = columns;
      const rowColumns = [c.conversationId, c.seqId, c.senderId, c.senderName, c.tempMessageId, c.content, c.messageType, c.sendTime];
      if (this.storesWire) rowColumns.push(c.wire);
      const ids = yield* sql.insertEach(s.insertMessages, rowColumns);
      for (let k = 0; k < fresh.length; k++) {
        const messageId = String(ids[k]);
        // The codec remembers the stored text as this value's encoding: the live frame reuses it.
        results[fresh[k]!] = { duplicate: false, message: withStoredEncoding({ messageId, ...freshMessages[k]! }, c.wire[k]!) };
      }

      const seqConversations: string[] = [];
      const seqIds: number[] = [];
      const updatedAts: number[] = [];
      const readConversations: string[] = [];
      const readers: string[] = [];
      const readSeqs: number[] = [];
      for (const [conversationId, conversation] of conversations) {
        if (conversation.senders.size === 0) continue;
        seqConversations.push(conversationId);
        seqIds.push(conversation.lastSeq);
        updatedAts.push(conversation.updatedAt);
        for (const [senderId, seqId] of conversation.senders) {
          readConversations.push(conversationId);
          readers.push(senderId);
          readSeqs.push(seqId);
        }
      }
      yield* sql.runEach(s.setLastSeqs, [seqConversations, seqIds, updatedAts]);
      yield* sql.runEach(s.advanceReadPointers, [readConversations, readers, readSeqs]);
    }

    for (let r = 0; r < repeats.length; r += 2) {
      const original = results[repeats[r + 1]!]!;
      results[repeats[r]!] = { message: original.message, duplicate: true };
    }
    return results;
  }

  private *historyFromColumns(id: string, conversationId: string, query: HistoryQuery): Step<HistoryPage> {
    const last = yield* this.lastSeq(id);
    const range = historyRange(query, last);
    const rows = range.empty ? [] : yield* sql.arrays<HistoryRow>(this.s.messagesInRange, [id, range.from, range.to]);
    return { messages: MessageList.of(rows.map((row) => toHistoryMessage(row, conversationId))), total: last, hasMore: range.hasMore };
  }

  private *lastSeq(id: string): Step<number> {
    const row = yield* sql.row<{ last_seq: Int }>(this.s.lastSeq, [id]);
    return Number(row?.last_seq ?? 0);
  }

  async getMessages(conversationId: string, query: HistoryQuery): Promise<HistoryPage> {
    const id = rowId(conversationId);
    if (id === null) return { messages: MessageList.of([]), total: 0, hasMore: false };
    return this.driver.read(() => this.history(id, conversationId, query));
  }

  /** A page from the encodings kept with the rows where the store keeps them, else from the columns. */
  private *history(id: string, conversationId: string, query: HistoryQuery): Step<HistoryPage> {
    const inRange = this.s.messageJsonInRange;
    if (inRange === null) return yield* this.historyFromColumns(id, conversationId, query);
    const last = yield* this.lastSeq(id);
    const range = historyRange(query, last);
    const parts = range.empty ? [] : yield* sql.values<string | null>(inRange, [id, range.from, range.to]);
    if (parts.includes(null)) {
      // Stored before the wire form was (SQLite migration 3): build the page from the columns.
      return yield* this.historyFromColumns(id, conversationId, query);
    }
    return { messages: MessageList.ofEncoded(parts as string[]), total: last, hasMore: range.hasMore };
  }

  async markRead(conversationId: string, userId: string): Promise<ReadResult> {
    const [cid, uid] = [rowId(conversationId), rowId(userId)];
    if (cid === null || uid === null) return { conversationId, lastReadSeq: 0, unreadCount: 0 };
    const row = await this.driver.writeOne(sql.row<{ last_read_seq: Int; last_seq: Int }>(this.s.markRead, [cid, uid]));
    const last = Number(row?.last_seq ?? 0);
    const lastReadSeq = Number(row?.last_read_seq ?? 0);
    return { conversationId, lastReadSeq, unreadCount: Math.max(0, last - lastReadSeq) };
  }

  async ping(): Promise<void> {
    await this.driver.ready();
  }

  async close(): Promise<void> {
    await this.driver.close();
  }
}

/** Every Repo method; the compiler checks the list against the interface, so none goes unobserved. */
const REPO_METHODS = Object.keys({
  createUser: 0,
  findUserByUsername: 0,
  getUsers: 0,
  revokeToken: 0,
  isTokenRevoked: 0,
  getAccountAuth: 0,
  backfillUsernameSkeletons: 0,
  getOrCreateSingleConversation: 0,
  joinWorld: 0,
  touchGuest: 0,
  expireGuests: 0,
  createGroup: 0,
  getGroup: 0,
  getGroupMembers: 0,
  getConversationInfo: 0,
  isMember: 0,
  getMemberIds: 0,
  getConversation: 0,
  listConversations: 0,
  listConversationsPage: 0,
  appendMessages: 0,
  getMessages: 0,
  markRead: 0,
  ping: 0,
  close: 0,
} satisfies Record<keyof Repo, 0>) as Array<keyof Repo>;

const outcomeOf = (err: unknown): string => (err instanceof AppError ? err.code : 'error');

/**
 * Reports every call of a Repo method to `observe`: its name, duration and outcome. Installed on
 * the instance only when someone observes, so an unobserved store pays nothing.
 */
function observeEveryMethod(repo: SqlRepo, observe: OperationObserver): void {
  for (const name of REPO_METHODS) {
    const method = repo[name] as (...args: unknown[]) => Promise<unknown>;
    const observed = (...args: unknown[]): Promise<unknown> => {
      const started = performance.now();
      return method.apply(repo, args).then(
        (result) => {
          observe(name, (performance.now() - started) / 1000, 'ok');
          return result;
        },
        (err: unknown) => {
          observe(name, (performance.now() - started) / 1000, outcomeOf(err));
          throw err;
        },
      );
    };
    Object.defineProperty(repo, name, { value: observed, configurable: true, writable: true });
  }
}
