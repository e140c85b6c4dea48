/**
 * LogicApi: every business call GoChat makes, free of any transport. The gateway calls it
 * in-process (`Logic`) or over gRPC (`rpc/client.ts`) and cannot tell the difference.
 * Every method throws only AppError.
 */
import type {
  AuthResult,
  ChangeItem,
  Conversation,
  ConversationPageQuery,
  ConversationSettings,
  ConversationPagination,
  Group,
  GroupInfoPatch,
  GroupMember,
  GroupRole,
  HistoryQuery,
  Message,
  MessageAck,
  MessageList,
  MyGroup,
  Pagination,
  Reactor,
  ReadResult,
  SendMessagePayload,
  User,
} from '../protocol/index.js';

/** A page of a group's members: 1-based `page`, `size` 1–100, optionally only one role. */
export interface MembersQuery {
  page: number;
  size: number;
  role?: GroupRole;
}

/** A page of a message's reactions: 1-based `page`, `size` 1–100, optionally one emoji's. */
export interface ReactionsPageQuery {
  page: number;
  size: number;
  emoji?: string;
}

/** Who is calling, as proven by a verified, unrevoked token. */
export interface Session {
  userId: string;
  username: string;
  isGuest: boolean;
  /** The token's id, used for revocation. */
  jti: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** What the edge knows about the caller's network origin (for abuse limits). */
export interface ClientInfo {
  ip: string;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface HistoryResult {
  /** In seqId order; usually still the text the store kept with each message (see MessageList). */
  messages: MessageList;
  pagination: Pagination;
}

/** A page of the conversation list (`listConversationsPage`). */
export interface ConversationPageResult {
  conversations: Conversation[];
  pagination: ConversationPagination;
}

export interface LogicApi {
  register(input: Credentials, client: ClientInfo): Promise<User>;
  login(input: Credentials, client: ClientInfo): Promise<AuthResult>;
  guest(input: { guestName?: string }, client: ClientInfo): Promise<AuthResult>;
  /** Verifies a bearer token: UNAUTHORIZED, TOKEN_EXPIRED or TOKEN_REVOKED when it is not good. */
  authenticate(token: string): Promise<Session>;
  logout(session: Session): Promise<void>;
  getUserInfo(session: Session): Promise<User>;
  /** Extension for starting a chat by name (docs/protocol.md): USER_NOT_FOUND when nobody has it. */
  findUserByUsername(session: Session, username: string): Promise<User>;

  /** Every conversation, newest activity first (the contract's unpaged list). */
  listConversations(session: Session, options?: { includeHidden?: boolean }): Promise<Conversation[]>;
  /**
   * The same list a page at a time (extension, docs/protocol.md): `limit` 1–100, `cursor` a
   * `nextCursor` of an earlier page. VALIDATION_ERROR naming `limit` or `cursor` when malformed.
   */
  listConversationsPage(session: Session, query: ConversationPageQuery): Promise<ConversationPageResult>;
  openSingleConversation(session: Session, targetUserId: string): Promise<{ conversation: Conversation; created: boolean }>;
  /**
   * One conversation of any type as the list shows it to the caller. CONVERSATION_NOT_FOUND when it
   * does not exist, NOT_CONVERSATION_MEMBER when the caller is not a member (checked in the store).
   */
  getConversation(session: Session, conversationId: string): Promise<Conversation>;
  getMessages(session: Session, conversationId: string, query: HistoryQuery): Promise<HistoryResult>;
  /**
   * Moves the caller's read pointer to `seqId` (absent: the newest message; never past it, never
   * back). Marks of one turn are written in one batch; when the pointer moved, every device of the
   * caller gets `conversation-read`. Answers the pointer after.
   */
  markRead(session: Session, conversationId: string, seqId?: number): Promise<ReadResult>;

  createGroup(session: Session, input: { groupName: string; members: string[] }): Promise<{ group: Group; conversation: Conversation }>;
  getGroup(session: Session, groupId: string): Promise<{ group: Group; members: GroupMember[] }>;
  /**
   * A page of a group conversation's members, in the order they joined; `role` filters. Checked
   * in the store: CONVERSATION_NOT_FOUND, NOT_CONVERSATION_MEMBER, then NOT_GROUP_CONVERSATION for a
   * 1:1 or the world room (whose member list is every user).
   */
  listMembers(session: Session, conversationId: string, query: MembersQuery): Promise<{ members: GroupMember[]; pagination: Pagination }>;
  /** The caller's groups with its role in each, newest activity first (a guest's too: it may be a member). */
  listGroups(session: Session): Promise<MyGroup[]>;

  // Group administration (docs/protocol.md "Group administration"). Each checks, in this order:
  // CONVERSATION_NOT_FOUND, NOT_CONVERSATION_MEMBER, NOT_GROUP_CONVERSATION, the caller's role
  // (FORBIDDEN with details.requiredRole), then the target; all again inside the write, under the
  // conversation's lock. A change that changes something appends one `system` message.

  /** Adds registered or guest users (already-members ignored); answers those added. USER_NOT_FOUND (details.userIds), GROUP_FULL (details.maxMembers). */
  addMembers(session: Session, conversationId: string, userIds: readonly string[]): Promise<GroupMember[]>;
  /** Removes a member; the caller's own id leaves. MEMBER_NOT_FOUND, OWNER_MUST_TRANSFER (the owner leaving others behind). */
  removeMember(session: Session, conversationId: string, userId: string): Promise<void>;
  /** Sets a member's role; `owner` transfers ownership (the caller becomes admin). Answers the member after. */
  setMemberRole(session: Session, conversationId: string, userId: string, role: GroupRole): Promise<GroupMember>;
  /** Renames the group or sets its avatar or description; answers the conversation as the caller sees it after. */
  updateGroup(session: Session, conversationId: string, patch: GroupInfoPatch): Promise<Conversation>;
  /** Disbands the group (owner only): every member loses it. */
  disbandGroup(session: Session, conversationId: string): Promise<void>;
  /**
   * The conversation's items changed after `afterChange`, each once at its latest value, ascending by
   * changeSeq, at most `size` (1–100). `pagination.total` counts the items after `afterChange`.
   */
  getChanges(session: Session, conversationId: string, afterChange: number, size: number): Promise<{ items: ChangeItem[]; pagination: Pagination }>;

  /**
   * Changes the caller's own settings of a conversation of any type (muted, pinned, hidden) and
   * tells all of the caller's devices (`conversation-settings`); answers the conversation after.
   */
  updateSettings(session: Session, conversationId: string, patch: Partial<ConversationSettings>): Promise<Conversation>;

  /**
   * Stores the message (group-committed) and resolves only once it is durable; delivery to
   * the other members' connections (all but `connId`) is published before it resolves.
   */
  sendMessage(session: Session, payload: SendMessagePayload, connId?: string): Promise<MessageAck>;
  /**
   * The same send over HTTP (the original design's `POST /api/conversations/{id}/messages`): the same
   * checks, idempotency and ack-after-commit; every socket of the sender gets the message.
   * `created` is false for a repeat of a stored (sender, tempMessageId): `message` is the original.
   */
  postMessage(session: Session, payload: SendMessagePayload): Promise<{ message: Message; created: boolean }>;

  // Message actions (docs/protocol.md "Message actions"). Each checks, in this order: the message
  // exists and the caller may read its conversation (else MESSAGE_NOT_FOUND, for any reason), the
  // caller may make the change (logic/message-rules.ts), all again under the conversation's lock.
  // A change that changes something bumps the conversation's changeSeq and is pushed to every
  // member's devices as a `conversation-update` with a `message` item. Each answers the message
  // after, with the caller's `myReactions`.

  /** Recalls a message: its sender within the recall window, a group owner or admin at any time. */
  recallMessage(session: Session, messageId: string): Promise<Message>;
  /** Replaces the text of the caller's own text message (MESSAGE_NOT_EDITABLE, MESSAGE_RECALLED, EDIT_WINDOW_EXPIRED). */
  editMessage(session: Session, messageId: string, content: string): Promise<Message>;
  /** Adds (`add`) or takes back the caller's reaction with one emoji; a repeat changes nothing. */
  setReaction(session: Session, messageId: string, emoji: string, add: boolean): Promise<Message>;
  /** Who reacted to the message, oldest first. */
  listReactions(session: Session, messageId: string, query: ReactionsPageQuery): Promise<{ reactors: Reactor[]; pagination: Pagination }>;

  /**
   * The caller is composing in a conversation (`typing`) or stopped: a `typing-indicator` to the
   * other members' connections, not stored. Members only; never in the world room or in a group of
   * more than `typingMaxMembers` members (accepted, nothing sent).
   */
  typing(session: Session, conversationId: string, typing: boolean): Promise<void>;

  /** Readiness: storage reachable. */
  ready(): Promise<void>;
}
