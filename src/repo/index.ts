/**
 * The storage port. Logic depends on this interface only; `sqlite/` and `postgres/`
 * implement it and pass the same suite (test/ports/repo.suite.ts).
 *
 * Invariants every implementation keeps:
 * - `seqId` per conversation is 1, 2, 3… with no gaps, allocated inside the transaction that
 *   stores the message, so concurrent writers (even in several processes) cannot collide.
 * - (conversationId, senderId, tempMessageId) is stored at most once.
 * - A promise that resolves from `appendMessages` means the rows are durably committed.
 */
import type { Conversation, Group, GroupMember, HistoryQuery, Message, MessageType, ReadResult, User } from '../protocol/index.js';

export type { HistoryQuery };

export interface UserRecord extends User {
  passwordHash: string;
}

export interface NewUser {
  username: string;
  passwordHash: string;
  isGuest: boolean;
}

export interface NewMessage {
  conversationId: string;
  senderId: string;
  senderName: string;
  tempMessageId: string;
  content: string;
  messageType: MessageType;
  /** Milliseconds since the epoch. */
  sendTime: number;
}

export interface AppendResult {
  message: Message;
  /** True when this (sender, tempMessageId) was already stored: `message` is the original. */
  duplicate: boolean;
  /** `message` as JSON text: serialized once, by the store (SQLite keeps it for history reads). */
  json: string;
}


export interface HistoryPage {
  messages: Message[];
  /** Messages in the conversation. */
  total: number;
  hasMore: boolean;
}

/** A history page as the JSON text of its message array (what the HTTP API sends). */
export interface HistoryJsonPage {
  json: string;
  total: number;
  hasMore: boolean;
}

export interface ConversationInfo {
  conversationId: string;
  type: Conversation['type'];
  memberCount: number;
  lastSeq: number;
}

export interface NewGroup {
  ownerId: string;
  name: string;
  /** Other members; the owner is added by the repo. Already deduplicated and known to exist. */
  memberIds: string[];
}

export interface Repo {
  /** Throws AppError USERNAME_TAKEN when the name exists case-insensitively. */
  createUser(user: NewUser): Promise<User>;
  findUserByUsername(username: string): Promise<UserRecord | null>;
  /** The users among `ids` that exist, in any order. */
  getUsers(ids: readonly string[]): Promise<User[]>;

  revokeToken(jti: string, expiresAtMs: number): Promise<void>;
  isTokenRevoked(jti: string): Promise<boolean>;

  /** The 1:1 conversation of the pair, created when absent. */
  getOrCreateSingleConversation(userId: string, peerId: string): Promise<{ conversationId: string; created: boolean }>;
  /** The world room, created when absent; `userId` joins it. */
  joinWorld(userId: string): Promise<string>;

  /**
   * Records that a guest was active at `at` (ms) and answers whether it is still a live guest:
   * false when the id is no guest's, or the guest expired (`expireGuests`).
   */
  touchGuest(userId: string, at: number): Promise<boolean>;
  /**
   * Expires up to `limit` guests whose last activity (and creation) is before `inactiveBefore`,
   * least recently active first, in one transaction: each leaves the world room (its member
   * count drops) and its `account_key` is cleared, so its tokens stop working; the row, its
   * username and its messages stay. Returns the ids expired; an expired guest is never returned
   * again, and concurrent callers (several logic processes) never expire the same guest twice.
   */
  expireGuests(inactiveBefore: number, limit: number): Promise<string[]>;
  createGroup(group: NewGroup): Promise<{ groupId: string; conversationId: string }>;
  getGroup(groupId: string): Promise<Group | null>;
  getGroupMembers(groupId: string): Promise<GroupMember[]>;

  getConversationInfo(conversationId: string): Promise<ConversationInfo | null>;
  isMember(conversationId: string, userId: string): Promise<boolean>;
  getMemberIds(conversationId: string): Promise<string[]>;
  /** One conversation as `userId` sees it (peer, last message, unread). */
  getConversation(conversationId: string, userId: string): Promise<Conversation | null>;
  /** Every conversation of `userId`, newest activity first, in one query. */
  listConversations(userId: string): Promise<Conversation[]>;

  /**
   * Stores a batch in one transaction and returns one result per input, in order.
   * Duplicates (also within the batch) resolve to the originally stored message.
   * Each sender's read pointer advances to its own message.
   */
  appendMessages(batch: readonly NewMessage[]): Promise<AppendResult[]>;
  getMessages(conversationId: string, query: HistoryQuery): Promise<HistoryPage>;
  /** The same page as `getMessages`, as JSON text: `JSON.parse(json)` deep-equals its `messages`. */
  getMessagesJson(conversationId: string, query: HistoryQuery): Promise<HistoryJsonPage>;
  /** Moves the member's read pointer to the newest message. */
  markRead(conversationId: string, userId: string): Promise<ReadResult>;

  /** Cheap round trip for readiness checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
