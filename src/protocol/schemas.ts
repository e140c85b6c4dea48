/**
 * The wire, one schema per object, frame and request. Everything else is derived from these:
 * the TypeScript types (`types.ts`, `Static<…>`), input validation (the gateway compiles them with
 * ajv), the OpenAPI document (@fastify/swagger reads the routes' schemas) and the encoders
 * (`codec.ts`). A field is added here once.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { CLIENT_MESSAGE_TYPES, CONVERSATION_TYPES, GROUP_ROLES, MESSAGE_TYPES, type ConversationType, type GroupRole, type MessageType } from './constants.js';

/** A string enum documented as `{type: string, enum: [...]}` and typed as the union of its values. */
const StringEnum = <T extends string>(values: readonly T[], options: { description?: string } = {}) => Type.Unsafe<T>(Type.String({ ...options, enum: [...values] }));

export const Id = Type.String({ minLength: 1, maxLength: 64, description: 'an opaque id' });
const IsoTime = Type.String({ format: 'date-time' });

// ---- objects (contract.md "Objects"): every id a string, every time an ISO-8601 UTC string ----

export const UserSchema = Type.Object({
  userId: Id,
  username: Type.String(),
  avatar: Type.String(),
  isGuest: Type.Boolean(),
  createdAt: IsoTime,
});

/**
 * What a reply quotes: a snapshot of the message it answers, taken when the reply was sent, so a
 * client renders it without another request. When the original is recalled, `preview` becomes ""
 * and `recalled` true, in every reply to it.
 */
export const ReplySnapshotSchema = Type.Object({
  messageId: Id,
  seqId: Type.Integer(),
  senderId: Id,
  senderName: Type.String(),
  messageType: StringEnum<MessageType>(MESSAGE_TYPES),
  preview: Type.String({ description: 'the start of the original content, at most 100 characters; "" once recalled' }),
  recalled: Type.Optional(Type.Literal(true)),
});

/** One emoji's reactions on a message: how many users reacted with it. */
export const ReactionCountSchema = Type.Object({
  emoji: Type.String({ description: 'one emoji grapheme (Unicode RGI emoji)' }),
  count: Type.Integer({ minimum: 1 }),
});

/**
 * A stored message. `seqId` is 1, 2, 3… per conversation, with no gaps. The optional fields are
 * present only when they say something: a plain message is exactly the seed's eight fields.
 */
export const MessageSchema = Type.Object({
  messageId: Id,
  conversationId: Id,
  senderId: Id,
  senderName: Type.String(),
  content: Type.String({ description: 'the text, or an image/file URL; "" once recalled' }),
  messageType: StringEnum<MessageType>(MESSAGE_TYPES),
  seqId: Type.Integer(),
  sendTime: IsoTime,
  /** The message this one answers (`replyTo` of the send). */
  replyTo: Type.Optional(ReplySnapshotSchema),
  /** A bot's or integration's small JSON object, stored and returned verbatim; clients never render it as markup. */
  extra: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'a JSON object, at most 2 KiB encoded and 4 levels deep' })),
  /** When the sender last edited the content. */
  editedAt: Type.Optional(IsoTime),
  /** When it was recalled: its content, extra, reply snapshot and reactions are gone. */
  recalledAt: Type.Optional(IsoTime),
  /** Who recalled it: the sender, or a group owner or admin removing it. */
  recalledBy: Type.Optional(Id),
  /** Reactions, each emoji once with its count, in the order first used. */
  reactions: Type.Optional(Type.Array(ReactionCountSchema)),
  /** The caller's own reactions on it, a set (no order): only in answers to one user (history, change feed, action answers), never in shared frames. */
  myReactions: Type.Optional(Type.Array(Type.String())),
});

/**
 * A member's own settings of a conversation; nobody else sees them. `muted`: still delivered and
 * counted unread, but the member's clients do not alert; `pinned`: listed before the others;
 * `hidden` (archived): left out of the conversation list until a later message arrives.
 */
export const ConversationSettingsSchema = Type.Object({
  muted: Type.Boolean(),
  pinned: Type.Boolean(),
  hidden: Type.Boolean(),
});

/** A conversation as one member sees it: `unreadCount` and `lastReadSeq` are that member's. */
export const ConversationSchema = Type.Object({
  conversationId: Id,
  type: StringEnum<ConversationType>(CONVERSATION_TYPES),
  name: Type.String(),
  avatar: Type.String(),
  memberCount: Type.Integer(),
  lastMessage: Type.Union([MessageSchema, Type.Null()]),
  unreadCount: Type.Integer(),
  lastReadSeq: Type.Integer(),
  updatedAt: IsoTime,
  /** Only on `single` conversations: the other member. */
  peer: Type.Optional(UserSchema),
  /** Only on `single` conversations: how far the other member has read (its `lastReadSeq`): the read receipt. */
  peerLastReadSeq: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Only on `group` conversations. */
  groupId: Type.Optional(Id),
  /**
   * The conversation's change cursor: the changeSeq of its latest change (0 until something changed).
   * Gap-free per conversation; `GET /api/conversations/{id}/changes?afterChange=N` serves what followed N.
   */
  changeSeq: Type.Integer({ minimum: 0 }),
  /** Only on `group` conversations: the caller's role in the group. */
  myRole: Type.Optional(StringEnum<GroupRole>(GROUP_ROLES)),
  /** The caller's own settings of it. */
  settings: ConversationSettingsSchema,
});

export const GroupSchema = Type.Object({
  groupId: Id,
  conversationId: Id,
  name: Type.String(),
  ownerId: Id,
  memberCount: Type.Integer(),
  createdAt: IsoTime,
  /** `""` or an http(s) URL. */
  avatar: Type.String(),
  description: Type.String(),
});

/** A group as `GET /api/groups` lists it: the group and the caller's role in it. */
export const MyGroupSchema = Type.Composite([GroupSchema, Type.Object({ myRole: StringEnum<GroupRole>(GROUP_ROLES) })]);

export const GroupMemberSchema = Type.Object({
  userId: Id,
  username: Type.String(),
  avatar: Type.String(),
  role: StringEnum<GroupRole>(GROUP_ROLES),
  joinedAt: IsoTime,
});

/** A group's shared information as the change cursor carries it (the `group` change item). */
export const GroupInfoSchema = Type.Object({
  name: Type.String(),
  avatar: Type.String(),
  description: Type.String(),
  ownerId: Id,
  memberCount: Type.Integer(),
});

/**
 * One changed item of a conversation at its latest value, with the changeSeq of its latest change.
 * `null` means gone: a disbanded group, a user who is no longer a member. Clients ignore kinds they
 * do not know (later versions add more).
 */
/** Who reacted how, in a live `message` change item: lets each of the reactor's devices keep `myReactions`. */
export const ReactionEventSchema = Type.Object({ userId: Id, emoji: Type.String(), added: Type.Boolean() });

export const ChangeItemSchema = Type.Union([
  Type.Object({ changeSeq: Type.Integer(), kind: Type.Literal('group'), group: Type.Union([GroupInfoSchema, Type.Null()]) }),
  Type.Object({ changeSeq: Type.Integer(), kind: Type.Literal('member'), userId: Id, member: Type.Union([GroupMemberSchema, Type.Null()]) }),
  /**
   * A message changed (recalled, edited, reacted to): `message` is its state after the change. In a
   * live frame `reaction` says whose reaction changed; in the change feed the item carries the
   * caller's `myReactions` instead.
   */
  Type.Object({ changeSeq: Type.Integer(), kind: Type.Literal('message'), seqId: Type.Integer(), message: MessageSchema, reaction: Type.Optional(ReactionEventSchema) }),
]);

/** One user's reaction, as `GET /api/messages/{messageId}/reactions` lists them. */
export const ReactorSchema = Type.Object({ userId: Id, username: Type.String(), emoji: Type.String(), reactedAt: IsoTime });

export const AuthResultSchema = Type.Object({
  token: Type.String(),
  /** Seconds until the token expires. */
  expiresIn: Type.Integer(),
  user: UserSchema,
});

export const ReadResultSchema = Type.Object({ conversationId: Id, lastReadSeq: Type.Integer(), unreadCount: Type.Integer() });

export const PaginationSchema = Type.Object({
  page: Type.Integer(),
  size: Type.Integer(),
  total: Type.Integer(),
  hasMore: Type.Boolean(),
});

/**
 * The `pagination` of a page of `GET /api/conversations?limit=N` (an extension: docs/protocol.md):
 * the contract's four fields, plus the opaque keyset cursor of the next page (null on the last one).
 */
export const ConversationPaginationSchema = Type.Object({
  page: Type.Integer({ description: '1-based place of this page in the walk that began without a cursor' }),
  size: Type.Integer({ description: 'the limit asked for' }),
  total: Type.Integer({ description: "the caller's conversations, all pages together" }),
  hasMore: Type.Boolean(),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'cursor of the next page; null on the last page' }),
});

// ---- envelopes (seed §2) ----

export const ErrorEnvelopeSchema = Type.Object({
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

/** GET /api/conversations: `pagination` is present exactly when a page was asked for (`limit` or `cursor`). */
export const ConversationListEnvelope = Type.Object({
  success: Type.Literal(true),
  message: Type.String(),
  data: Type.Array(ConversationSchema),
  pagination: Type.Optional(ConversationPaginationSchema),
});

// ---- requests ----

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
/** One line of text: as a group's name at creation. */
const GroupName = Type.String({ minLength: 1, maxLength: 64, pattern: '^\\P{Cc}*$' });
/**
 * `""` (none) or an http(s) URL: nothing else (no `javascript:`) can reach an `<img src>`.
 * Stored as given; clients load it as an image only.
 */
const AvatarUrl = Type.String({ maxLength: 1024, pattern: '^(https?://\\S+)?$', description: '"" or an http(s) URL, at most 1024 characters' });
export const CreateGroupBody = Type.Object(
  {
    // No control characters (newlines included): a name is one line of text in every client.
    groupName: GroupName,
    members: Type.Array(Id, { maxItems: 10_000 }),
  },
  { additionalProperties: false },
);
export const ConversationParams = Type.Object({ conversationId: Id });
export const MemberParams = Type.Object({ conversationId: Id, userId: Id });
/** PUT /api/conversations/{id}: what to change of a group's shared information (at least one field). */
export const UpdateGroupBody = Type.Object(
  {
    name: Type.Optional(GroupName),
    avatar: Type.Optional(AvatarUrl),
    // Newlines and tabs allowed; other control characters are not.
    description: Type.Optional(Type.String({ maxLength: 500, pattern: '^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F]*$', description: 'up to 500 characters; newlines allowed' })),
  },
  { additionalProperties: false, minProperties: 1 },
);
/** PUT /api/conversations/{id}/settings: the caller's own settings to change (at least one). */
export const UpdateSettingsBody = Type.Object(
  { muted: Type.Optional(Type.Boolean()), pinned: Type.Optional(Type.Boolean()), hidden: Type.Optional(Type.Boolean()) },
  { additionalProperties: false, minProperties: 1 },
);
/** POST /api/conversations/{id}/members: who to add (already-members are ignored). */
export const AddMembersBody = Type.Object({ members: Type.Array(Id, { minItems: 1, maxItems: 100 }) }, { additionalProperties: false });
/** PUT /api/conversations/{id}/members/{userId}: the member's new role; `owner` transfers ownership. */
export const SetRoleBody = Type.Object({ role: StringEnum<GroupRole>(GROUP_ROLES) }, { additionalProperties: false });
/** GET /api/conversations/{id}/changes: the items changed after `afterChange`, a page at a time. */
export const ChangesQuery = Type.Object(
  {
    afterChange: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'the changeSeq the client has; items changed after it are served' }),
    size: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'items per page, 1–100, default 50' })),
  },
  { additionalProperties: false },
);
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
/** GET /api/conversations/{id}/members: a page of a group's members, optionally of one role. */
export const MembersQuery = Type.Object(
  {
    page: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000, description: '1-based page, default 1' })),
    size: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'members per page, 1–100, default 50' })),
    role: Type.Optional(StringEnum<GroupRole>(GROUP_ROLES, { description: 'only members with this role' })),
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
  includeHidden: Type.Optional(
    Type.Boolean({ description: 'also the conversations the caller hid (settings.hidden): a client that syncs every conversation asks for them; the whole list only' }),
  ),
});

/** PUT /api/conversations/{id}/read: how far (absent: everything, as the seed's bodiless request). */
export const MarkReadBody = Type.Object(
  { seqId: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'read up to and including this seqId; past the newest message means the newest; the pointer never moves back' })) },
  { additionalProperties: false },
);
export const MessageParams = Type.Object({ messageId: Id });
export const ReactionParams = Type.Object({ messageId: Id, emoji: Type.String({ minLength: 1, maxLength: 64, description: 'one emoji grapheme, percent-encoded in the path' }) });
/** PUT /api/messages/{messageId}: the sender's new text. */
export const EditMessageBody = Type.Object({ content: Type.String() }, { additionalProperties: false });
/** GET /api/messages/{messageId}/reactions: a page of who reacted, optionally with one emoji. */
export const ReactionsQuery = Type.Object(
  {
    emoji: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'only reactions with this emoji' })),
    page: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000, description: '1-based page, default 1' })),
    size: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'reactions per page, 1–100, default 50' })),
  },
  { additionalProperties: false },
);

// ---- WebSocket frames (seed §7): `{type, data}`; ping and pong need no data ----

/** A reply's target: a message of the same conversation, by id. */
const ReplyTo = Type.String({ minLength: 1, maxLength: 64, description: 'messageId of a message of the same conversation this one answers' });
/** Bounded again in logic (2 KiB encoded, 4 levels); the schema says it is an object. */
const Extra = Type.Record(Type.String(), Type.Unknown(), { description: 'a JSON object for bots and integrations, at most 2 KiB encoded and 4 levels deep, stored and returned verbatim' });

export const SendMessageData = Type.Object(
  {
    conversationId: Id,
    content: Type.String(),
    // `system` messages are the server's own (contract.md): a client may not send one.
    messageType: Type.Optional(Type.Union(CLIENT_MESSAGE_TYPES.map((t) => Type.Literal(t)))),
    tempMessageId: Type.String({ minLength: 1, maxLength: 128 }),
    replyTo: Type.Optional(ReplyTo),
    extra: Type.Optional(Extra),
  },
  { additionalProperties: false },
);

/** POST /api/conversations/{id}/messages: a send over HTTP, the frame's fields but the conversation (in the path). */
export const PostMessageBody = Type.Object(
  {
    content: Type.String(),
    messageType: Type.Optional(Type.Union(CLIENT_MESSAGE_TYPES.map((t) => Type.Literal(t)))),
    tempMessageId: Type.String({ minLength: 1, maxLength: 128, description: 'the idempotency key: a repeat answers 200 with the message stored first' }),
    replyTo: Type.Optional(ReplyTo),
    extra: Type.Optional(Extra),
  },
  { additionalProperties: false },
);

/** `mark-read` (the original design's frame): the read pointer, as `PUT …/read {seqId}` moves it. */
export const MarkReadData = Type.Object(
  { conversationId: Id, seqId: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })) },
  { additionalProperties: false },
);

/** `typing` / `stop-typing`: the user is composing in (or stopped composing in) a conversation. */
export const TypingData = Type.Object({ conversationId: Id }, { additionalProperties: false });

/** Frames a client sends. A `ping` may carry `data` (old clients send `{}`); the server ignores it. */
export const ClientFrameSchema = Type.Union([
  Type.Object({ type: Type.Literal('send-message'), data: SendMessageData }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('mark-read'), data: MarkReadData }, { additionalProperties: false }),
  // The original design's typing frames: not stored, not acked.
  Type.Object({ type: Type.Literal('typing'), data: TypingData }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('stop-typing'), data: TypingData }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('ping'), data: Type.Optional(Type.Unknown()) }, { additionalProperties: false }),
]);

export const MessageAckSchema = Type.Object({
  tempMessageId: Type.String(),
  messageId: Id,
  conversationId: Id,
  seqId: Type.Integer(),
  sendTime: IsoTime,
});

export const ErrorFrameDataSchema = Type.Object({
  message: Type.String(),
  code: Type.String({ description: 'an ErrorCode from docs/errors.md' }),
  /** Set when the error answers a `send-message`: which one. */
  tempMessageId: Type.Optional(Type.String()),
});

/** `conversation-update`: items of a conversation changed; `fromChangeSeq` is the previous changeSeq + 1. */
export const ConversationUpdateSchema = Type.Object({
  conversationId: Id,
  fromChangeSeq: Type.Integer(),
  changeSeq: Type.Integer(),
  items: Type.Array(ChangeItemSchema),
});

/** `conversation-removed`: the conversation is gone for this user; `seqId` is the system message that said so. */
export const ConversationRemovedSchema = Type.Object({
  conversationId: Id,
  reason: StringEnum<'removed' | 'left' | 'disbanded'>(['removed', 'left', 'disbanded']),
  seqId: Type.Integer(),
});

/** `conversation-settings`: the user changed its own settings of a conversation (on any of its devices). */
export const ConversationSettingsFrameSchema = Type.Object({ conversationId: Id, settings: ConversationSettingsSchema });

export const TypingIndicatorSchema = Type.Object({
  conversationId: Id,
  userId: Id,
  username: Type.String(),
  typing: Type.Boolean(),
  /** How long to show it without a renewal (0 when `typing` is false). */
  expiresInMs: Type.Integer({ minimum: 0 }),
});

/** `read-receipt`: another member's read pointer of a conversation moved (1:1 conversations). */
export const ReadReceiptSchema = Type.Object({ conversationId: Id, userId: Id, lastReadSeq: Type.Integer({ minimum: 0 }) });

/** Frames the server sends. Clients must ignore types they do not know. */
export const ServerFrameSchema = Type.Union([
  Type.Object({ type: Type.Literal('new-message'), data: MessageSchema }),
  Type.Object({ type: Type.Literal('message-ack'), data: MessageAckSchema }),
  Type.Object({ type: Type.Literal('pong') }),
  Type.Object({ type: Type.Literal('error'), data: ErrorFrameDataSchema }),
  Type.Object({ type: Type.Literal('conversation-added'), data: ConversationSchema }),
  Type.Object({ type: Type.Literal('conversation-update'), data: ConversationUpdateSchema }),
  Type.Object({ type: Type.Literal('conversation-removed'), data: ConversationRemovedSchema }),
  Type.Object({ type: Type.Literal('conversation-settings'), data: ConversationSettingsFrameSchema }),
  /**
   * Someone in a conversation is composing (`typing` true, until `expiresInMs` from receipt unless
   * renewed) or stopped. To the other members only; never stored, and dropped first under load.
   */
  Type.Object({ type: Type.Literal('typing-indicator'), data: TypingIndicatorSchema }),
  /** The user's read pointer of a conversation moved (on any of its devices): its own devices only. */
  Type.Object({ type: Type.Literal('conversation-read'), data: ReadResultSchema }),
  /** The other member of a 1:1 read further: to the reader's peer's devices only. */
  Type.Object({ type: Type.Literal('read-receipt'), data: ReadReceiptSchema }),
]);
