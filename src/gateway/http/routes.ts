/** The seed's HTTP API (§3–6): each route validates with its schema, calls LogicApi, wraps the envelope. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { LogicApi, Session } from '../../logic/api.js';
import { AppError, encodeSuccessEnvelope, LIMITS, type HistoryQuery } from '../../protocol/index.js';
import {
  AddMembersBody,
  AuthResultSchema,
  ChangeItemSchema,
  ChangesQuery,
  ConversationListEnvelope,
  ConversationParams,
  ConversationSchema,
  ConversationsQuery,
  CreateConversationBody,
  CreateGroupBody,
  envelope,
  ErrorEnvelopeSchema,
  GroupMemberSchema,
  GroupParams,
  GroupSchema,
  MyGroupSchema,
  GuestBody,
  LoginBody,
  MessageSchema,
  MessageParams,
  MarkReadBody,
  EditMessageBody,
  ReactionParams,
  ReactionsQuery,
  ReactorSchema,
  MemberParams,
  MembersQuery,
  MessagesQuery,
  PostMessageBody,
  ReadResultSchema,
  RegisterBody,
  SetRoleBody,
  UpdateGroupBody,
  UpdateSettingsBody,
  UserSchema,
  UsernameParams,
} from '../../protocol/schemas.js';

declare module 'fastify' {
  interface FastifyRequest {
    session: Session | null;
  }
}

const ok = <T>(data: T, message = 'OK') => ({ success: true as const, message, data });

const errors = {
  400: ErrorEnvelopeSchema,
  401: ErrorEnvelopeSchema,
  403: ErrorEnvelopeSchema,
  404: ErrorEnvelopeSchema,
  409: ErrorEnvelopeSchema,
  413: ErrorEnvelopeSchema,
  429: ErrorEnvelopeSchema,
  500: ErrorEnvelopeSchema,
  // Storage that cannot write, a full password-hashing queue, shutdown (retryable).
  503: ErrorEnvelopeSchema,
};
const secured = [{ bearerAuth: [] }];

/** The bearer token of `Authorization: Bearer <jwt>`, or '' when absent. */
export function bearerToken(req: FastifyRequest): string {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? '';
}

function session(req: FastifyRequest): Session {
  if (!req.session) throw new AppError('UNAUTHORIZED');
  return req.session;
}

function historyQuery(query: Static<typeof MessagesQuery>): HistoryQuery {
  const size = query.size ?? LIMITS.pageSizeDefault;
  const cursors = [query.afterSeq, query.beforeSeq, query.page].filter((v) => v !== undefined).length;
  if (cursors > 1) {
    throw new AppError('VALIDATION_ERROR', 'querystring: use only one of page, afterSeq and beforeSeq', { field: 'page' });
  }
  if (query.afterSeq !== undefined) return { kind: 'after', afterSeq: query.afterSeq, size };
  if (query.beforeSeq !== undefined) return { kind: 'before', beforeSeq: query.beforeSeq, size };
  return { kind: 'page', page: query.page ?? 1, size };
}

export function registerRoutes(app: FastifyInstance, logic: LogicApi): void {
  app.decorateRequest('session', null);
  const authenticate = async (req: FastifyRequest) => {
    req.session = await logic.authenticate(bearerToken(req));
  };
  const client = (req: FastifyRequest) => ({ ip: req.ip });

  app.post(
    '/api/auth/register',
    { schema: { tags: ['auth'], summary: 'Register a user', body: RegisterBody, response: { 201: envelope(UserSchema), ...errors } } },
    async (req, reply: FastifyReply) => {
      const user = await logic.register(req.body as Static<typeof RegisterBody>, client(req));
      return reply.code(201).send(ok(user, 'Registered'));
    },
  );

  app.post(
    '/api/auth/login',
    { schema: { tags: ['auth'], summary: 'Log in', body: LoginBody, response: { 200: envelope(AuthResultSchema), ...errors } } },
    async (req) => ok(await logic.login(req.body as Static<typeof LoginBody>, client(req)), 'Logged in'),
  );

  app.post(
    '/api/auth/guest',
    { schema: { tags: ['auth'], summary: 'Enter as a guest', body: GuestBody, response: { 200: envelope(AuthResultSchema), ...errors } } },
    async (req) => ok(await logic.guest(req.body as Static<typeof GuestBody>, client(req)), 'Logged in as guest'),
  );

  app.post(
    '/api/auth/logout',
    {
      preHandler: authenticate,
      schema: { tags: ['auth'], summary: 'Revoke this token', security: secured, response: { 200: envelope(Type.Null()), ...errors } },
    },
    async (req) => {
      await logic.logout(session(req));
      return ok(null, 'Logged out');
    },
  );

  app.get(
    '/api/users/info',
    {
      preHandler: authenticate,
      schema: { tags: ['users'], summary: 'The current user', security: secured, response: { 200: envelope(UserSchema), ...errors } },
    },
    async (req) => ok(await logic.getUserInfo(session(req))),
  );

  // Extension (not in the seed): lets a client start a chat with a name instead of an id.
  app.get(
    '/api/users/by-username/:username',
    {
      preHandler: authenticate,
      schema: {
        tags: ['users'],
        summary: 'Look a user up by username (case-insensitive)',
        security: secured,
        params: UsernameParams,
        response: { 200: envelope(UserSchema), ...errors },
      },
    },
    async (req) => ok(await logic.findUserByUsername(session(req), (req.params as Static<typeof UsernameParams>).username)),
  );

  app.get(
    '/api/conversations',
    {
      preHandler: authenticate,
      schema: {
        tags: ['conversations'],
        summary: 'My conversations, pinned first, then newest activity first: all of them, or a page with limit and cursor',
        description:
          'Without limit and cursor: every conversation, no pagination (the contract). With limit (and cursor, the previous ' +
          "page's pagination.nextCursor): at most limit conversations, and pagination {page, size, total, hasMore, nextCursor}. " +
          'Keyset paging: a conversation that did not change during the walk is on exactly one page; see docs/protocol.md. ' +
          'Conversations I hid (settings.hidden) are left out until their next message; includeHidden=true (whole list only) keeps them.',
        security: secured,
        querystring: ConversationsQuery,
        response: { 200: ConversationListEnvelope, ...errors },
      },
    },
    async (req) => {
      const { limit, cursor, includeHidden } = req.query as Static<typeof ConversationsQuery>;
      if (limit === undefined && cursor === undefined) return ok(await logic.listConversations(session(req), { includeHidden: includeHidden === true }));
      const page = await logic.listConversationsPage(session(req), {
        limit: limit ?? LIMITS.pageSizeDefault,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      return { ...ok(page.conversations), pagination: page.pagination };
    },
  );

  app.post(
    '/api/conversations',
    {
      preHandler: authenticate,
      schema: {
        tags: ['conversations'],
        summary: 'Open the 1:1 conversation with a user (201 new, 200 existing)',
        security: secured,
        body: CreateConversationBody,
        response: { 200: envelope(ConversationSchema), 201: envelope(ConversationSchema), ...errors },
      },
    },
    async (req, reply) => {
      const { targetUserId } = req.body as Static<typeof CreateConversationBody>;
      const { conversation, created } = await logic.openSingleConversation(session(req), targetUserId);
      return reply.code(created ? 201 : 200).send(ok(conversation, created ? 'Conversation created' : 'Conversation exists'));
    },
  );

  // Extension (the original design's): one conversation, as the caller's list shows it.
  app.get(
    '/api/conversations/:conversationId',
    {
      preHandler: authenticate,
      schema: {
        tags: ['conversations'],
        summary: 'One conversation of any type, as my conversation list shows it',
        security: secured,
        params: ConversationParams,
        response: { 200: envelope(ConversationSchema), ...errors },
      },
    },
    async (req) => {
      const { conversationId } = req.params as Static<typeof ConversationParams>;
      return ok(await logic.getConversation(session(req), conversationId));
    },
  );

  // Extension (the original design's): a group's members, a page at a time.
  app.get(
    '/api/conversations/:conversationId/members',
    {
      preHandler: authenticate,
      schema: {
        tags: ['conversations'],
        summary: "A page of a group conversation's members, in the order they joined; role filters",
        description: 'Members only. A 1:1 or the world room: 400 NOT_GROUP_CONVERSATION (the world is every user: never listed).',
        security: secured,
        params: ConversationParams,
        querystring: MembersQuery,
        response: { 200: envelope(Type.Array(GroupMemberSchema), true), ...errors },
      },
    },
    async (req) => {
      const { conversationId } = req.params as Static<typeof ConversationParams>;
      const { page, size, role } = req.query as Static<typeof MembersQuery>;
      const result = await logic.listMembers(session(req), conversationId, {
        page: page ?? 1,
        size: size ?? LIMITS.pageSizeDefault,
        ...(role !== undefined ? { role } : {}),
      });
      return { ...ok(result.members), pagination: result.pagination };
    },
  );

  // ---- group administration (extensions, the original design's paths: docs/protocol.md) ----

  app.put(
    '/api/conversations/:conversationId',
    {
      preHandler: authenticate,
      schema: {
        tags: ['conversations'],
        summary: "Rename a group or set its avatar or description (owner or admin)",
        description: 'Appends a `group-updated` system message. A change to nothing new writes nothing. 1:1 and world: 400 NOT_GROUP_CONVERSATION.',
        security: secured,
        params: ConversationParams,
        body: UpdateGroupBody,
        response: { 200: envelope(ConversationSchema), ...errors },
      },
    },
    async (req) => {
      const { conversationId } = req.params as Static<typeof ConversationParams>;
      return ok(await logic.updateGroup(session(req), conversationId, req.body as Static<typeof UpdateGroupBody>), 'Group updated');
    },
  );

  app.delete(
    '/api/conversations/:conversationId',
    {
      preHandler: authenticate,
      schema: {
        tags: ['conversations'],
        summary: 'Disband a group (owner): every member loses it',
        security: secured,
        params: ConversationParams,
        response: { 200: envelope(Type.Null()), ...errors },
      },
    },
    async (req) => {
      const { conversationId } = req.params as Static<typeof ConversationParams>;
      await logic.disbandGroup(session(req), conversationId);
      return ok(null, 'Group disbanded');
    },
  );

  app.post(
    '/api/conversations/:conversationId/members',
    {
      preHandler: authenticate,
      schema: {
        tags: ['conversations'],
        summary: 'Add members to a group (owner or admin); answers those actually added',
        description: 'Already-members are ignored; when nobody is new nothing is written. All or none: 409 GROUP_FULL past the member cap, 404 USER_NOT_FOUND (details.userIds) for unknown ids.',
        security: secured,
        params: ConversationParams,
        body: AddMembersBody,
        response: { 200: envelope(Type.Array(GroupMemberSchema)), ...errors },
      },
    },
    async (req) => {
      const { conversationId } = req.params as Static<typeof ConversationParams>;
      const { members } = req.body as Static<typeof AddMembersBody>;
      return ok(await logic.addMembers(session(req), conversationId, members), 'Members added');
    },
  );

  app.delete(
    '/api/conversations/:conversationId/members/:userId',
    {
      preHandler: authenticate,
      schema: {
        tags: ['conversations'],
        summary: 'Remove a member (owner or admin), or leave (your own id)',
        description: 'The owner leaves only as the last member (the group is then disbanded): otherwise 409 OWNER_MUST_TRANSFER.',
        security: secured,
        params: MemberParams,
        response: { 200: envelope(Type.Null()), ...errors },
      },
    },
    async (req) => {
      const { conversationId, userId } = req.params as Static<typeof MemberParams>;
      await logic.removeMember(session(req), conversationId, userId);
      return ok(null, userId === session(req).userId ? 'Left the group' : 'Member removed');
    },
  );

  app.put(
    '/api/conversations/:conversationId/members/:userId',
    {
      preHandler: authenticate,
      schema: {
        tags: ['conversations'],
        summary: "Change a member's role (owner); role owner transfers ownership and makes you an admin",
        security: secured,
        params: MemberParams,
        body: SetRoleBody,
        response: { 200: envelope(GroupMemberSchema), ...errors },
      },
    },
    async (req) => {
      const { conversationId, userId } = req.params as Static<typeof MemberParams>;
      const { role } = req.body as Static<typeof SetRoleBody>;
      return ok(await logic.setMemberRole(session(req), conversationId, userId, role), 'Role changed');
    },
  );

  app.put(
    '/api/conversations/:conversationId/settings',
    {
      preHandler: authenticate,
      schema: {
        tags: ['conversations'],
        summary: 'My own settings of a conversation: mute, pin, hide (archive)',
        description:
          'Any conversation I am a member of. muted: still delivered and counted unread, my clients do not alert; pinned: listed first; ' +
          'hidden: left out of my list until its next message. All my devices get conversation-settings. Nobody else sees them.',
        security: secured,
        params: ConversationParams,
        body: UpdateSettingsBody,
        response: { 200: envelope(ConversationSchema), ...errors },
      },
    },
    async (req) => {
      const { conversationId } = req.params as Static<typeof ConversationParams>;
      return ok(await logic.updateSettings(session(req), conversationId, req.body as Static<typeof UpdateSettingsBody>), 'Settings saved');
    },
  );

  app.get(
    '/api/conversations/:conversationId/changes',
    {
      preHandler: authenticate,
      schema: {
        tags: ['conversations'],
        summary: 'The change cursor: every item changed after afterChange, once, at its latest value',
        description: 'Ascending changeSeq. The next page starts after the last item\'s changeSeq; when hasMore is false that is the conversation\'s changeSeq.',
        security: secured,
        params: ConversationParams,
        querystring: ChangesQuery,
        response: { 200: envelope(Type.Array(ChangeItemSchema), true), ...errors },
      },
    },
    async (req) => {
      const { conversationId } = req.params as Static<typeof ConversationParams>;
      const { afterChange, size } = req.query as Static<typeof ChangesQuery>;
      const result = await logic.getChanges(session(req), conversationId, afterChange, size ?? LIMITS.pageSizeDefault);
      return { ...ok(result.items), pagination: result.pagination };
    },
  );

  app.get(
    '/api/conversations/:conversationId/messages',
    {
      preHandler: authenticate,
      schema: {
        tags: ['messages'],
        summary: 'Message history: page 1 is the newest; afterSeq for catch-up, beforeSeq for scroll-back',
        security: secured,
        params: ConversationParams,
        querystring: MessagesQuery,
        response: { 200: envelope(Type.Array(MessageSchema), true), ...errors },
      },
    },
    async (req, reply: FastifyReply) => {
      const { conversationId } = req.params as Static<typeof ConversationParams>;
      const query = historyQuery(req.query as Static<typeof MessagesQuery>);
      const { messages, pagination } = await logic.getMessages(session(req), conversationId, query);
      // The page usually holds the text the store kept with each message: the codec splices it
      // into the envelope the response schema describes. A string with a JSON type is sent as is.
      return reply.type('application/json; charset=utf-8').send(encodeSuccessEnvelope(messages, 'OK', pagination));
    },
  );

  // The original design's send over HTTP, for bots and integrations: the WebSocket send's rules.
  app.post(
    '/api/conversations/:conversationId/messages',
    {
      preHandler: authenticate,
      schema: {
        tags: ['messages'],
        summary: 'Send a message over HTTP: 201 once stored (200 with the original for a repeated tempMessageId)',
        description:
          'The same checks, rate limits, idempotency and ack-after-commit as send-message on the WebSocket. ' +
          'Every member\'s sockets get new-message, the sender\'s included.',
        security: secured,
        params: ConversationParams,
        body: PostMessageBody,
        response: { 200: envelope(MessageSchema), 201: envelope(MessageSchema), ...errors },
      },
    },
    async (req, reply) => {
      const { conversationId } = req.params as Static<typeof ConversationParams>;
      const body = req.body as Static<typeof PostMessageBody>;
      const { message, created } = await logic.postMessage(session(req), { conversationId, ...body });
      return reply.code(created ? 201 : 200).send(ok(message, created ? 'Message sent' : 'Message already sent'));
    },
  );

  // ---- message actions (docs/protocol.md "Message actions"): the original design's /messages/{id} ----

  app.delete(
    '/api/messages/:messageId',
    {
      preHandler: authenticate,
      schema: {
        tags: ['messages'],
        summary: 'Recall a message: its sender within the recall window, a group owner or admin at any time',
        description: 'The message keeps its seqId and place, its content, extra, reply snapshot and reactions are gone for everyone. Recalling it again changes nothing.',
        security: secured,
        params: MessageParams,
        response: { 200: envelope(MessageSchema), ...errors },
      },
    },
    async (req) => {
      const { messageId } = req.params as Static<typeof MessageParams>;
      return ok(await logic.recallMessage(session(req), messageId), 'Message recalled');
    },
  );

  app.put(
    '/api/messages/:messageId',
    {
      preHandler: authenticate,
      schema: {
        tags: ['messages'],
        summary: "Edit the text of one's own text message",
        description: 'The message carries editedAt. With GOCHAT_EDIT_WINDOW_SECONDS set, only within that time of sending.',
        security: secured,
        params: MessageParams,
        body: EditMessageBody,
        response: { 200: envelope(MessageSchema), ...errors },
      },
    },
    async (req) => {
      const { messageId } = req.params as Static<typeof MessageParams>;
      const { content } = req.body as Static<typeof EditMessageBody>;
      return ok(await logic.editMessage(session(req), messageId, content), 'Message edited');
    },
  );

  app.put(
    '/api/messages/:messageId/reactions/:emoji',
    {
      preHandler: authenticate,
      schema: {
        tags: ['messages'],
        summary: 'React to a message with one emoji (again: no change)',
        security: secured,
        params: ReactionParams,
        response: { 200: envelope(MessageSchema), ...errors },
      },
    },
    async (req) => {
      const { messageId, emoji } = req.params as Static<typeof ReactionParams>;
      return ok(await logic.setReaction(session(req), messageId, emoji, true), 'Reaction added');
    },
  );

  app.delete(
    '/api/messages/:messageId/reactions/:emoji',
    {
      preHandler: authenticate,
      schema: {
        tags: ['messages'],
        summary: "Take back one's reaction with this emoji (none: no change)",
        security: secured,
        params: ReactionParams,
        response: { 200: envelope(MessageSchema), ...errors },
      },
    },
    async (req) => {
      const { messageId, emoji } = req.params as Static<typeof ReactionParams>;
      return ok(await logic.setReaction(session(req), messageId, emoji, false), 'Reaction removed');
    },
  );

  app.get(
    '/api/messages/:messageId/reactions',
    {
      preHandler: authenticate,
      schema: {
        tags: ['messages'],
        summary: 'Who reacted to a message, oldest first (with emoji: only that emoji)',
        security: secured,
        params: MessageParams,
        querystring: ReactionsQuery,
        response: { 200: envelope(Type.Array(ReactorSchema), true), ...errors },
      },
    },
    async (req) => {
      const { messageId } = req.params as Static<typeof MessageParams>;
      const { emoji, page, size } = req.query as Static<typeof ReactionsQuery>;
      const result = await logic.listReactions(session(req), messageId, { page: page ?? 1, size: size ?? LIMITS.pageSizeDefault, ...(emoji !== undefined ? { emoji } : {}) });
      return { ...ok(result.reactors), pagination: result.pagination };
    },
  );

  app.put(
    '/api/conversations/:conversationId/read',
    {
      preHandler: authenticate,
      schema: {
        tags: ['conversations'],
        summary: 'Move the read pointer: up to seqId, or (no body, or no seqId) up to the newest message',
        description: 'The pointer never moves back and never past the newest message. When it moved, every device of the caller gets conversation-read.',
        security: secured,
        params: ConversationParams,
        body: MarkReadBody,
        response: { 200: envelope(ReadResultSchema), ...errors },
      },
    },
    async (req) => {
      const { conversationId } = req.params as Static<typeof ConversationParams>;
      // The seed's request has no body: absent is "everything".
      const body = (req.body ?? {}) as Static<typeof MarkReadBody>;
      return ok(await logic.markRead(session(req), conversationId, body.seqId), 'Marked read');
    },
  );

  app.post(
    '/api/groups',
    {
      preHandler: authenticate,
      schema: {
        tags: ['groups'],
        summary: 'Create a group; the creator becomes its owner',
        security: secured,
        body: CreateGroupBody,
        response: { 201: envelope(Type.Object({ group: GroupSchema, conversation: ConversationSchema })), ...errors },
      },
    },
    async (req, reply) => {
      const result = await logic.createGroup(session(req), req.body as Static<typeof CreateGroupBody>);
      return reply.code(201).send(ok(result, 'Group created'));
    },
  );

  // Extension (the original design's): my groups and my role in each.
  app.get(
    '/api/groups',
    {
      preHandler: authenticate,
      schema: {
        tags: ['groups'],
        summary: 'My groups, with my role in each, newest activity first',
        security: secured,
        response: { 200: envelope(Type.Array(MyGroupSchema)), ...errors },
      },
    },
    async (req) => ok(await logic.listGroups(session(req))),
  );

  app.get(
    '/api/groups/:groupId',
    {
      preHandler: authenticate,
      schema: {
        tags: ['groups'],
        summary: 'A group and its members',
        security: secured,
        params: GroupParams,
        response: { 200: envelope(Type.Object({ group: GroupSchema, members: Type.Array(GroupMemberSchema) })), ...errors },
      },
    },
    async (req) => {
      const { groupId } = req.params as Static<typeof GroupParams>;
      return ok(await logic.getGroup(session(req), groupId));
    },
  );
}
