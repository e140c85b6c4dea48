/**
 * Wire objects of the GoChat API (contract.md "Objects"). Every id is a string,
 * every time an ISO-8601 UTC string.
 */

/** @example `{ userId: '1', username: 'alice', avatar: '', isGuest: false, createdAt: '2026-11-23T10:00:00.000Z' }` */
export interface User {
  userId: string;
  username: string;
  avatar: string;
  isGuest: boolean;
  createdAt: string;
}

export const MESSAGE_TYPES = ['text', 'image', 'file', 'system'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];
/** What a client may send; `system` messages are written by the server only. */
export const CLIENT_MESSAGE_TYPES = ['text', 'image', 'file'] as const;

/** A stored message. `seqId` is 1, 2, 3… per conversation, with no gaps. */
export interface Message {
  messageId: string;
  conversationId: string;
  senderId: string;
  senderName: string;
  content: string;
  messageType: MessageType;
  seqId: number;
  sendTime: string;
}

export type ConversationType = 'single' | 'group' | 'world';

/** A conversation as one member sees it: `unreadCount` and `lastReadSeq` are that member's. */
export interface Conversation {
  conversationId: string;
  type: ConversationType;
  name: string;
  avatar: string;
  memberCount: number;
  lastMessage: Message | null;
  unreadCount: number;
  lastReadSeq: number;
  updatedAt: string;
  /** Only on `single` conversations: the other member. */
  peer?: User;
  /** Only on `group` conversations. */
  groupId?: string;
}

export type GroupRole = 'owner' | 'admin' | 'member';

export interface Group {
  groupId: string;
  conversationId: string;
  name: string;
  ownerId: string;
  memberCount: number;
  createdAt: string;
}

export interface GroupMember {
  userId: string;
  username: string;
  avatar: string;
  role: GroupRole;
  joinedAt: string;
}

export interface AuthResult {
  token: string;
  /** Seconds until the token expires. */
  expiresIn: number;
  user: User;
}

export interface Pagination {
  page: number;
  size: number;
  total: number;
  hasMore: boolean;
}

/**
 * The `pagination` of a page of `GET /api/conversations?limit=N` (an extension: docs/protocol.md):
 * the contract's four fields, plus the opaque keyset cursor of the next page (null on the last one).
 *
 * @example
 * ```ts
 * const p: ConversationPagination = { page: 1, size: 20, total: 45, hasMore: true, nextCursor: 'MTcz…' };
 * ```
 */
export interface ConversationPagination extends Pagination {
  nextCursor: string | null;
}

/**
 * Which page of the conversation list to read: at most `limit` (1–100) conversations after `cursor`
 * (a `nextCursor` from the previous page), newest activity first; no cursor reads the first page.
 *
 * @example
 * ```ts
 * const first: ConversationPageQuery = { limit: 20 };
 * const next: ConversationPageQuery = { limit: 20, cursor: page.pagination.nextCursor! };
 * ```
 */
export interface ConversationPageQuery {
  limit: number;
  cursor?: string;
}

export interface ReadResult {
  conversationId: string;
  lastReadSeq: number;
  unreadCount: number;
}

/** Success envelope (seed §2). Lists may carry `pagination` beside `data`. */
export interface SuccessEnvelope<T> {
  success: true;
  message: string;
  data: T;
  pagination?: Pagination;
}

export interface ErrorEnvelope {
  success: false;
  message: string;
  code: string;
}

// ---- WebSocket frames (seed §7) ----

export interface SendMessagePayload {
  conversationId: string;
  content: string;
  messageType?: MessageType;
  tempMessageId: string;
}

export interface MessageAck {
  tempMessageId: string;
  messageId: string;
  conversationId: string;
  seqId: number;
  sendTime: string;
}

export interface ErrorFrameData {
  message: string;
  code: string;
  tempMessageId?: string;
}

/** Frames a client sends. */
export type ClientFrame = { type: 'send-message'; data: SendMessagePayload } | { type: 'ping' };

/** Frames the server sends. Clients must ignore types they do not know. */
export type ServerFrame =
  | { type: 'new-message'; data: Message }
  | { type: 'message-ack'; data: MessageAck }
  | { type: 'pong' }
  | { type: 'error'; data: ErrorFrameData };

/**
 * WebSocket close codes. 4000–4499: the client should reconnect (with backoff);
 * 4500–4999: terminal, reconnecting with the same token will not help.
 */
export const CLOSE_CODES = {
  /** Server shutting down (standard "going away"). */
  GOING_AWAY: 1001,
  /** Unsent output passed the bound: the client stopped reading. */
  SLOW_CONSUMER: 4000,
  /** No frame for the idle timeout. */
  IDLE_TIMEOUT: 4001,
  /** Too many frames too fast. */
  RATE_LIMITED: 4002,
  /** The token was logged out. */
  TOKEN_REVOKED: 4501,
  /** The token expired while connected. */
  TOKEN_EXPIRED: 4502,
  /** The user has too many open sockets. */
  TOO_MANY_CONNECTIONS: 4503,
} as const;

/** Protocol limits the contract fixes. */
export const LIMITS = {
  maxBodyBytes: 64 * 1024,
  maxFrameBytes: 64 * 1024,
  pageSizeMax: 100,
  pageSizeDefault: 50,
  idleTimeoutMs: 90_000,
  clientPingIntervalMs: 30_000,
} as const;

/**
 * How to read history (contract.md): `page` counts from the newest page (1);
 * `after` returns what follows a seqId (catch-up); `before` what precedes it (scroll-back).
 */
export type HistoryQuery =
  | { kind: 'page'; page: number; size: number }
  | { kind: 'after'; afterSeq: number; size: number }
  | { kind: 'before'; beforeSeq: number; size: number };
