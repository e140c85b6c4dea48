/**
 * The store's SQL, named. Most statements read the same in both dialects and are written once
 * here with `$n` placeholders (the SQLite dialect respells them `?n`), with the few tokens that
 * differ taken from the dialect. Statements over a set of rows (`…Each`, see driver.ts) differ in
 * shape — one unnest over array parameters on PostgreSQL, a per-row statement on SQLite — and each
 * dialect module spells them out.
 */
import { CONVERSATION_ORDER, CONVERSATION_SELECT, conversationCountSql, conversationPageSql, NOT_HIDDEN } from '../rows.js';

/** The tokens in which the shared statements differ. */
export interface DialectSyntax {
  /** The larger of two values: MAX (SQLite's scalar form) or GREATEST. */
  greatest: string;
  /** What a true flag column equals: 1 (SQLite stores flags as integers) or TRUE. */
  true: string;
  /** Appended to a SELECT whose rows a transaction takes for itself, skipping rows another one holds ('' on SQLite, whose BEGIN IMMEDIATE already excludes other writers). */
  forUpdateSkipLocked: string;
  /** Appended to a SELECT of `conversations c` joined to other tables, locking the conversation row to COMMIT ('' on SQLite). */
  forUpdateOfConversation: string;
}

/** Statements over a set of rows, parameters given column by column (driver.ts `…Each`). */
export interface EachStatements {
  /** users rows; columns: id. */
  usersByIds: string;
  /** id, last_seq of each conversation, locked until COMMIT (in id order on PostgreSQL, so batches never deadlock); columns: id. */
  lockConversations: string;
  /** The stored messages with these keys (a `MessageRow` plus temp_message_id); columns: conversation_id, sender_id, temp_message_id. */
  storedMessages: string;
  /**
   * Inserts messages, skipping a row whose (temp_message_id, sender_id, conversation_id) is stored;
   * resolves to their ids in row order, null for a skipped row; columns: conversation_id, seq_id,
   * sender_id, sender_name, temp_message_id, content, message_type, send_time, and wire where the
   * dialect stores it. For plain messages (most): meta and reply_to_seq stay NULL.
   */
  insertMessages: string;
  /** `insertMessages` with two more columns: meta and reply_to_seq (a batch holding a reply or an extra). */
  insertMessagesWithMeta: string;
  /** Deletes messages an append inserted and takes back within its transaction; columns: id. */
  deleteMessages: string;
  /** columns: conversation id, last_seq, updated_at. */
  setLastSeqs: string;
  /** Raises each read pointer to at least the seq; columns: conversation_id, user_id, seq. */
  advanceReadPointers: string;
  /** Inserts memberships, skipping existing ones; columns: conversation_id, user_id, role, joined_at. */
  insertMembers: string;
  /** Ends guest accounts; columns: user id. */
  expireGuests: string;
  /** columns: conversation_id, user_id. */
  leaveConversation: string;
}

export type Statements = ReturnType<typeof sharedStatements> &
  EachStatements & {
    /** Each message's whole JSON in a seq range (`MESSAGE_JSON_SQL`); null where rows keep no stored text. */
    messageJsonInRange: string | null;
    /**
     * A changed message's state: parameters id, content, meta, and where the dialect keeps it the
     * stored wire form (written in today's format).
     */
    setMessageState: string;
  };

export function sharedStatements(d: DialectSyntax) {
  const param = (n: number) => `$${n}`;
  return {
    // No conflict target: a taken name and a taken skeleton both insert nothing.
    insertUser: `INSERT INTO users (username, username_key, username_skeleton, password_hash, is_guest, created_at, last_active_at, account_key)
                 VALUES ($1, $2, $3, $4, $5, $6, $6, $7) ON CONFLICT DO NOTHING RETURNING *`,
    userByKey: 'SELECT * FROM users WHERE username_key = $1',
    accountAuth: 'SELECT account_key, EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $1) AS revoked FROM users WHERE id = $2',
    usersWithoutSkeleton: 'SELECT id, username FROM users WHERE username_skeleton IS NULL AND id > $1 ORDER BY id LIMIT 500',
    setSkeleton: `UPDATE users SET username_skeleton = $1
                  WHERE id = $2 AND username_skeleton IS NULL AND NOT EXISTS (SELECT 1 FROM users WHERE username_skeleton = $1)`,
    revoke: 'INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING',
    isRevoked: 'SELECT 1 AS revoked FROM revoked_tokens WHERE jti = $1',
    purgeRevoked: 'DELETE FROM revoked_tokens WHERE expires_at < $1',

    conversationByKey: 'SELECT id FROM conversations WHERE pair_key = $1',
    // A concurrent creator of the same key makes this wait on the unique index, then insert nothing.
    insertKeyedConversation: `INSERT INTO conversations (type, name, pair_key, member_count, created_at, updated_at)
                              VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (pair_key) DO NOTHING RETURNING id`,
    insertGroupConversation: `INSERT INTO conversations (type, name, pair_key, member_count, created_at, updated_at)
                              VALUES ('group', $1, NULL, $2, $3, $3) RETURNING id`,
    bumpMemberCount: 'UPDATE conversations SET member_count = member_count + $1 WHERE id = $2',
    insertGroup: 'INSERT INTO chat_groups (conversation_id, name, owner_id, created_at) VALUES ($1, $2, $3, $4) RETURNING id',
    setGroupId: 'UPDATE conversations SET group_id = $1 WHERE id = $2',
    // A disbanded group is gone (its rows and messages stay).
    groupById: `SELECT g.id, g.conversation_id, g.name, g.owner_id, g.created_at, g.description, c.member_count, c.avatar
                FROM chat_groups g JOIN conversations c ON c.id = g.conversation_id WHERE g.id = $1 AND g.disbanded_at IS NULL`,
    // ---- group administration (SqlRepo.changeGroup): one group, under its conversation's lock ----
    // The lock first, the group's row after it: read in the same statement, a row a writer who held
    // the lock changed would come from before that change (PostgreSQL re-reads only the locked row).
    lockGroup: `SELECT c.type, c.last_seq, c.members_seq, c.change_seq, c.member_count, c.name, c.avatar
                FROM conversations c WHERE c.id = $1${d.forUpdateOfConversation}`,
    groupRowOf: 'SELECT owner_id, description FROM chat_groups WHERE conversation_id = $1',
    groupMemberStates: `SELECT m.user_id, m.role, u.is_guest, u.username
                        FROM conversation_members m JOIN users u ON u.id = m.user_id WHERE m.conversation_id = $1`,
    // An added member starts with everything before its system message read.
    joinGroup: `INSERT INTO conversation_members (conversation_id, user_id, role, joined_at, last_read_seq, joined_seq)
                VALUES ($1, $2, 'member', $3, $4, $5) ON CONFLICT DO NOTHING`,
    leaveGroup: 'DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2',
    emptyGroup: 'DELETE FROM conversation_members WHERE conversation_id = $1',
    setMemberRole: 'UPDATE conversation_members SET role = $3 WHERE conversation_id = $1 AND user_id = $2',
    setReadPointer: `UPDATE conversation_members SET last_read_seq = ${d.greatest}(last_read_seq, $3) WHERE conversation_id = $1 AND user_id = $2`,
    setGroupRow: 'UPDATE chat_groups SET owner_id = $2, name = $3, description = $4, disbanded_at = $5 WHERE conversation_id = $1',
    setGroupConversation: `UPDATE conversations SET last_seq = $2, updated_at = $3, members_seq = $4, change_seq = $5, member_count = $6, name = $7, avatar = $8
                           WHERE id = $1`,
    memberView: `SELECT u.id, u.username, u.avatar, m.role, m.joined_at
                 FROM conversation_members m JOIN users u ON u.id = m.user_id WHERE m.conversation_id = $1 AND m.user_id = $2`,
    // An item's latest value replaces its row: the change feed is compacted as it is written.
    upsertChange: `INSERT INTO conversation_changes (conversation_id, kind, item_key, change_seq, data) VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (conversation_id, kind, item_key) DO UPDATE SET change_seq = excluded.change_seq, data = excluded.data`,
    // One statement: the version and the ids it names cannot come from two different commits.
    membersAt: `SELECT c.members_seq, m.user_id FROM conversations c
                LEFT JOIN conversation_members m ON m.conversation_id = c.id WHERE c.id = $1`,
    systemMessagesBetween: `SELECT seq_id, sender_id, content FROM messages
                            WHERE conversation_id = $1 AND seq_id > $2 AND seq_id <= $3 AND message_type = 'system'
                            ORDER BY seq_id LIMIT $4`,
    changesAfter: `SELECT change_seq, kind, item_key, data FROM conversation_changes
                   WHERE conversation_id = $1 AND change_seq > $2 ORDER BY change_seq LIMIT $3`,
    countChangesAfter: 'SELECT COUNT(*) AS total FROM conversation_changes WHERE conversation_id = $1 AND change_seq > $2',
    // The caller's groups, newest activity first (pinning and hiding are the conversation list's, not this one's).
    myGroups: `SELECT g.id, g.conversation_id, g.name, g.owner_id, g.created_at, g.description, c.member_count, c.avatar, m.role
               FROM conversation_members m
               JOIN chat_groups g ON g.conversation_id = m.conversation_id
               JOIN conversations c ON c.id = g.conversation_id
               WHERE m.user_id = $1 ORDER BY c.updated_at DESC, c.id DESC`,
    // A page of a conversation's members, in the order they joined; with a role, of that role only.
    membersPage: `SELECT u.id, u.username, u.avatar, m.role, m.joined_at
                  FROM conversation_members m JOIN users u ON u.id = m.user_id
                  WHERE m.conversation_id = $1 ORDER BY m.joined_at, u.id LIMIT $2 OFFSET $3`,
    membersPageOfRole: `SELECT u.id, u.username, u.avatar, m.role, m.joined_at
                        FROM conversation_members m JOIN users u ON u.id = m.user_id
                        WHERE m.conversation_id = $1 AND m.role = $4 ORDER BY m.joined_at, u.id LIMIT $2 OFFSET $3`,
    countMembers: 'SELECT COUNT(*) FROM conversation_members WHERE conversation_id = $1',
    countMembersOfRole: 'SELECT COUNT(*) FROM conversation_members WHERE conversation_id = $1 AND role = $2',
    groupMembers: `SELECT u.id, u.username, u.avatar, m.role, m.joined_at
                   FROM chat_groups g
                   JOIN conversation_members m ON m.conversation_id = g.conversation_id
                   JOIN users u ON u.id = m.user_id
                   WHERE g.id = $1 ORDER BY m.joined_at, u.id`,

    conversationInfo: 'SELECT id, type, member_count, last_seq, members_seq FROM conversations WHERE id = $1',
    isMember: 'SELECT 1 AS member FROM conversation_members WHERE conversation_id = $1 AND user_id = $2',
    memberIds: 'SELECT user_id FROM conversation_members WHERE conversation_id = $1',
    listConversations: `${CONVERSATION_SELECT} WHERE m.user_id = $1 AND ${NOT_HIDDEN('m', 'c')} ${CONVERSATION_ORDER}`,
    listAllConversations: `${CONVERSATION_SELECT} WHERE m.user_id = $1 ${CONVERSATION_ORDER}`,
    // A member's own settings: each changed on its own (a request names one to three of them).
    setMuted: 'UPDATE conversation_members SET muted = $3 WHERE conversation_id = $1 AND user_id = $2',
    setPinnedAt: 'UPDATE conversation_members SET pinned_at = $3 WHERE conversation_id = $1 AND user_id = $2',
    // Hidden at the conversation's newest message: the next one lists it again.
    hideAtLastSeq: `UPDATE conversation_members SET hidden_seq = (SELECT last_seq FROM conversations WHERE id = $1)
                    WHERE conversation_id = $1 AND user_id = $2`,
    unhide: 'UPDATE conversation_members SET hidden_seq = NULL WHERE conversation_id = $1 AND user_id = $2',
    conversationsFirstPage: conversationPageSql(param, false),
    conversationsPageAfter: conversationPageSql(param, true),
    countConversations: conversationCountSql(param),
    oneConversation: `${CONVERSATION_SELECT} WHERE m.user_id = $1 AND m.conversation_id = $2`,

    // ---- message actions (SqlRepo.changeMessage): one message, under its conversation's lock ----
    messageById: `SELECT id, conversation_id, seq_id, sender_id, sender_name, content, message_type, send_time, meta
                  FROM messages WHERE id = $1`,
    memberRole: 'SELECT role FROM conversation_members WHERE conversation_id = $1 AND user_id = $2',
    reactionsOfUser: 'SELECT emoji FROM message_reactions WHERE conversation_id = $1 AND seq_id = $2 AND user_id = $3 ORDER BY created_at, emoji',
    insertReaction: `INSERT INTO message_reactions (conversation_id, seq_id, emoji, user_id, created_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT DO NOTHING`,
    deleteReaction: 'DELETE FROM message_reactions WHERE conversation_id = $1 AND seq_id = $2 AND emoji = $3 AND user_id = $4',
    deleteReactionsOf: 'DELETE FROM message_reactions WHERE conversation_id = $1 AND seq_id = $2',
    repliesTo: `SELECT id, conversation_id, seq_id, sender_id, sender_name, content, message_type, send_time, meta
                FROM messages WHERE conversation_id = $1 AND reply_to_seq = $2`,
    setChangeSeq: 'UPDATE conversations SET change_seq = $2 WHERE id = $1',
    metaOfSeq: 'SELECT meta FROM messages WHERE conversation_id = $1 AND seq_id = $2',
    rewriteChangeData: 'UPDATE conversation_changes SET data = $4 WHERE conversation_id = $1 AND kind = $2 AND item_key = $3',
    // A reader's own reactions on a range of messages (a history page, a page of the change feed).
    viewerReactionsInRange: `SELECT seq_id, emoji FROM message_reactions
                             WHERE conversation_id = $1 AND user_id = $2 AND seq_id >= $3 AND seq_id <= $4 ORDER BY seq_id, created_at, emoji`,
    reactorsPage: `SELECT r.user_id, u.username, r.emoji, r.created_at FROM message_reactions r JOIN users u ON u.id = r.user_id
                   WHERE r.conversation_id = $1 AND r.seq_id = $2 ORDER BY r.created_at, r.user_id, r.emoji LIMIT $3 OFFSET $4`,
    reactorsPageOfEmoji: `SELECT r.user_id, u.username, r.emoji, r.created_at FROM message_reactions r JOIN users u ON u.id = r.user_id
                          WHERE r.conversation_id = $1 AND r.seq_id = $2 AND r.emoji = $5 ORDER BY r.created_at, r.user_id LIMIT $3 OFFSET $4`,
    countReactors: 'SELECT COUNT(*) FROM message_reactions WHERE conversation_id = $1 AND seq_id = $2',
    countReactorsOfEmoji: 'SELECT COUNT(*) FROM message_reactions WHERE conversation_id = $1 AND seq_id = $2 AND emoji = $3',

    lastSeq: 'SELECT last_seq FROM conversations WHERE id = $1',
    // Just the columns a Message needs, read as arrays: an object per row cost more than the query.
    messagesInRange: `SELECT id, sender_id, sender_name, content, message_type, seq_id, send_time, meta
                      FROM messages WHERE conversation_id = $1 AND seq_id >= $2 AND seq_id <= $3 ORDER BY seq_id`,

    // A member's read pointer and its conversation's newest seq, read under the write transaction.
    readPointer: `SELECT m.last_read_seq, c.last_seq FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id
                  WHERE m.conversation_id = $1 AND m.user_id = $2`,
    // GREATEST: two writers racing (PostgreSQL, several processes) can never move it backwards.
    setReadTo: `UPDATE conversation_members SET last_read_seq = ${d.greatest}(last_read_seq, $3) WHERE conversation_id = $1 AND user_id = $2`,

    // Guest expiry. The flag is compared with the dialect's TRUE so SQLite uses the partial index guests_by_activity.
    touchGuest: `UPDATE users SET last_active_at = ${d.greatest}(last_active_at, $2)
                 WHERE id = $1 AND is_guest = ${d.true} AND last_active_at >= 0`,
    // FOR UPDATE SKIP LOCKED (PostgreSQL): a concurrent sweep takes other guests, and a touch that
    // committed first is seen (the row is re-read under the lock) and keeps its guest.
    expirableGuests: `SELECT id FROM users WHERE is_guest = ${d.true} AND last_active_at >= 0 AND last_active_at < $1 AND created_at < $1
                      ORDER BY last_active_at LIMIT $2${d.forUpdateSkipLocked}`,
  };
}

/** An id as a dialect binds it: see `SqlDialect.rowKey`. */
export type RowKey = string | number | bigint;

/** Everything the shared store needs to know about a dialect besides its driver. */
export interface SqlDialect {
  readonly statements: Statements;
  /**
   * A row id (decimal digits, `rowId`) in the form its driver returns an id column in, and the one
   * the store binds: SQLite an integer (a text parameter against an INTEGER column costs a
   * conversion in every comparison, measured at ~20% of each statement on the append path),
   * PostgreSQL the digits (pg returns BIGINT as text). The store keys maps by it.
   */
  rowKey(digits: string): RowKey;
  /** A boolean parameter as the dialect binds it (better-sqlite3 binds no booleans: 1/0). */
  flag(value: boolean): unknown;
  /** A unique-constraint violation: another writer stored the same key first. */
  isUniqueViolation(err: unknown): boolean;
  /**
   * Where a round trip costs more than a statement (a database over the network), the append of
   * a batch of new messages as one statement, without a transaction of its own; null where the
   * general algorithm is as cheap (SQLite, in-process).
   */
  readonly appendInOne: AppendInOne | null;
}

/**
 * The one-statement append. Parameters: the batch column by column (conversation ids, sender ids,
 * sender names, temp ids, contents, types, send times, the member-set versions the sends were
 * checked at, metas, reply_to_seqs) and its length. It locks the batch's
 * conversations in id order, numbers each message last_seq + its rank in its conversation in
 * batch order, inserts, and writes last_seq, updated_at and the senders' read pointers, exactly
 * as `SqlRepo.append` would for a batch of new messages. It answers (seq_id, id) per message in
 * batch order, and fails with `isIncomplete` true, having changed nothing, when a row was not
 * inserted (a resend, a repeat within the batch, a send whose member set changed since it was
 * checked): the store then runs the general algorithm. A batch none of whose sends could be
 * planned (a missing conversation, every send stale) answers fewer rows than it sent, also
 * changing nothing.
 */
export interface AppendInOne {
  readonly sql: string;
  isIncomplete(err: unknown): boolean;
}
