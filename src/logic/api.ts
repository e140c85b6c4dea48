/**
 * LogicApi: every business call GoChat makes, free of any transport. The gateway calls it
 * in-process (`Logic`) or over gRPC (`rpc/client.ts`) and cannot tell the difference.
 * Every method throws only AppError.
 */
import type {
  AuthResult,
  Conversation,
  ConversationPageQuery,
  ConversationPagination,
  Group,
  GroupMember,
  GroupRole,
  HistoryQuery,
  MessageAck,
  MessageList,
  MyGroup,
  Pagination,
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
  listConversations(session: Session): Promise<Conversation[]>;
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
  markRead(session: Session, conversationId: string): Promise<ReadResult>;

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

  /**
   * Stores the message (group-committed) and resolves only once it is durable; delivery to
   * the other members' connections (all but `connId`) is published before it resolves.
   */
  sendMessage(session: Session, payload: SendMessagePayload, connId?: string): Promise<MessageAck>;

  /** Readiness: storage reachable. */
  ready(): Promise<void>;
}
