/**
 * The one SQL store: every Repo method written once, over a driver (driver.ts) and a dialect's
 * statements (statements.ts). `SqliteRepo` and `PostgresRepo` only bind a dialect to it.
 *
 * Transaction bodies are generators that yield their statements (see driver.ts): SQLite runs a
 * body synchronously from BEGIN to COMMIT, so no other request's code can run inside it.
 */
import { randomBytes } from 'node:crypto';
import { AppError } from '../../protocol/index.js';
import type { Conversation, ConversationType, Group, GroupInfo, GroupMember, GroupRole, Message, MessageChangeItem, MyGroup, ReactionCount, Reactor, User } from '../../protocol/index.js';
import { unobserved, type OperationObserver } from '../../ports/observer.js';
import type {
  AccountAuth,
  AppendResult,
  ChangeItem,
  ChangePage,
  ConversationInfo,
  ConversationListPage,
  ConversationListQuery,
  GroupChange,
  GroupChangeResult,
  GroupSnapshot,
  HistoryPage,
  HistoryQuery,
  MembersPageQuery,
  MessageChange,
  MessageChangeResult,
  MessageTarget,
  NewGroup,
  NewMessage,
  NewUser,
  ReactorsQuery,
  ReadMark,
  ReadMarkResult,
  Repo,
  SettingsChange,
  StoredAppend,
  UserRecord,
} from '../index.js';
import { historyRange, metaOf, pairKey, storedMessage, toIso, usernameKey, withMeta, withoutMeta, WORLD_KEY, WORLD_NAME } from '../shared.js';
import { encodeSystemContent } from '../../protocol/system-content.js';
import {
  flag,
  pageLimit,
  rowId,
  toConversation,
  toConversationInfo,
  toGroup,
  toGroupMember,
  toMyGroup,
  toHistoryMessage,
  toMessage,
  toUser,
  toUserRecord,
  type AccountAuthRow,
  type ConversationInfoRow,
  type ConversationRow,
  type GroupMemberRow,
  type MyGroupRow,
  type GroupRow,
  type HistoryRow,
  type MessageRow,
  type UserRow,
} from '../rows.js';
import { sql, type SqlDriver, type Step } from './driver.js';
import { MessageList } from '../../protocol/index.js';
import { encodeStoredMessageBody, withStoredEncoding } from '../../protocol/stored-encoding.js';
import type { AppendInOne, RowKey, SqlDialect, Statements } from './statements.js';

/** An integer column as either driver returns it. */
type Int = number | string;
/** A boolean column as the driver returns it (SQLite 0/1, PostgreSQL true/false). */
type Flag = number | boolean;

type StoredMessageRow = MessageRow & { temp_message_id: string };

const newAccountKey = (): string => randomBytes(16).toString('hex');

/** The idempotency key of a message; unambiguous because both ids are digits only. */
const messageKey = (conversationId: RowKey, senderId: RowKey, tempMessageId: string): string =>
  `${conversationId}\n${senderId}\n${tempMessageId}`;

/** The row ids of an append batch's messages, by batch index. */
interface BatchKeys {
  conversationIds: RowKey[];
  senderIds: RowKey[];
}

/** What an append batch will store: see `SqlRepo.planAppend`. */
interface AppendPlan {
  /** By batch index; filled for resends of stored messages, the rest once inserted. */
  results: Array<AppendResult | undefined>;
  /** The conversations that get new messages. */
  conversations: Map<RowKey, BatchConversation>;
  /** The batch index of each new message, in insert order, with its message and stored encoding. */
  fresh: number[];
  freshMessages: Omit<Message, 'messageId'>[];
  wire: string[];
  /** The new rows, column by column, as `insertMessages` (or, with `withMeta`, `insertMessagesWithMeta`) takes them. */
  rowColumns: unknown[][];
  /** A new row has optional fields: the insert names meta and reply_to_seq too. */
  withMeta: boolean;
  /** Pairs (index, index of the first with its key) of in-batch repeats, resolved after the insert. */
  repeats: number[];
}

/** The batch indexes of the planned rows the insert skipped because their key was stored. */
function skippedRows(plan: AppendPlan, ids: ReadonlyArray<number | string | null>): number[] {
  const skipped: number[] = [];
  for (let k = 0; k < ids.length; k++) if (ids[k] === null) skipped.push(plan.fresh[k]!);
  return skipped;
}

/** The conversation row a group change locks. */
interface GroupLockRow {
  type: string;
  last_seq: Int;
  members_seq: Int;
  change_seq: Int;
  member_count: Int;
  name: string;
  avatar: string;
}

/** A conversation of an append batch as its locked row says: its last seqId and member-set version. */
interface LockedConversation {
  lastSeq: number;
  membersSeq: number;
}

/** A conversation of an append batch: its seq counter and who sent what in it. */
interface BatchConversation {
  lastSeq: number;
  updatedAt: number;
  /** Sender id → the seqId of its last new message in the batch (its read pointer's target). */
  senders: Map<RowKey, number>;
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
    private readonly conversationIds: readonly RowKey[],
    private readonly senderIds: readonly RowKey[],
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

  /**
   * A wire id as the dialect binds it (`SqlDialect.rowKey`), or null when it is not an id (then it
   * matches no row and is never sent to the database).
   */
  private readonly key: (id: string) => RowKey | null;

  constructor(
    private readonly driver: SqlDriver,
    private readonly dialect: SqlDialect,
    observe: OperationObserver = unobserved,
  ) {
    this.s = dialect.statements;
    const rowKey = dialect.rowKey;
    this.key = (id) => {
      const digits = rowId(id);
      return digits === null ? null : rowKey(digits);
    };
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
    const id = this.key(userId);
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
    const valid = [...new Set(ids.map(this.key).filter((id) => id !== null))];
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
    const members = [this.key(userId), this.key(peerId)];
    return this.driver.write(function* () {
      const now = Date.now();
      const inserted = yield* sql.row<{ id: Int }>(s.insertKeyedConversation, ['single', '', key, 2, now]);
      if (!inserted) {
        // A concurrent creator of the pair committed first.
        const other = yield* sql.row<{ id: Int }>(s.conversationByKey, [key]);
        return { conversationId: String(other!.id), created: false };
      }
      const id = String(inserted.id);
      yield* sql.runEach(s.insertMembers, [[id, id], members, ['member', 'member'], [now, now]]);
      return { conversationId: id, created: true };
    });
  }

  async joinWorld(userId: string): Promise<string> {
    const s = this.s;
    const member = this.key(userId);
    return this.driver.write(function* () {
      const now = Date.now();
      const world =
        (yield* sql.row<{ id: Int }>(s.conversationByKey, [WORLD_KEY])) ??
        (yield* sql.row<{ id: Int }>(s.insertKeyedConversation, ['world', WORLD_NAME, WORLD_KEY, 0, now])) ??
        // Created by a concurrent joiner (PostgreSQL) between the two statements above.
        (yield* sql.row<{ id: Int }>(s.conversationByKey, [WORLD_KEY]));
      const worldId = String(world!.id);
      const joined = yield* sql.runEach(s.insertMembers, [[worldId], [member], ['member'], [now]]);
      if (joined === 1) yield* sql.run(s.bumpMemberCount, [1, worldId]);
      return worldId;
    });
  }

  async touchGuest(userId: string, at: number): Promise<boolean> {
    const id = this.key(userId);
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
    const ownerId = this.key(group.ownerId);
    const members = [ownerId, ...group.memberIds.map(this.key)];
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

  async changeGroup(change: GroupChange): Promise<GroupChangeResult> {
    const cid = this.key(change.conversationId);
    if (cid === null) throw new AppError('CONVERSATION_NOT_FOUND');
    const actor = this.key(change.actorId);
    if (actor === null) throw new AppError('NOT_CONVERSATION_MEMBER');
    return this.driver.write(() => this.applyGroupChange(cid, actor, change));
  }

  private *applyGroupChange(cid: RowKey, actor: RowKey, change: GroupChange): Step<GroupChangeResult> {
    const s = this.s;
    const row = yield* sql.row<GroupLockRow>(s.lockGroup, [cid]);
    if (!row) throw new AppError('CONVERSATION_NOT_FOUND');
    const groupRow = row.type === 'group' ? yield* sql.row<{ owner_id: Int; description: string }>(s.groupRowOf, [cid]) : undefined;
    if (!groupRow) throw new AppError('NOT_GROUP_CONVERSATION');
    const memberRows = yield* sql.rows<{ user_id: Int; role: GroupRole; is_guest: Flag; username: string }>(s.groupMemberStates, [cid]);
    const members = new Map(memberRows.map((m) => [String(m.user_id), { role: m.role, isGuest: flag(m.is_guest), username: m.username }]));
    const before = [...members.keys()];
    const group: GroupSnapshot = { members, name: row.name, avatar: row.avatar, description: groupRow.description, maxMembers: change.maxMembers };
    const plan = change.decide(group);
    const membersSeq = Number(row.members_seq);
    if (!plan.event) return { message: null, membersSeq, recipients: before, added: [], removed: [], disbanded: false, items: [] };

    const seqId = Number(row.last_seq) + 1;
    const now = change.sendTime;
    // The system message, stored like any message (its key cannot meet a client's).
    const newMessage: NewMessage = {
      conversationId: change.conversationId,
      senderId: change.actorId,
      senderName: change.actorName,
      tempMessageId: `sys:${randomBytes(12).toString('hex')}`,
      content: encodeSystemContent(plan.event),
      messageType: 'system',
      sendTime: now,
    };
    const stored = storedMessage(newMessage, seqId);
    const wire = encodeStoredMessageBody(stored);
    const columns: unknown[][] = [[cid], [seqId], [actor], [newMessage.senderName], [newMessage.tempMessageId], [newMessage.content], ['system'], [now]];
    if (this.storesWire) columns.push([wire]);
    const [messageId] = yield* sql.insertEach(s.insertMessages, columns);
    if (messageId === null || messageId === undefined) throw new Error('changeGroup: the system message was not stored');

    const key = (userId: string) => this.key(userId)!;
    for (const { userId } of plan.added) yield* sql.run(s.joinGroup, [cid, key(userId), now, seqId - 1, seqId]);
    if (plan.disband) yield* sql.run(s.emptyGroup, [cid]);
    else for (const userId of plan.removed) yield* sql.run(s.leaveGroup, [cid, key(userId)]);
    for (const { userId, role } of plan.roles) yield* sql.run(s.setMemberRole, [cid, key(userId), role]);
    if (!plan.disband) yield* sql.run(s.setReadPointer, [cid, actor, seqId]);

    // What the group is now, and the items that changed, each taking the next changeSeq.
    const after = new Set(before);
    for (const userId of plan.removed) after.delete(userId);
    if (plan.disband) after.clear();
    for (const { userId } of plan.added) after.add(userId);
    const ownerId = plan.ownerId ?? String(groupRow.owner_id);
    const info = { name: plan.info?.name ?? row.name, avatar: plan.info?.avatar ?? row.avatar, description: plan.info?.description ?? groupRow.description };
    if (!plan.disband) {
      const owners = [...after].filter((userId) => (plan.roles.find((r) => r.userId === userId)?.role ?? members.get(userId)?.role ?? 'member') === 'owner');
      if (owners.length !== 1 || owners[0] !== ownerId) throw new Error(`changeGroup: the plan leaves ${owners.length} owners`);
    }
    const memberSetChanged = plan.added.length > 0 || plan.removed.length > 0 || plan.disband;
    const touched = [...new Set([...plan.added.map((u) => u.userId), ...plan.removed, ...plan.roles.map((r) => r.userId)])];
    let changeSeq = Number(row.change_seq);
    const items: ChangeItem[] = [];
    for (const userId of touched) {
      const view = after.has(userId) ? yield* sql.row<GroupMemberRow>(s.memberView, [cid, key(userId)]) : undefined;
      const member = view ? toGroupMember(view) : null;
      items.push({ changeSeq: ++changeSeq, kind: 'member', userId, member });
      yield* sql.run(s.upsertChange, [cid, 'member', userId, changeSeq, member === null ? null : JSON.stringify(member)]);
    }
    // The group item changes with its name, avatar, description, owner or member count; a role change
    // of someone who stays touches only that member's item.
    if (memberSetChanged || plan.ownerId !== undefined || plan.info !== undefined) {
      const groupItem = plan.disband ? null : { ...info, ownerId, memberCount: after.size };
      items.push({ changeSeq: ++changeSeq, kind: 'group', group: groupItem });
      yield* sql.run(s.upsertChange, [cid, 'group', '', changeSeq, groupItem === null ? null : JSON.stringify(groupItem)]);
    }

    yield* sql.run(s.setGroupRow, [cid, this.key(ownerId), info.name, info.description, plan.disband ? now : null]);
    const nextMembersSeq = memberSetChanged ? seqId : membersSeq;
    yield* sql.run(s.setGroupConversation, [cid, seqId, now, nextMembersSeq, changeSeq, after.size, info.name, info.avatar]);
    const message = withStoredEncoding({ messageId: String(messageId), ...stored }, wire);
    return {
      message,
      membersSeq: nextMembersSeq,
      recipients: [...new Set([...before, ...after])],
      added: plan.added.map((u) => u.userId),
      removed: plan.disband ? before : plan.removed,
      disbanded: plan.disband,
      items,
    };
  }

  async getChanges(conversationId: string, afterChange: number, limit: number, viewerId?: string): Promise<ChangePage> {
    const id = this.key(conversationId);
    if (id === null) return { items: [], total: 0 };
    const viewer = viewerId === undefined ? null : this.key(viewerId);
    const s = this.s;
    return this.driver.read(function* (): Step<ChangePage> {
      const rows = yield* sql.rows<{ change_seq: Int; kind: string; item_key: string; data: string | null }>(s.changesAfter, [id, afterChange, limit]);
      const count = yield* sql.row<{ total: Int }>(s.countChangesAfter, [id, afterChange]);
      const items = rows.map((r): ChangeItem => {
        const changeSeq = Number(r.change_seq);
        const data = r.data === null ? null : (JSON.parse(r.data) as unknown);
        if (r.kind === 'member') return { changeSeq, kind: 'member', userId: r.item_key, member: data as GroupMember | null };
        if (r.kind === 'message') return { changeSeq, kind: 'message', seqId: Number(r.item_key), message: data as Message };
        return { changeSeq, kind: 'group', group: data as GroupInfo | null };
      });
      const messageSeqs = items.flatMap((item) => (item.kind === 'message' ? [item.seqId] : []));
      if (viewer !== null && messageSeqs.length > 0) {
        const mine = yield* viewerReactions(s, id, viewer, Math.min(...messageSeqs), Math.max(...messageSeqs));
        for (const item of items) {
          const emojis = item.kind === 'message' ? mine.get(item.seqId) : undefined;
          if (emojis && item.kind === 'message') item.message = { ...item.message, myReactions: emojis };
        }
      }
      return { items, total: Number(count?.total ?? 0) };
    });
  }

  async getGroup(groupId: string): Promise<Group | null> {
    const id = this.key(groupId);
    if (id === null) return null;
    const row = await this.driver.read(() => sql.row<GroupRow>(this.s.groupById, [id]));
    return row ? toGroup(row) : null;
  }

  async getGroupMembers(groupId: string): Promise<GroupMember[]> {
    const id = this.key(groupId);
    if (id === null) return [];
    return (await this.driver.read(() => sql.rows<GroupMemberRow>(this.s.groupMembers, [id]))).map(toGroupMember);
  }

  async listMembersPage(conversationId: string, query: MembersPageQuery): Promise<{ members: GroupMember[]; total: number }> {
    const id = this.key(conversationId);
    if (id === null) return { members: [], total: 0 };
    const offset = (query.page - 1) * query.size;
    const [rows, [total]] = await Promise.all([
      this.driver.read(() =>
        query.role === undefined
          ? sql.rows<GroupMemberRow>(this.s.membersPage, [id, query.size, offset])
          : sql.rows<GroupMemberRow>(this.s.membersPageOfRole, [id, query.size, offset, query.role]),
      ),
      this.driver.read(() =>
        query.role === undefined ? sql.values<Int>(this.s.countMembers, [id]) : sql.values<Int>(this.s.countMembersOfRole, [id, query.role]),
      ),
    ]);
    return { members: rows.map(toGroupMember), total: Number(total ?? 0) };
  }

  async listGroups(userId: string): Promise<MyGroup[]> {
    const id = this.key(userId);
    if (id === null) return [];
    return (await this.driver.read(() => sql.rows<MyGroupRow>(this.s.myGroups, [id]))).map(toMyGroup);
  }

  async getConversationInfo(conversationId: string): Promise<ConversationInfo | null> {
    const id = this.key(conversationId);
    if (id === null) return null;
    const row = await this.driver.read(() => sql.row<ConversationInfoRow>(this.s.conversationInfo, [id]));
    return row ? toConversationInfo(row) : null;
  }

  async isMember(conversationId: string, userId: string): Promise<boolean> {
    const [cid, uid] = [this.key(conversationId), this.key(userId)];
    if (cid === null || uid === null) return false;
    return (await this.driver.read(() => sql.row(this.s.isMember, [cid, uid]))) !== undefined;
  }

  async getMember(conversationId: string, userId: string): Promise<GroupMember | null> {
    const [cid, uid] = [this.key(conversationId), this.key(userId)];
    if (cid === null || uid === null) return null;
    const row = await this.driver.read(() => sql.row<GroupMemberRow>(this.s.memberView, [cid, uid]));
    return row ? toGroupMember(row) : null;
  }

  async getMembersAt(conversationId: string): Promise<{ membersSeq: number; ids: string[] } | null> {
    const id = this.key(conversationId);
    if (id === null) return null;
    const rows = await this.driver.read(() => sql.rows<{ members_seq: Int; user_id: Int | null }>(this.s.membersAt, [id]));
    const [first] = rows;
    if (!first) return null;
    return { membersSeq: Number(first.members_seq), ids: rows.flatMap((r) => (r.user_id === null ? [] : [String(r.user_id)])) };
  }

  async systemMessagesBetween(conversationId: string, afterSeq: number, toSeq: number, limit: number): Promise<Array<{ seqId: number; senderId: string; content: string }>> {
    const id = this.key(conversationId);
    if (id === null || toSeq <= afterSeq) return [];
    const rows = await this.driver.read(() =>
      sql.rows<{ seq_id: Int; sender_id: Int; content: string }>(this.s.systemMessagesBetween, [id, afterSeq, toSeq, limit]),
    );
    return rows.map((r) => ({ seqId: Number(r.seq_id), senderId: String(r.sender_id), content: r.content }));
  }

  async getMemberIds(conversationId: string): Promise<string[]> {
    const id = this.key(conversationId);
    if (id === null) return [];
    return (await this.driver.read(() => sql.values<Int>(this.s.memberIds, [id]))).map(String);
  }

  async getConversation(conversationId: string, userId: string): Promise<Conversation | null> {
    const [cid, uid] = [this.key(conversationId), this.key(userId)];
    if (cid === null || uid === null) return null;
    const row = await this.driver.read(() => sql.row<ConversationRow>(this.s.oneConversation, [uid, cid]));
    return row ? toConversation(row) : null;
  }

  async listConversations(userId: string, options: { includeHidden?: boolean } = {}): Promise<Conversation[]> {
    const uid = this.key(userId);
    if (uid === null) return [];
    const statement = options.includeHidden ? this.s.listAllConversations : this.s.listConversations;
    return (await this.driver.read(() => sql.rows<ConversationRow>(statement, [uid]))).map(toConversation);
  }

  async updateSettings(conversationId: string, userId: string, change: SettingsChange): Promise<boolean> {
    const [cid, uid] = [this.key(conversationId), this.key(userId)];
    if (cid === null || uid === null) return false;
    const s = this.s;
    const flagOf = (value: boolean) => this.dialect.flag(value);
    return this.driver.write(function* () {
      const member = yield* sql.row(s.isMember, [cid, uid]);
      if (!member) return false;
      if (change.muted !== undefined) yield* sql.run(s.setMuted, [cid, uid, flagOf(change.muted)]);
      if (change.pinnedAt !== undefined) yield* sql.run(s.setPinnedAt, [cid, uid, change.pinnedAt]);
      if (change.hidden !== undefined) yield* sql.run(change.hidden ? s.hideAtLastSeq : s.unhide, [cid, uid]);
      return true;
    });
  }

  async listConversationsPage(userId: string, query: ConversationListQuery): Promise<ConversationListPage> {
    const uid = this.key(userId);
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
          : sql.rows<ConversationRow>(this.s.conversationsPageAfter, [uid, after.pinned ? 1 : 0, after.updatedAt, this.key(after.conversationId) ?? '0', limit + 1]),
      ),
      this.driver.read(() => sql.values<Int>(this.s.countConversations, [uid])),
    ]);
    return { conversations: rows.slice(0, limit).map(toConversation), total: Number(total ?? 0), hasMore: rows.length > limit };
  }

  async appendMessages(batch: readonly NewMessage[]): Promise<AppendResult[]> {
    if (batch.length === 0) return [];
    const inOne = this.dialect.appendInOne;
    // A reply's quote is checked under the lock (withCurrentQuotes): the general algorithm takes it first.
    if (inOne !== null && !this.storesWire && !batch.some((m) => m.replyTo !== undefined)) {
      const results = await this.appendAllNew(batch, inOne);
      if (results !== null) return results;
    }
    return this.driver.write(() => this.append(batch));
  }

  /**
   * The common batch, every message new, in the dialect's one statement; null, with nothing
   * changed, when it was not (a resend, a repeat within the batch, a missing conversation): the
   * general algorithm then appends the batch. The results are the general algorithm's: its plan,
   * made from the last_seq each conversation had before the batch, numbers the messages as the
   * statement did (checked).
   */
  private async appendAllNew(batch: readonly NewMessage[], inOne: AppendInOne): Promise<AppendResult[] | null> {
    const n = batch.length;
    const keys = this.batchKeys(batch);
    const columns: unknown[][] = [keys.conversationIds, keys.senderIds, [], [], [], [], [], [], [], []];
    for (const m of batch) {
      columns[2]!.push(m.senderName);
      columns[3]!.push(m.tempMessageId);
      columns[4]!.push(m.content);
      columns[5]!.push(m.messageType);
      columns[6]!.push(m.sendTime);
      columns[7]!.push(m.membersSeq ?? 0);
      columns[8]!.push(newMessageMeta(m));
      columns[9]!.push(m.replyTo?.seqId ?? null);
    }
    let rows: Array<[Int, Int]>;
    try {
      rows = await this.driver.writeOne(sql.arrays<[Int, Int]>(inOne.sql, [...columns, n]));
    } catch (err) {
      if (inOne.isIncomplete(err)) return null;
      throw err;
    }
    if (rows.length !== n) return null;
    const locked = new Map<RowKey, LockedConversation>();
    // A conversation's first message in the batch has its lowest seqId; every send's version matched.
    for (let i = 0; i < n; i++) {
      const conversationId = keys.conversationIds[i]!;
      if (!locked.has(conversationId)) locked.set(conversationId, { lastSeq: Number(rows[i]![0]) - 1, membersSeq: batch[i]!.membersSeq ?? 0 });
    }
    const plan = this.planAppend(batch, keys, locked, null);
    const { results, freshMessages, wire } = plan;
    for (let i = 0; i < n; i++) {
      if (freshMessages[i]!.seqId !== Number(rows[i]![0])) throw new Error('appendMessages: the one-statement append numbered a message otherwise');
      results[i] = { duplicate: false, message: withStoredEncoding({ messageId: String(rows[i]![1]), ...freshMessages[i]! }, wire[i]!) };
    }
    return results as AppendResult[];
  }

  private batchKeys(batch: readonly NewMessage[]): BatchKeys {
    const n = batch.length;
    const keys: BatchKeys = { conversationIds: new Array<RowKey>(n), senderIds: new Array<RowKey>(n) };
    for (let i = 0; i < n; i++) {
      const m = batch[i]!;
      const conversationId = this.key(m.conversationId);
      if (conversationId === null) throw new AppError('CONVERSATION_NOT_FOUND');
      const senderId = this.key(m.senderId);
      if (senderId === null) throw new Error('appendMessages: senderId is not a user id');
      keys.conversationIds[i] = conversationId;
      keys.senderIds[i] = senderId;
    }
    return keys;
  }

  /**
   * The append algorithm, a fixed number of statements whatever the batch size:
   * 1. lock the batch's conversation rows (in id order) and read their last_seq;
   * 2. give each message the next seqId of its conversation, in batch order;
   * 3. insert the rows as one set, skipping any whose key is already stored (a resend, or a repeat
   *    of a key earlier in the batch);
   * 4. then write each conversation's last_seq and each sender's read pointer once.
   * Resends are rare, so the common batch is never looked up first. When step 3 skipped a row, the
   * seqIds planned after it would leave a gap: the batch's rows are deleted again, the skipped keys
   * read (under the lock, so no writer can add one meanwhile), and steps 2–3 run once more knowing
   * them, a repeat within the batch now taking no seqId and resolving to its first — three more
   * statements, still whatever the batch size. So seqIds stay 1, 2, 3… with no gaps.
   */
  private *append(sends: readonly NewMessage[]): Step<AppendResult[]> {
    const s = this.s;
    const keys = this.batchKeys(sends);

    const distinct = [...new Set(keys.conversationIds)];
    const lockedRows = yield* sql.rowsEach<{ id: Int; last_seq: Int; members_seq: Int }>(s.lockConversations, [distinct]);
    if (lockedRows.length !== distinct.length) throw new AppError('CONVERSATION_NOT_FOUND');
    const locked = new Map<RowKey, LockedConversation>();
    for (const row of lockedRows) locked.set(this.key(String(row.id))!, { lastSeq: Number(row.last_seq), membersSeq: Number(row.members_seq) });
    const batch = yield* this.withCurrentQuotes(sends, keys);

    let plan = this.planAppend(batch, keys, locked, null);
    let ids = yield* sql.insertEach(plan.withMeta ? s.insertMessagesWithMeta : s.insertMessages, plan.rowColumns);
    const skipped = skippedRows(plan, ids);
    if (skipped.length > 0) {
      const inserted = ids.filter((id) => id !== null);
      if (inserted.length > 0) yield* sql.runEach(s.deleteMessages, [inserted]);
      const storedRows = yield* sql.rowsEach<StoredMessageRow>(s.storedMessages, [
        skipped.map((i) => keys.conversationIds[i]),
        skipped.map((i) => keys.senderIds[i]),
        skipped.map((i) => batch[i]!.tempMessageId),
      ]);
      const stored = new Map(storedRows.map((r) => [messageKey(this.key(String(r.conversation_id))!, this.key(String(r.sender_id))!, r.temp_message_id), r]));
      plan = this.planAppend(batch, keys, locked, stored);
      ids = yield* sql.insertEach(plan.withMeta ? s.insertMessagesWithMeta : s.insertMessages, plan.rowColumns);
      if (skippedRows(plan, ids).length > 0) throw new Error('appendMessages: a message key was stored by another writer under the lock');
    }

    const { results, fresh, freshMessages, wire } = plan;
    for (let k = 0; k < fresh.length; k++) {
      const messageId = String(ids[k]);
      // The codec remembers the stored text as this value's encoding: the live frame reuses it.
      results[fresh[k]!] = { duplicate: false, message: withStoredEncoding({ messageId, ...freshMessages[k]! }, wire[k]!) };
    }
    if (fresh.length > 0) {
      const seqConversations: RowKey[] = [];
      const seqIds: number[] = [];
      const updatedAts: number[] = [];
      const readConversations: RowKey[] = [];
      const readers: RowKey[] = [];
      const readSeqs: number[] = [];
      for (const [conversationId, conversation] of plan.conversations) {
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

    for (let r = 0; r < plan.repeats.length; r += 2) {
      const original = results[plan.repeats[r + 1]!] as StoredAppend;
      results[plan.repeats[r]!] = { message: original.message, duplicate: true };
    }
    return results as AppendResult[];
  }

  /**
   * The batch with each reply's snapshot as its target is now, under the conversation's lock: a
   * target recalled after logic took the snapshot (and before this commit) is quoted as recalled,
   * so no preview of recalled content is ever stored. Replies are few: one probe each.
   */
  private *withCurrentQuotes(batch: readonly NewMessage[], keys: BatchKeys): Step<readonly NewMessage[]> {
    if (!batch.some((m) => m.replyTo !== undefined)) return batch;
    const out = [...batch];
    for (let i = 0; i < out.length; i++) {
      const m = out[i]!;
      if (m.replyTo === undefined) continue;
      const [meta] = yield* sql.values<string | null>(this.s.metaOfSeq, [keys.conversationIds[i], m.replyTo.seqId]);
      if (meta && (JSON.parse(meta) as { recalledAt?: string }).recalledAt !== undefined) {
        const { preview: _preview, recalled: _recalled, ...snapshot } = m.replyTo;
        out[i] = { ...m, replyTo: { ...snapshot, preview: '', recalled: true } };
      }
    }
    return out;
  }

  /**
   * Step 2 of the append: which messages are new, their seqIds and rows. A send checked at a
   * member-set version other than its locked conversation's is stale: not stored, not numbered,
   * not even looked up as a resend. `stored` holds the batch's keys already stored, which resolve
   * to the stored message, and makes repeats within the batch resolve to their first; null on the
   * first attempt: assume every message is new.
   */
  private planAppend(
    batch: readonly NewMessage[],
    keys: BatchKeys,
    locked: ReadonlyMap<RowKey, LockedConversation>,
    stored: ReadonlyMap<string, StoredMessageRow> | null,
  ): AppendPlan {
    const n = batch.length;
    const { conversationIds, senderIds } = keys;
    const results = new Array<AppendResult | undefined>(n);
    const conversations = new Map<RowKey, BatchConversation>();
    // Repeats within the batch are looked for only when planning again: the first insert skips them like resends.
    const firsts = stored === null ? null : new FirstOccurrences(conversationIds, senderIds);
    const fresh: number[] = [];
    const freshMessages: Omit<Message, 'messageId'>[] = [];
    const seqIds: number[] = [];
    const senderNames: string[] = [];
    const tempIds: string[] = [];
    const contents: string[] = [];
    const types: string[] = [];
    const sendTimes: number[] = [];
    const wire: string[] = [];
    // Filled only once a message has optional fields: a batch of plain messages binds two columns fewer per row.
    let metas: Array<string | null> | null = null;
    let replySeqs: Array<number | null> | null = null;
    const freshConversations: RowKey[] = [];
    const freshSenders: RowKey[] = [];
    const repeats: number[] = [];
    for (let i = 0; i < n; i++) {
      const m = batch[i]!;
      const conversationId = conversationIds[i]!;
      const senderId = senderIds[i]!;
      const { lastSeq, membersSeq } = locked.get(conversationId)!;
      if ((m.membersSeq ?? 0) !== membersSeq) {
        results[i] = { stale: true, membersSeq };
        continue;
      }
      if (firsts !== null) {
        const original = stored!.get(messageKey(conversationId, senderId, m.tempMessageId));
        if (original) {
          results[i] = { message: toMessage(original), duplicate: true };
          continue;
        }
        const first = firsts.claim(i, m.tempMessageId);
        if (first >= 0) {
          repeats.push(i, first);
          continue;
        }
      }
      let conversation = conversations.get(conversationId);
      if (conversation === undefined) {
        conversation = { lastSeq, updatedAt: 0, senders: new Map() };
        conversations.set(conversationId, conversation);
      }
      const seqId = ++conversation.lastSeq;
      conversation.updatedAt = m.sendTime;
      conversation.senders.set(senderId, seqId);
      const message = storedMessage(m, seqId);
      fresh.push(i);
      freshMessages.push(message);
      freshConversations.push(conversationId);
      seqIds.push(seqId);
      freshSenders.push(senderId);
      senderNames.push(m.senderName);
      tempIds.push(m.tempMessageId);
      contents.push(m.content);
      types.push(m.messageType);
      sendTimes.push(m.sendTime);
      wire.push(encodeStoredMessageBody(message));
      if (metas === null && (m.replyTo !== undefined || m.extra !== undefined)) {
        metas = new Array<string | null>(fresh.length - 1).fill(null);
        replySeqs = new Array<number | null>(fresh.length - 1).fill(null);
      }
      if (metas !== null) {
        metas.push(newMessageMeta(m));
        replySeqs!.push(m.replyTo?.seqId ?? null);
      }
    }
    const rowColumns: unknown[][] = [freshConversations, seqIds, freshSenders, senderNames, tempIds, contents, types, sendTimes];
    if (this.storesWire) rowColumns.push(wire);
    if (metas !== null) rowColumns.push(metas, replySeqs!);
    return { results, conversations, fresh, freshMessages, wire, rowColumns, withMeta: metas !== null, repeats };
  }

  private *lastSeq(id: RowKey): Step<number> {
    const row = yield* sql.row<{ last_seq: Int }>(this.s.lastSeq, [id]);
    return Number(row?.last_seq ?? 0);
  }

  async getMessages(conversationId: string, query: HistoryQuery, viewerId?: string): Promise<HistoryPage> {
    const id = this.key(conversationId);
    if (id === null) return { messages: MessageList.of([]), total: 0, hasMore: false };
    const viewer = viewerId === undefined ? null : this.key(viewerId);
    return this.driver.read(() => this.history(id, conversationId, query, viewer));
  }

  /**
   * A page from the encodings kept with the rows where the store keeps them, else from the columns;
   * with a viewer, its own reactions added to the messages it reacted to (one more index range read).
   */
  private *history(id: RowKey, conversationId: string, query: HistoryQuery, viewer: RowKey | null): Step<HistoryPage> {
    const inRange = this.s.messageJsonInRange;
    const last = yield* this.lastSeq(id);
    const range = historyRange(query, last);
    const mine = viewer === null || range.empty ? null : yield* viewerReactions(this.s, id, viewer, range.from, range.to);
    const page = inRange === null ? null : yield* this.historyFromStoredText(inRange, id, range);
    if (page === null) {
      const rows = range.empty ? [] : yield* sql.arrays<HistoryRow>(this.s.messagesInRange, [id, range.from, range.to]);
      const messages = rows.map((row) => toHistoryMessage(row, conversationId));
      if (mine !== null && mine.size > 0) for (const message of messages) withMyReactions(message, mine.get(message.seqId));
      return { messages: MessageList.of(messages), total: last, hasMore: range.hasMore };
    }
    if (mine !== null && mine.size > 0) {
      // Messages are contiguous seqIds from range.from: the viewer's emojis go after the stored fields.
      for (const [seqId, emojis] of mine) {
        const k = seqId - range.from;
        const part = page[k];
        if (part !== undefined) page[k] = `${part.slice(0, -1)},"myReactions":${JSON.stringify(emojis)}}`;
      }
    }
    return { messages: MessageList.ofEncoded(page), total: last, hasMore: range.hasMore };
  }

  /** The page's kept encodings, or null when a row has none in today's format (then it is built from the columns). */
  private *historyFromStoredText(inRange: string, id: RowKey, range: ReturnType<typeof historyRange>): Step<string[] | null> {
    const parts = range.empty ? [] : yield* sql.values<string | null>(inRange, [id, range.from, range.to]);
    // Stored before the wire form was (SQLite migration 3), or in another format.
    return parts.includes(null) ? null : (parts as string[]);
  }

  async getMessage(messageId: string): Promise<Message | null> {
    const id = this.key(messageId);
    if (id === null) return null;
    const row = await this.driver.read(() => sql.row<MessageRow>(this.s.messageById, [id]));
    return row ? toMessage(row) : null;
  }

  async findSentMessage(conversationId: string, senderId: string, tempMessageId: string): Promise<Message | null> {
    const [cid, uid] = [this.key(conversationId), this.key(senderId)];
    if (cid === null || uid === null) return null;
    const [row] = await this.driver.read(() => sql.rowsEach<StoredMessageRow>(this.s.storedMessages, [[cid], [uid], [tempMessageId]]));
    return row ? toMessage(row) : null;
  }

  async changeMessage(change: MessageChange): Promise<MessageChangeResult> {
    const mid = this.key(change.messageId);
    const actor = this.key(change.actorId);
    if (mid === null || actor === null) throw new AppError('MESSAGE_NOT_FOUND');
    return this.driver.write(() => this.applyMessageChange(mid, actor, change));
  }

  private *applyMessageChange(mid: RowKey, actor: RowKey, change: MessageChange): Step<MessageChangeResult> {
    const s = this.s;
    const first = yield* sql.row<MessageRow>(s.messageById, [mid]);
    if (!first) throw new AppError('MESSAGE_NOT_FOUND');
    const cid = this.key(String(first.conversation_id))!;
    // The conversation's lock, then the message as it is under it (PostgreSQL: another writer may
    // have changed it between the two reads).
    const conversation = yield* sql.row<GroupLockRow>(s.lockGroup, [cid]);
    if (!conversation) throw new AppError('MESSAGE_NOT_FOUND');
    const row = (yield* sql.row<MessageRow>(s.messageById, [mid]))!;
    const before = toMessage(row);
    const seqId = before.seqId;
    const roleRow = yield* sql.row<{ role: GroupRole }>(s.memberRole, [cid, actor]);
    const myBefore = yield* sql.values<string>(s.reactionsOfUser, [cid, seqId, actor]);
    const target: MessageTarget = { message: before, conversationType: conversation.type as ConversationType, actorRole: roleRow?.role ?? null, myReactions: myBefore };
    const result = (message: Message, item: MessageChangeItem | null, myReactions: string[]): MessageChangeResult => ({
      message,
      conversationType: target.conversationType,
      membersSeq: Number(conversation.members_seq),
      item,
      myReactions,
    });
    const now = change.now();
    if (!change.decide(target, now)) return result(before, null, myBefore);

    const at = toIso(now);
    const { edit } = change;
    let after: Message;
    let myAfter = myBefore;
    let reaction: MessageChangeItem['reaction'];
    if (edit.kind === 'recall') {
      after = { ...withoutMeta(before), content: '', recalledAt: at, recalledBy: change.actorId };
      myAfter = [];
      yield* sql.run(s.deleteReactionsOf, [cid, seqId]);
      // Every reply's snapshot of it loses its preview: no answer quotes a recalled message.
      for (const reply of yield* sql.rows<MessageRow>(s.repliesTo, [cid, seqId])) {
        const quoted = toMessage(reply);
        if (!quoted.replyTo) continue;
        const { preview: _preview, recalled: _recalled, ...snapshot } = quoted.replyTo;
        const emptied: Message = { ...quoted, replyTo: { ...snapshot, preview: '', recalled: true } };
        yield* this.writeMessageState(emptied);
        // A reply's own change item (it was edited or reacted to) keeps its state as data: emptied
        // too, in place. Its changeSeq stays: devices learn of it from the recall's item.
        yield* sql.run(s.rewriteChangeData, [cid, 'message', String(quoted.seqId), JSON.stringify(emptied)]);
      }
    } else if (edit.kind === 'edit') {
      after = { ...before, content: edit.content, editedAt: at };
      // editedAt keeps its place among the optional fields (meta order), wherever it was set first.
      after = withMeta(withoutMeta(after), metaOf(after));
    } else {
      const changed = edit.add
        ? yield* sql.run(s.insertReaction, [cid, seqId, edit.emoji, actor, now])
        : yield* sql.run(s.deleteReaction, [cid, seqId, edit.emoji, actor]);
      if (changed === 0) return result(before, null, myBefore);
      const reactions = countReaction(before.reactions ?? [], edit.emoji, edit.add ? 1 : -1);
      const { reactions: _old, ...rest } = before;
      after = reactions.length > 0 ? withMeta(withoutMeta(rest), metaOf({ ...rest, reactions })) : withMeta(withoutMeta(rest), metaOf(rest));
      myAfter = edit.add ? [...myBefore, edit.emoji] : myBefore.filter((e) => e !== edit.emoji);
      reaction = { userId: change.actorId, emoji: edit.emoji, added: edit.add };
    }
    yield* this.writeMessageState(after);
    const changeSeq = Number(conversation.change_seq) + 1;
    yield* sql.run(s.setChangeSeq, [cid, changeSeq]);
    yield* sql.run(s.upsertChange, [cid, 'message', String(seqId), changeSeq, JSON.stringify(after)]);
    const item: MessageChangeItem = { changeSeq, kind: 'message', seqId, message: after };
    if (reaction !== undefined) item.reaction = reaction;
    return result(after, item, myAfter);
  }

  /** Writes a message's content and optional fields (and its stored wire form, where the store keeps one). */
  private *writeMessageState(message: Message): Step<void> {
    const { messageId, ...body } = message;
    const params: unknown[] = [this.key(messageId), message.content, metaOf(message)];
    if (this.storesWire) params.push(encodeStoredMessageBody(body));
    yield* sql.run(this.s.setMessageState, params);
  }

  async listReactions(conversationId: string, seqId: number, query: ReactorsQuery): Promise<{ reactors: Reactor[]; total: number }> {
    const id = this.key(conversationId);
    if (id === null) return { reactors: [], total: 0 };
    const s = this.s;
    const offset = (query.page - 1) * query.size;
    return this.driver.read(function* () {
      type ReactorRow = { user_id: Int; username: string; emoji: string; created_at: Int };
      const rows =
        query.emoji === undefined
          ? yield* sql.rows<ReactorRow>(s.reactorsPage, [id, seqId, query.size, offset])
          : yield* sql.rows<ReactorRow>(s.reactorsPageOfEmoji, [id, seqId, query.size, offset, query.emoji]);
      const [total] =
        query.emoji === undefined ? yield* sql.values<Int>(s.countReactors, [id, seqId]) : yield* sql.values<Int>(s.countReactorsOfEmoji, [id, seqId, query.emoji]);
      return {
        reactors: rows.map((r) => ({ userId: String(r.user_id), username: r.username, emoji: r.emoji, reactedAt: toIso(Number(r.created_at)) })),
        total: Number(total ?? 0),
      };
    });
  }

  async markReadMany(marks: readonly ReadMark[]): Promise<ReadMarkResult[]> {
    if (marks.length === 0) return [];
    const s = this.s;
    const keys = marks.map((m) => [this.key(m.conversationId), this.key(m.userId)] as const);
    return this.driver.write(function* () {
      const results: ReadMarkResult[] = [];
      for (const [i, mark] of marks.entries()) {
        const [cid, uid] = keys[i]!;
        const row = cid === null || uid === null ? undefined : yield* sql.row<{ last_read_seq: Int; last_seq: Int }>(s.readPointer, [cid, uid]);
        if (!row) {
          results.push({ read: { conversationId: mark.conversationId, lastReadSeq: 0, unreadCount: 0 }, moved: false, member: false });
          continue;
        }
        const last = Number(row.last_seq);
        const current = Number(row.last_read_seq);
        // Never past the newest message, never backwards.
        const target = Math.min(mark.seqId ?? last, last);
        const lastReadSeq = Math.max(current, target);
        if (lastReadSeq > current) yield* sql.run(s.setReadTo, [cid, uid, lastReadSeq]);
        results.push({ read: { conversationId: mark.conversationId, lastReadSeq, unreadCount: Math.max(0, last - lastReadSeq) }, moved: lastReadSeq > current, member: true });
      }
      return results;
    });
  }

  async ping(): Promise<void> {
    await this.driver.ready();
  }

  async close(): Promise<void> {
    await this.driver.close();
  }
}

/** The optional fields a new message is stored with (reply snapshot, extra), or null for a plain one. */
const newMessageMeta = (m: NewMessage): string | null => (m.replyTo === undefined && m.extra === undefined ? null : metaOf(m));

/** A reader's own emojis by seqId over a seq range. */
function* viewerReactions(s: Statements, conversation: RowKey, viewer: RowKey, from: number, to: number): Step<Map<number, string[]>> {
  const rows = yield* sql.arrays<[Int, string]>(s.viewerReactionsInRange, [conversation, viewer, from, to]);
  const mine = new Map<number, string[]>();
  for (const [seq, emoji] of rows) {
    const seqId = Number(seq);
    const list = mine.get(seqId);
    if (list) list.push(emoji);
    else mine.set(seqId, [emoji]);
  }
  return mine;
}

/** Sets the reader's `myReactions` on a message built from columns (last, after the stored fields). */
function withMyReactions(message: Message, emojis: string[] | undefined): void {
  if (emojis !== undefined) message.myReactions = emojis;
}

/** The reaction counts after one user's reaction with `emoji` was added (+1) or taken back (-1). */
function countReaction(counts: readonly ReactionCount[], emoji: string, delta: 1 | -1): ReactionCount[] {
  const next = counts.map((c) => (c.emoji === emoji ? { emoji, count: c.count + delta } : c)).filter((c) => c.count > 0);
  if (delta === 1 && !counts.some((c) => c.emoji === emoji)) next.push({ emoji, count: 1 });
  return next;
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
  listGroups: 0,
  listMembersPage: 0,
  changeGroup: 0,
  getChanges: 0,
  getConversationInfo: 0,
  isMember: 0,
  getMember: 0,
  getMemberIds: 0,
  getMembersAt: 0,
  systemMessagesBetween: 0,
  getConversation: 0,
  listConversations: 0,
  listConversationsPage: 0,
  updateSettings: 0,
  appendMessages: 0,
  getMessages: 0,
  getMessage: 0,
  findSentMessage: 0,
  changeMessage: 0,
  listReactions: 0,
  markReadMany: 0,
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
