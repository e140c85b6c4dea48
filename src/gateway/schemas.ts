/**
 * One schema per request: fastify validates with these and @fastify/swagger turns the same
 * objects into the OpenAPI document at /api/openapi.json. WebSocket frames use them too.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { CLIENT_MESSAGE_TYPES, MESSAGE_TYPES } from '../protocol/index.js';

/**
 * Letters of any script, digits, `_`, `-`, `.`; 2–32 characters once normalized. Logic applies the
 * identifier profile (normalize first, then measure; no invisible characters; no look-alike of an
 * existing name), so the schema bounds only the raw size.
 */
export const Username = Type.String({
  minLength: 1,
  maxLength: 256,
  description: '2–32 letters (any script), digits, `_`, `-` or `.` after NFKC normalization; starts with a letter or digit; no invisible characters; unique by look (Unicode TR39 skeleton) and case-insensitively',
});
export const Id = Type.String({ minLength: 1, maxLength: 64, description: 'an opaque id' });

export const RegisterBody = Type.Object(
  { username: Username, password: Type.String({ minLength: 8, maxLength: 128 }) },
  { additionalProperties: false },
);
export const LoginBody = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 128 }) },
  { additionalProperties: false },
);
export const GuestBody = Type.Object({ guestName: Type.Optional(Username) }, { additionalProperties: false });
export const CreateConversationBody = Type.Object({ targetUserId: Id }, { additionalProperties: false });
export const CreateGroupBody = Type.Object(
  {
    // No control characters (newlines included): a name is one line of text in every client.
    groupName: Type.String({ minLength: 1, maxLength: 64, pattern: '^\\P{Cc}*$' }),
    members: Type.Array(Id, { maxItems: 10_000 }),
  },
  { additionalProperties: false },
);
export const ConversationParams = Type.Object({ conversationId: Id });
export const GroupParams = Type.Object({ groupId: Id });
export const UsernameParams = Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }) });
export const MessagesQuery = Type.Object(
  {
    page: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
    size: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    afterSeq: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    beforeSeq: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
  },
  { additionalProperties: false },
);
/**
 * GET /api/conversations. Without either parameter the answer is the contract's whole array; with
 * one, a page (docs/protocol.md). Other parameters are ignored, as they always were (cache busters).
 */
export const ConversationsQuery = Type.Object({
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 100, description: 'conversations per page, 1–100 (decimal digits); asks for a page (default 50 when only cursor is given)' }),
  ),
  cursor: Type.Optional(
    Type.String({ minLength: 1, maxLength: 96, pattern: '^[A-Za-z0-9_-]+$', description: 'pagination.nextCursor of the previous page, passed as is (opaque)' }),
  ),
});

// ---- WebSocket frames ----

export const SendMessageData = Type.Object(
  {
    conversationId: Id,
    content: Type.String(),
    // `system` messages are the server's own (contract.md): a client may not send one.
    messageType: Type.Optional(Type.Union(CLIENT_MESSAGE_TYPES.map((t) => Type.Literal(t)))),
    tempMessageId: Type.String({ minLength: 1, maxLength: 128 }),
  },
  { additionalProperties: false },
);
export const ClientFrame = Type.Union([
  Type.Object({ type: Type.Literal('send-message'), data: SendMessageData }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('ping'), data: Type.Optional(Type.Any()) }, { additionalProperties: false }),
]);
export type ClientFrame = Static<typeof ClientFrame>;

// ---- responses (documentation, and fast serialization) ----

const IsoTime = Type.String({ format: 'date-time' });
export const UserSchema = Type.Object({
  userId: Id,
  username: Type.String(),
  avatar: Type.String(),
  isGuest: Type.Boolean(),
  createdAt: IsoTime,
});
export const MessageSchema = Type.Object({
  messageId: Id,
  conversationId: Id,
  senderId: Id,
  senderName: Type.String(),
  content: Type.String(),
  messageType: Type.String({ enum: [...MESSAGE_TYPES] }),
  seqId: Type.Integer(),
  sendTime: IsoTime,
});
export const ConversationSchema = Type.Object({
  conversationId: Id,
  type: Type.String({ enum: ['single', 'group', 'world'] }),
  name: Type.String(),
  avatar: Type.String(),
  memberCount: Type.Integer(),
  lastMessage: Type.Union([MessageSchema, Type.Null()]),
  unreadCount: Type.Integer(),
  lastReadSeq: Type.Integer(),
  updatedAt: IsoTime,
  peer: Type.Optional(UserSchema),
  groupId: Type.Optional(Id),
});
export const GroupSchema = Type.Object({
  groupId: Id,
  conversationId: Id,
  name: Type.String(),
  ownerId: Id,
  memberCount: Type.Integer(),
  createdAt: IsoTime,
});
export const GroupMemberSchema = Type.Object({
  userId: Id,
  username: Type.String(),
  avatar: Type.String(),
  role: Type.String({ enum: ['owner', 'admin', 'member'] }),
  joinedAt: IsoTime,
});
export const AuthResultSchema = Type.Object({ token: Type.String(), expiresIn: Type.Integer(), user: UserSchema });
export const ReadResultSchema = Type.Object({ conversationId: Id, lastReadSeq: Type.Integer(), unreadCount: Type.Integer() });
export const PaginationSchema = Type.Object({
  page: Type.Integer(),
  size: Type.Integer(),
  total: Type.Integer(),
  hasMore: Type.Boolean(),
});

export const ErrorEnvelope = Type.Object({
  success: Type.Literal(false),
  message: Type.String(),
  code: Type.String({ description: 'an ErrorCode from docs/errors.md' }),
});

/** The success envelope of seed §2 around `data`. */
export function envelope<T extends TSchema>(data: T, withPagination = false) {
  return Type.Object({
    success: Type.Literal(true),
    message: Type.String(),
    data,
    ...(withPagination ? { pagination: PaginationSchema } : {}),
  });
}

/** A conversation-list page's `pagination`: the contract's four fields and the next page's cursor. */
export const ConversationPaginationSchema = Type.Object({
  page: Type.Integer({ description: "1-based place of this page in the walk that began without a cursor" }),
  size: Type.Integer({ description: 'the limit asked for' }),
  total: Type.Integer({ description: "the caller's conversations, all pages together" }),
  hasMore: Type.Boolean(),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'cursor of the next page; null on the last page' }),
});

/** GET /api/conversations: `pagination` is present exactly when a page was asked for (`limit` or `cursor`). */
export const ConversationListEnvelope = Type.Object({
  success: Type.Literal(true),
  message: Type.String(),
  data: Type.Array(ConversationSchema),
  pagination: Type.Optional(ConversationPaginationSchema),
});
