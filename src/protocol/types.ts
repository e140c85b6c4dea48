/**
 * The TypeScript types of the wire, derived from the schemas in `schemas.ts` (type-only imports:
 * nothing of TypeBox reaches a bundle that needs only the types).
 */
import type { Static } from '@sinclair/typebox';
import type {
  AuthResultSchema,
  ChangeItemSchema,
  ConversationRemovedSchema,
  ConversationSettingsFrameSchema,
  ConversationSettingsSchema,
  ConversationUpdateSchema,
  GroupInfoSchema,
  ClientFrameSchema,
  ConversationPaginationSchema,
  ConversationSchema,
  ErrorEnvelopeSchema,
  ErrorFrameDataSchema,
  GroupMemberSchema,
  GroupSchema,
  MessageAckSchema,
  MyGroupSchema,
  MessageSchema,
  ReactionCountSchema,
  ReactorSchema,
  ReplySnapshotSchema,
  PaginationSchema,
  ReadResultSchema,
  ReadReceiptSchema,
  SendMessageData,
  ServerFrameSchema,
  UserSchema,
} from './schemas.js';


/** @example `{ userId: '1', username: 'alice', avatar: '', isGuest: false, createdAt: '2026-11-23T10:00:00.000Z' }` */
export type User = Static<typeof UserSchema>;
/** A stored message. `seqId` is 1, 2, 3… per conversation, with no gaps. */
export type Message = Static<typeof MessageSchema>;
/** A conversation as one member sees it: `unreadCount` and `lastReadSeq` are that member's. */
export type ReplySnapshot = Static<typeof ReplySnapshotSchema>;
export type ReactionCount = Static<typeof ReactionCountSchema>;
/** One user's reaction on a message. */
export type Reactor = Static<typeof ReactorSchema>;
/** A message change item (recall, edit, reaction). */
export type MessageChangeItem = Extract<ChangeItem, { kind: 'message' }>;
export type Conversation = Static<typeof ConversationSchema>;
export type Group = Static<typeof GroupSchema>;
export type GroupMember = Static<typeof GroupMemberSchema>;
/** A group with the caller's role in it. */
export type MyGroup = Static<typeof MyGroupSchema>;
/** A group's shared information, as the `group` change item carries it. */
export type GroupInfo = Static<typeof GroupInfoSchema>;
/** One changed item of a conversation at its latest value (`null`: gone). */
export type ChangeItem = Static<typeof ChangeItemSchema>;
export type ConversationUpdate = Static<typeof ConversationUpdateSchema>;
export type ConversationRemoved = Static<typeof ConversationRemovedSchema>;
/** A member's own settings of a conversation (muted, pinned, hidden). */
export type ConversationSettings = Static<typeof ConversationSettingsSchema>;
export type ConversationSettingsChanged = Static<typeof ConversationSettingsFrameSchema>;
/** What `PUT /api/conversations/{id}` may change. */
export interface GroupInfoPatch {
  name?: string;
  avatar?: string;
  description?: string;
}
export type AuthResult = Static<typeof AuthResultSchema>;
export type ReadResult = Static<typeof ReadResultSchema>;
export type ReadReceipt = Static<typeof ReadReceiptSchema>;
export type Pagination = Static<typeof PaginationSchema>;
/**
 * The `pagination` of a conversation-list page: the contract's four fields plus the next page's cursor.
 *
 * @example
 * ```ts
 * const p: ConversationPagination = { page: 1, size: 20, total: 45, hasMore: true, nextCursor: 'MTcz…' };
 * ```
 */
export type ConversationPagination = Static<typeof ConversationPaginationSchema>;
export type ErrorEnvelope = Static<typeof ErrorEnvelopeSchema>;

export type SendMessagePayload = Static<typeof SendMessageData>;
export type MessageAck = Static<typeof MessageAckSchema>;
export type ErrorFrameData = Static<typeof ErrorFrameDataSchema>;
/** Frames a client sends. */
export type ClientFrame = Static<typeof ClientFrameSchema>;
/** Frames the server sends. Clients must ignore types they do not know. */
export type ServerFrame = Static<typeof ServerFrameSchema>;

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

/**
 * How to read history (contract.md): `page` counts from the newest page (1);
 * `after` returns what follows a seqId (catch-up); `before` what precedes it (scroll-back).
 */
export type HistoryQuery =
  | { kind: 'page'; page: number; size: number }
  | { kind: 'after'; afterSeq: number; size: number }
  | { kind: 'before'; beforeSeq: number; size: number };
