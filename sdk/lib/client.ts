/**
 * GoChatClient: the REST API and the WebSocket in one object, reliable by itself. A thin facade
 * over its parts: the {@link Connection} (reconnects with backoff), the {@link Outbox} (resends
 * unacked messages with their tempMessageId), {@link CatchUp} (fetches what was missed and emits
 * every message once, in seqId order), {@link ConversationSync} (the kept conversations and their
 * change cursor) and {@link MessageChanges} (recalls, edits and reactions, after their message).
 */
import {
  LIMITS,
  type AuthResult,
  type ChangeItem,
  type Conversation,
  type ConversationPagination,
  type ConversationRemoved,
  type ConversationSettings,
  type ConversationSettingsChanged,
  type ConversationUpdate,
  type Group,
  type GroupInfoPatch,
  type GroupMember,
  type GroupRole,
  type Message,
  type MessageAck,
  type MyGroup,
  type ClientMessageType,
  type Pagination,
  type Reactor,
  type ReadReceipt,
  type ReadResult,
  type SendMessagePayload,
  type User,
} from '../../src/protocol/index.js';
import type { BackoffOptions } from './backoff.js';
import { CatchUp } from './catch-up.js';
import { ConversationSync } from './conversation-sync.js';
import { Connection, type ConnectionState } from './connection.js';
import { LOCAL_CLOSE_CODES } from './disconnect.js';
import { Emitter } from './emitter.js';
import { GoChatError, knownCode } from './errors.js';
import { MessageChanges, type MessageChanged } from './message-changes.js';
import { Outbox } from './outbox.js';
import { ReadMarks } from './read-marks.js';
import { RestClient, type FetchLike } from './rest.js';
import { Typing, type Typer, type TypingIndicator } from './typing.js';
import type { FrameSocket, IncomingFrame, WebSocketFactory } from './socket.js';

export type { ConnectionState } from './connection.js';
export type { MessageChanged } from './message-changes.js';
export type { Typer, TypingIndicator } from './typing.js';

/**
 * `conversation-removed` as the SDK tells it: the frame's data, or, when a reconnect found the
 * conversation gone (its frame came while this device was away), `reason: 'gone'` and no seqId.
 */
export type ConversationRemovedEvent = ConversationRemoved | { conversationId: string; reason: 'gone' };

/** Events of {@link GoChatClient}; subscribe with `client.on(name, listener)`. */
export interface GoChatEvents {
  /** Every message of every conversation (your own sends included, once acked), once each, in seqId order per conversation. */
  message: Message;
  /** A send of yours was durably stored. */
  ack: MessageAck;
  /** Errors not tied to a pending `send()` (those reject its promise): lost auth, failed catch-up, bad frames. */
  error: GoChatError;
  state: ConnectionState;
  /** A (re)connect finished catching up: every message sent while away has been emitted. */
  synced: { conversations: number };
  /** Every frame the server sent, including types this SDK does not know (read receipts, presence…). */
  frame: IncomingFrame;
  /** A conversation appeared for you: a group you were added to or created elsewhere, a 1:1 someone opened with you. */
  'conversation-added': Conversation;
  /**
   * Items of a conversation changed (its name, avatar, members, roles, a message): each at its latest value.
   * `fromChangeSeq` is one past the conversation's previous `changeSeq`: a larger one means frames
   * were missed, fetch `changes(conversationId, previous)`.
   */
  'conversation-changed': ConversationUpdate;
  /**
   * A conversation is gone for you (removed, left, disbanded); its messages stop arriving. Drop what
   * you hold of it: while you are out of it its messages may be recalled or edited, and nothing tells
   * you (if you are added back, read its history again). `reason: 'gone'` when a reconnect found it
   * gone: its frame came while this device was away.
   */
  'conversation-removed': ConversationRemovedEvent;
  /**
   * The other member of a 1:1 read further: your messages up to `lastReadSeq` are read (✓✓). The
   * kept conversation's `peerLastReadSeq` follows it.
   */
  'read-receipt': ReadReceipt;
  /** You changed your own settings of a conversation (mute, pin, hide), on this device or another. */
  'conversation-settings': ConversationSettingsChanged;
  /**
   * A message was recalled, edited or reacted to: its state after the change, never before the
   * message's own `message` event. `live` from frames (no `myReactions`: apply `reaction` when it is
   * yours), `catch-up` from the change feed after a reconnect or a gap, with `keepConversations`
   * (`myReactions` yours, absent meaning none). {@link applyMessageChange} keeps both right.
   */
  'message-changed': MessageChanged;
  /**
   * Your read pointer of a conversation moved, on this device or another of yours ({@link
   * GoChatClient.markRead}, {@link GoChatClient.markReadUpTo}, or any other client): the new
   * `lastReadSeq` and `unreadCount`. With `keepConversations` the kept conversation follows it
   * (never backwards: a frame with a lower `lastReadSeq` than the kept one leaves it as it is).
   */
  'conversation-read': ReadResult;
  /**
   * Another member of a conversation is composing (`typing: true`: show it for `expiresInMs`
   * unless renewed) or stopped (`false`). {@link GoChatClient.typingIn} keeps the current list.
   */
  typing: TypingIndicator;
}

export interface GoChatClientOptions {
  /** Server origin, e.g. `http://127.0.0.1:8080`. Default: the page's origin in a browser. */
  baseUrl?: string;
  /** WebSocket URL; default: `baseUrl` with ws(s): and path `/ws`. */
  wsUrl?: string;
  /** A token from an earlier login, to resume a session. */
  token?: string;
  /** Default: `globalThis.WebSocket`. In Node 20 pass `WebSocket` from the `ws` package. */
  WebSocket?: WebSocketFactory;
  /** Default: `globalThis.fetch`. */
  fetch?: FetchLike;
  /** Reconnect delays. Default 500 ms growing ×2 up to 20 s, with jitter. */
  reconnect?: BackoffOptions;
  /** Default 30 s, as the contract asks of clients. */
  pingIntervalMs?: number;
  /** A connection silent this long after a ping is dropped and reconnected. Default 10 s. */
  pongTimeoutMs?: number;
  /** HTTP request timeout. Default 15 s. */
  requestTimeoutMs?: number;
  /** A `send()` not acked after this long rejects with TIMEOUT; 0 waits across reconnects for ever. Default 0. */
  sendTimeoutMs?: number;
  /** Unacked sends kept at most; more reject with OUTBOX_FULL. Default 1000. */
  maxOutbox?: number;
  /** Track conversations and fetch what was missed on reconnect. Default true; false emits live frames only. */
  catchUp?: boolean;
  /**
   * Keep the conversation list (and, with `members`, each group's members) equal to the server's:
   * read with {@link GoChatClient.knownConversations} and {@link GoChatClient.knownMembers}; kept by
   * the live conversation frames and, after every reconnect, the list and the change cursor
   * (docs/protocol.md), whose message items are the recalls, edits and reactions missed meanwhile
   * (`message-changed`, source `catch-up`). Default off.
   */
  keepConversations?: boolean | { members: boolean };
  /** The clock (milliseconds) of typing throttling and expiry. Default `Date.now`; tests inject one. */
  now?: () => number;
}

export interface SendOptions {
  messageType?: ClientMessageType;
  /** Your id for this send; reuse it to retry the same message without duplicating it. Default: a random id. */
  tempMessageId?: string;
  /** The messageId of a message of the same conversation this one answers; the stored message carries its `replyTo` snapshot. */
  replyTo?: string;
  /** A small JSON object for bots and integrations (at most 2 KiB encoded, 4 levels deep), stored and returned verbatim. */
  extra?: Record<string, unknown>;
}

/** Which page of a message's reactions: `emoji` keeps one emoji; `page` from 1, `size` 1–100 (default 50). */
export interface ReactionsQuery {
  emoji?: string;
  page?: number;
  size?: number;
}

/** The fields of a send that the server stores besides the content: only those given. */
function sendFields(options: SendOptions): { messageType: ClientMessageType; replyTo?: string; extra?: Record<string, unknown> } {
  return {
    messageType: options.messageType ?? 'text',
    ...(options.replyTo !== undefined ? { replyTo: options.replyTo } : {}),
    // Copied as JSON sends it: the app may change its object after sending, and what a rebuilt
    // message (from the ack) carries must be what the server stored.
    ...(options.extra !== undefined ? { extra: JSON.parse(JSON.stringify(options.extra)) as Record<string, unknown> } : {}),
  };
}

/** History query: one of `page` (1 = newest), `afterSeq` (catch-up) or `beforeSeq` (scroll-back). */
export interface MessagesQuery {
  page?: number;
  afterSeq?: number;
  beforeSeq?: number;
  /** 1–100, default 50. */
  size?: number;
}

export interface MessagePage {
  /** Ascending seqId. */
  messages: Message[];
  pagination: Pagination;
}

/** Which page of the conversation list: `limit` 1–100 (default 50), `cursor` the previous page's `nextCursor`. */
export interface ConversationsPageQuery {
  limit?: number;
  cursor?: string;
}

export interface ConversationsPage {
  /** Newest activity first, as {@link GoChatClient.conversations} has them. */
  conversations: Conversation[];
  /** `nextCursor` is null on the last page. */
  pagination: ConversationPagination;
}

/**
 * A fresh tempMessageId: a UUIDv7 (RFC 9562), 48 bits of milliseconds then 74 random bits.
 * Time-ordered ids land at the end of the server's idempotency index instead of on a random
 * page of it, which makes each stored message cheaper (docs/performance.md); they are still
 * unique without coordination.
 *
 * @example
 * ```ts
 * const tempMessageId = createTempId(); // keep it to show "pending", and to retry the same message
 * ```
 */
export function createTempId(now: number = Date.now()): string {
  const bytes = new Uint8Array(16);
  const cryptoApi = (globalThis as { crypto?: { getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (cryptoApi?.getRandomValues) cryptoApi.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  let time = Math.max(0, Math.floor(now));
  for (let i = 5; i >= 0; i--) {
    bytes[i] = time % 256;
    time = Math.floor(time / 256);
  }
  bytes[6] = (bytes[6]! & 0x0f) | 0x70; // version 7
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function defaultBaseUrl(): string {
  const location = (globalThis as { location?: { origin?: string } }).location;
  return location?.origin ?? '';
}

function toWsUrl(baseUrl: string): string {
  const origin = baseUrl || defaultBaseUrl();
  if (!origin) throw new GoChatError('NETWORK_ERROR', 'No baseUrl: pass options.baseUrl or options.wsUrl');
  return origin.replace(/^http/i, 'ws').replace(/\/+$/, '') + '/ws';
}

/**
 * The GoChat client for browsers and Node: typed REST calls plus a self-healing WebSocket.
 *
 * @example
 * ```ts
 * import WebSocket from 'ws'; // Node only; browsers have one
 * import { GoChatClient } from 'gochat/sdk';
 *
 * const client = new GoChatClient({ baseUrl: 'http://127.0.0.1:8080', WebSocket });
 * await client.login('alice', 'correct horse');
 * client.on('message', (m) => console.log(`${m.senderName}: ${m.content}`));
 * await client.connect();
 * const chat = await client.openConversation(bobUserId);
 * const ack = await client.send(chat.conversationId, 'hi Bob');
 * console.log('stored as', ack.seqId);
 * ```
 */export class GoChatClient extends Emitter<GoChatEvents> {
  private readonly rest: RestClient;
  private readonly connection: Connection;
  private readonly outbox: Outbox;
  /** Null with `catchUp: false`: live frames are emitted as they come. */
  private readonly catchUp: CatchUp | null;
  /** Null unless `keepConversations`. */
  private readonly conversationSync: ConversationSync | null;
  private readonly messageChanges: MessageChanges;
  /** `markReadUpTo` marks waiting for the next flush or the next connection. */
  private readonly readMarks: ReadMarks;
  private readonly typingState: Typing;
  /** The list the last catch-up read (conversation sync starts from it rather than read it again). */
  private lastList: Conversation[] | null = null;
  private listRequests = 0;
  private tokenValue: string | null;
  private userValue: User | null = null;
  /** The socket whose catch-up has finished; `connect()` resolves at once while it is the current one. */
  private syncedSocket: FrameSocket | null = null;
  private connectWaiters: Array<{ resolve(): void; reject(err: GoChatError): void }> = [];

  constructor(options: GoChatClientOptions = {}) {
    super();
    this.tokenValue = options.token ?? null;
    this.rest = new RestClient({
      baseUrl: (options.baseUrl ?? defaultBaseUrl()).replace(/\/+$/, ''),
      timeoutMs: options.requestTimeoutMs ?? 15_000,
      token: () => this.tokenValue,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.connection = new Connection(
      {
        url: () => {
          if (!this.tokenValue) throw new GoChatError('UNAUTHORIZED', 'Log in before connecting');
          return `${options.wsUrl ?? toWsUrl(options.baseUrl ?? '')}?token=${encodeURIComponent(this.tokenValue)}`;
        },
        checkToken: () => this.me().then(() => undefined),
        ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
        ...(options.reconnect ? { reconnect: options.reconnect } : {}),
        ...(options.pingIntervalMs !== undefined ? { pingIntervalMs: options.pingIntervalMs } : {}),
        ...(options.pongTimeoutMs !== undefined ? { pongTimeoutMs: options.pongTimeoutMs } : {}),
      },
      {
        onOpen: (socket) => this.onOpen(socket),
        onFrame: (frame) => this.onFrame(frame),
        onDown: () => (this.syncedSocket = null),
        onState: (state) => this.emit('state', state),
        onFail: (err) => this.onFail(err),
      },
    );
    this.outbox = new Outbox({
      sink: () => this.connection.socket,
      maxEntries: options.maxOutbox ?? 1000,
      sendTimeoutMs: options.sendTimeoutMs ?? 0,
      ...(options.reconnect ? { retry: options.reconnect } : {}),
    });
    this.readMarks = new ReadMarks({ sink: () => this.connection.socket });
    this.typingState = new Typing({ sink: () => this.connection.socket, ...(options.now ? { now: options.now } : {}) });
    this.catchUp =
      options.catchUp === false
        ? null
        : new CatchUp({
            source: {
              // Hidden ones too: a hidden conversation is still followed, and shows again at its next message.
              conversations: async () => {
                // Frames from now on are newer than this list; only the newest request's answer is kept.
                const request = ++this.listRequests;
                this.conversationSync?.beginRefresh();
                const list = await this.conversations({ includeHidden: true });
                if (request === this.listRequests) this.lastList = list;
                return list;
              },
              messagesAfter: (conversationId, afterSeq, size) => this.messages(conversationId, { afterSeq, size }),
            },
            emit: (message) => this.emitMessage(message),
            report: (err) => this.emit('error', err),
            active: () => this.tokenValue !== null,
            // With kept conversations their sync says so (it reads the same list).
            ...(options.keepConversations ? {} : { lost: (id: string) => this.lostWhileAway(id) }),
          });
    const keep = options.keepConversations;
    this.conversationSync = keep
      ? new ConversationSync({
          source: {
            conversations: () => this.conversations({ includeHidden: true }),
            conversation: (id) => this.conversation(id),
            members: (id, query) => this.members(id, query),
            changes: (id, after, size) => this.changes(id, after, size),
          },
          members: typeof keep === 'object' && keep.members,
          me: () => this.userValue?.userId ?? null,
          report: (err) => this.emit('error', err instanceof GoChatError ? err : new GoChatError('NETWORK_ERROR', 'Conversation sync failed', { cause: err })),
          changedMessages: (conversationId, items) => {
            for (const item of items) this.messageChanges.item(conversationId, item, 'catch-up');
          },
          lost: (id) => this.lostWhileAway(id),
        })
      : null;
    const catchUp = this.catchUp;
    this.messageChanges = new MessageChanges({
      emit: (change) => {
        this.conversationSync?.messageChanged(change);
        this.emit('message-changed', change);
      },
      // With catch-up, its positions: the first connect takes them without emitting history.
      ...(catchUp ? { newestSeq: (id: string) => catchUp.lastSeq(id) } : {}),
      me: () => this.userValue?.userId ?? null,
    });
  }

  /**
   * With `keepConversations`: my conversations as the client knows them (pinned first, then newest
   * activity), equal to the server's once `synced` and kept so by live frames.
   *
   * @example
   * ```ts
   * client.on('synced', () => render(client.knownConversations()));
   * ```
   */
  knownConversations(): Conversation[] {
    return this.conversationSync?.conversations() ?? [];
  }

  /**
   * With `keepConversations: { members: true }`: a group's members as the client knows them.
   *
   * @example
   * ```ts
   * const admins = client.knownMembers(conversationId)?.filter((m) => m.role !== 'member');
   * ```
   */
  knownMembers(conversationId: string): GroupMember[] | undefined {
    return this.conversationSync?.members(conversationId);
  }

  /** The current bearer token, or null when logged out. Store it to resume with `options.token`. */
  get token(): string | null {
    return this.tokenValue;
  }

  /** The logged-in user, once known (after login, guest or `me()`). */
  get user(): User | null {
    return this.userValue;
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  /** Unacked sends, in the order they were made. */
  get pendingSends(): SendMessagePayload[] {
    return this.outbox.payloads();
  }

  // ---- REST ----

  /**
   * Creates an account. It does not log in: call {@link login} next.
   *
   * @example
   * ```ts
   * const user = await client.register('alice', 'correct horse'); // USERNAME_TAKEN if it exists
   * ```
   */
  async register(username: string, password: string): Promise<User> {
    return (await this.rest.request<User>('POST', '/api/auth/register', { username, password })).data;
  }

  /**
   * Logs in and keeps the token for every later call.
   *
   * @example
   * ```ts
   * const { user, expiresIn } = await client.login('alice', 'correct horse');
   * ```
   */
  async login(username: string, password: string): Promise<AuthResult> {
    return this.adopt((await this.rest.request<AuthResult>('POST', '/api/auth/login', { username, password })).data);
  }

  /**
   * Enters as a guest (a name is generated when none is given). Guests cannot create groups.
   *
   * @example
   * ```ts
   * const { user } = await client.guest('visitor'); // user.isGuest === true
   * ```
   */
  async guest(guestName?: string): Promise<AuthResult> {
    const body = guestName ? { guestName } : {};
    return this.adopt((await this.rest.request<AuthResult>('POST', '/api/auth/guest', body)).data);
  }

  /**
   * Revokes the token on the server, closes the socket and forgets the session.
   * Pending sends reject with CLOSED.
   *
   * @example
   * ```ts
   * await client.logout();
   * ```
   */
  async logout(): Promise<void> {
    // Stopped first: the server closes the socket as it revokes the token (4501), which is expected here, not an error to report.
    this.connection.stop();
    try {
      if (this.tokenValue) await this.rest.request<null>('POST', '/api/auth/logout');
    } finally {
      this.reset(new GoChatError('CLOSED', 'Logged out'));
    }
  }

  /**
   * The current user (`GET /api/users/info`).
   *
   * @example
   * ```ts
   * const me = await client.me();
   * ```
   */
  async me(): Promise<User> {
    this.userValue = (await this.rest.request<User>('GET', '/api/users/info')).data;
    return this.userValue;
  }

  /**
   * Finds a user by username, case-insensitively (GoChat extension `GET /api/users/by-username/{username}`).
   *
   * @example
   * ```ts
   * const bob = await client.findUser('Bob'); // USER_NOT_FOUND when nobody has the name
   * ```
   */
  async findUser(username: string): Promise<User> {
    return (await this.rest.request<User>('GET', `/api/users/by-username/${encodeURIComponent(username)}`)).data;
  }

  /**
   * My conversations, newest activity first, each with its last message and unread count.
   *
   * @example
   * ```ts
   * for (const c of await client.conversations()) console.log(c.name, c.unreadCount);
   * ```
   */
  async conversations(options: { includeHidden?: boolean } = {}): Promise<Conversation[]> {
    return (await this.rest.request<Conversation[]>('GET', `/api/conversations${options.includeHidden ? '?includeHidden=true' : ''}`)).data;
  }

  /**
   * Sends a message over HTTP (for bots and server-side code without a socket): the same rules,
   * idempotency and ack-after-commit as {@link send}; resolves with the stored message (the first
   * one stored, when `tempMessageId` repeats a stored send). Not queued or retried: the caller does.
   *
   * @example
   * ```ts
   * const message = await client.postMessage(conversationId, 'Build #42 passed', { tempMessageId: 'ci-42', extra: { build: 42 } });
   * ```
   */
  async postMessage(conversationId: string, content: string, options: SendOptions = {}): Promise<Message> {
    const body = { content, ...sendFields(options), tempMessageId: options.tempMessageId ?? createTempId() };
    return (await this.rest.request<Message>('POST', this.conversationPath(conversationId, '/messages'), body)).data;
  }

  /**
   * Changes my own settings of a conversation: `muted` (delivered and counted, but do not alert),
   * `pinned` (listed first), `hidden` (left out of the list until its next message). All my devices
   * get a `conversation-settings` event; answers the conversation after.
   *
   * @example
   * ```ts
   * await client.updateSettings(conversationId, { muted: true, pinned: true });
   * ```
   */
  async updateSettings(conversationId: string, settings: Partial<ConversationSettings>): Promise<Conversation> {
    return (await this.rest.request<Conversation>('PUT', this.conversationPath(conversationId, '/settings'), settings)).data;
  }

  /**
   * One page of my conversations, newest activity first (GoChat extension, docs/protocol.md): for a
   * user with many conversations, read the first page and the next ones as they are needed. Pages
   * are a keyset: a conversation without activity meanwhile is on exactly one page; one with
   * activity moves to the top (merge pages by `conversationId`). A server without paging answers
   * the whole list as one last page.
   *
   * @example
   * ```ts
   * let page = await client.conversationsPage({ limit: 20 });
   * while (page.pagination.nextCursor) page = await client.conversationsPage({ limit: 20, cursor: page.pagination.nextCursor });
   * ```
   */
  async conversationsPage(query: ConversationsPageQuery = {}): Promise<ConversationsPage> {
    const limit = query.limit ?? LIMITS.pageSizeDefault;
    const params = new URLSearchParams({ limit: String(limit) });
    if (query.cursor !== undefined) params.set('cursor', query.cursor);
    const result = await this.rest.request<Conversation[]>('GET', `/api/conversations?${params.toString()}`);
    const pagination = result.pagination as Partial<ConversationPagination> | undefined;
    if (!pagination) {
      const total = result.data.length;
      return { conversations: result.data, pagination: { page: 1, size: limit, total, hasMore: false, nextCursor: null } };
    }
    return {
      conversations: result.data,
      pagination: {
        page: pagination.page ?? 1,
        size: pagination.size ?? limit,
        total: pagination.total ?? result.data.length,
        hasMore: pagination.hasMore ?? false,
        nextCursor: typeof pagination.nextCursor === 'string' ? pagination.nextCursor : null,
      },
    };
  }

  /**
   * Opens the 1:1 conversation with a user: the same one every time for the same pair.
   *
   * @example
   * ```ts
   * const chat = await client.openConversation(bob.userId);
   * ```
   */
  async openConversation(targetUserId: string): Promise<Conversation> {
    return (await this.rest.request<Conversation>('POST', '/api/conversations', { targetUserId })).data;
  }

  /**
   * One conversation of any type, as {@link conversations} lists it: NOT_CONVERSATION_MEMBER when
   * you are not a member, CONVERSATION_NOT_FOUND when it does not exist.
   *
   * @example
   * ```ts
   * const { unreadCount, lastMessage } = await client.conversation(conversationId);
   * ```
   */
  async conversation(conversationId: string): Promise<Conversation> {
    return (await this.rest.request<Conversation>('GET', `/api/conversations/${encodeURIComponent(conversationId)}`)).data;
  }

  /**
   * A page of history, ascending by seqId. Default: the newest page.
   *
   * @example
   * ```ts
   * const latest = await client.messages(id);
   * const older = await client.messages(id, { beforeSeq: latest.messages[0].seqId, size: 50 });
   * const missed = await client.messages(id, { afterSeq: 42 });
   * ```
   */
  async messages(conversationId: string, query: MessagesQuery = {}): Promise<MessagePage> {
    const params = new URLSearchParams();
    for (const key of ['page', 'afterSeq', 'beforeSeq', 'size'] as const) {
      const value = query[key];
      if (value !== undefined) params.set(key, String(value));
    }
    const qs = params.toString();
    const result = await this.rest.request<Message[]>(
      'GET',
      `/api/conversations/${encodeURIComponent(conversationId)}/messages${qs ? `?${qs}` : ''}`,
    );
    const size = query.size ?? LIMITS.pageSizeDefault;
    return { messages: result.data, pagination: result.pagination ?? { page: 1, size, total: result.data.length, hasMore: false } };
  }

  /**
   * Marks a conversation read over HTTP: up to and including `seqId`, or, without it, up to its
   * newest message. The pointer never moves back nor past the newest message; answers it as it is
   * after. Every device of yours (this one included) also gets `conversation-read` when it moved.
   * For marks made as messages scroll by, {@link markReadUpTo} is cheaper.
   *
   * @example
   * ```ts
   * const { unreadCount } = await client.markRead(id); // 0
   * await client.markRead(id, message.seqId); // read up to that message
   * ```
   */
  async markRead(conversationId: string, seqId?: number): Promise<ReadResult> {
    const path = `/api/conversations/${encodeURIComponent(conversationId)}/read`;
    const read = (await this.rest.request<ReadResult>('PUT', path, seqId !== undefined ? { seqId } : undefined)).data;
    this.conversationSync?.read(read);
    return read;
  }

  /**
   * Marks a conversation read up to and including `seqId` over the WebSocket (`mark-read`), with no
   * answer of its own: the pointer's move comes back as `conversation-read` to every device of
   * yours. Marks are coalesced per conversation: the calls made before the next flush (a microtask
   * away) send one frame with the furthest seqId; while disconnected the furthest one waits and is
   * sent after reconnecting. A refusal (not a member, say) comes as an `error` event.
   *
   * @example
   * ```ts
   * client.on('message', (m) => { if (m.conversationId === openId && visible()) client.markReadUpTo(openId, m.seqId); });
   * client.on('conversation-read', ({ conversationId, unreadCount }) => showBadge(conversationId, unreadCount));
   * ```
   */
  markReadUpTo(conversationId: string, seqId: number): void {
    if (!Number.isSafeInteger(seqId) || seqId < 0) throw new GoChatError('VALIDATION_ERROR', `seqId must be a non-negative integer, not ${seqId}`);
    this.readMarks.mark(conversationId, seqId);
  }

  /**
   * Tells the other members of a conversation that you are composing (`typing`). Call it on every
   * keystroke: one frame goes out per conversation every 2 s at most, and none while not connected.
   *
   * @example
   * ```ts
   * input.addEventListener('input', () => client.typing(conversationId));
   * ```
   */
  typing(conversationId: string): void {
    this.typingState.typing(conversationId);
  }

  /**
   * Tells them you stopped (sent, cleared the draft, left the conversation): `stop-typing`, only
   * when a `typing` went out and was not stopped yet.
   *
   * @example
   * ```ts
   * client.stopTyping(conversationId);
   * await client.send(conversationId, draft);
   * ```
   */
  stopTyping(conversationId: string): void {
    this.typingState.stopTyping(conversationId);
  }

  /**
   * The other users typing in a conversation now: each from its `typing` event until its
   * `expiresInMs` (from receipt) runs out, a `typing: false` arrives, or its message does.
   *
   * @example
   * ```ts
   * client.on('typing', ({ conversationId }) => { if (conversationId === openId) showTyping(client.typingIn(openId)); });
   * ```
   */
  typingIn(conversationId: string): Typer[] {
    return this.typingState.typingIn(conversationId);
  }

  /**
   * Creates a group; you become its owner. Not for guests (FORBIDDEN).
   *
   * @example
   * ```ts
   * const { group, conversation } = await client.createGroup('Team', [bob.userId, carol.userId]);
   * ```
   */
  async createGroup(groupName: string, members: string[]): Promise<{ group: Group; conversation: Conversation }> {
    return (await this.rest.request<{ group: Group; conversation: Conversation }>('POST', '/api/groups', { groupName, members })).data;
  }

  /**
   * A group and its members with their roles.
   *
   * @example
   * ```ts
   * const { group, members } = await client.getGroup(conversation.groupId!);
   * ```
   */
  async getGroup(groupId: string): Promise<{ group: Group; members: GroupMember[] }> {
    return (await this.rest.request<{ group: Group; members: GroupMember[] }>('GET', `/api/groups/${encodeURIComponent(groupId)}`)).data;
  }

  /**
   * A page of a group conversation's members, in the order they joined (default: page 1 of 50);
   * `role` keeps one role. NOT_GROUP_CONVERSATION for a 1:1 or the world room.
   *
   * @example
   * ```ts
   * const { members, pagination } = await client.members(conversationId, { role: 'admin' });
   * ```
   */
  async members(conversationId: string, query: { page?: number; size?: number; role?: GroupRole } = {}): Promise<{ members: GroupMember[]; pagination: Pagination }> {
    const params = new URLSearchParams();
    for (const key of ['page', 'size', 'role'] as const) {
      const value = query[key];
      if (value !== undefined) params.set(key, String(value));
    }
    const qs = params.toString();
    const result = await this.rest.request<GroupMember[]>('GET', `/api/conversations/${encodeURIComponent(conversationId)}/members${qs ? `?${qs}` : ''}`);
    const size = query.size ?? LIMITS.pageSizeDefault;
    return { members: result.data, pagination: result.pagination ?? { page: query.page ?? 1, size, total: result.data.length, hasMore: false } };
  }

  /**
   * My groups, with my role in each, newest activity first.
   *
   * @example
   * ```ts
   * const admin = (await client.groups()).filter((g) => g.myRole !== 'member');
   * ```
   */
  async groups(): Promise<MyGroup[]> {
    return (await this.rest.request<MyGroup[]>('GET', '/api/groups')).data;
  }

  private conversationPath(conversationId: string, rest = ''): string {
    return `/api/conversations/${encodeURIComponent(conversationId)}${rest}`;
  }

  /**
   * Adds users to a group (owner or admin); answers those actually added (already-members are ignored).
   * GROUP_FULL past the member cap, USER_NOT_FOUND for unknown ids: then nobody is added.
   *
   * @example
   * ```ts
   * const added = await client.addMembers(conversationId, [dan.userId]);
   * ```
   */
  async addMembers(conversationId: string, userIds: string[]): Promise<GroupMember[]> {
    return (await this.rest.request<GroupMember[]>('POST', this.conversationPath(conversationId, '/members'), { members: userIds })).data;
  }

  /**
   * Removes a member (owner or admin: an admin removes plain members only).
   *
   * @example
   * ```ts
   * await client.removeMember(conversationId, spammer.userId);
   * ```
   */
  async removeMember(conversationId: string, userId: string): Promise<void> {
    await this.rest.request<null>('DELETE', this.conversationPath(conversationId, `/members/${encodeURIComponent(userId)}`));
  }

  /**
   * Leaves a group. The owner must transfer ownership first (OWNER_MUST_TRANSFER), unless it is the
   * last member: then the group is disbanded.
   *
   * @example
   * ```ts
   * await client.leave(conversationId);
   * ```
   */
  async leave(conversationId: string): Promise<void> {
    const me = this.userValue;
    if (!me) throw new GoChatError('UNAUTHORIZED', 'Not logged in');
    await this.removeMember(conversationId, me.userId);
  }

  /**
   * Makes a member an admin or a plain member again (owner only); answers the member after.
   *
   * @example
   * ```ts
   * await client.setRole(conversationId, bob.userId, 'admin');
   * ```
   */
  async setRole(conversationId: string, userId: string, role: GroupRole): Promise<GroupMember> {
    return (await this.rest.request<GroupMember>('PUT', this.conversationPath(conversationId, `/members/${encodeURIComponent(userId)}`), { role })).data;
  }

  /**
   * Makes another member the owner (owner only); you become an admin.
   *
   * @example
   * ```ts
   * await client.transferOwnership(conversationId, bob.userId);
   * ```
   */
  transferOwnership(conversationId: string, userId: string): Promise<GroupMember> {
    return this.setRole(conversationId, userId, 'owner');
  }

  /**
   * Renames a group or sets its avatar (`""` or an http(s) URL) or description (owner or admin);
   * answers the conversation after.
   *
   * @example
   * ```ts
   * await client.updateGroup(conversationId, { name: 'Book club II' });
   * ```
   */
  async updateGroup(conversationId: string, patch: GroupInfoPatch): Promise<Conversation> {
    return (await this.rest.request<Conversation>('PUT', this.conversationPath(conversationId), patch)).data;
  }

  /**
   * Disbands a group (owner only): every member loses it.
   *
   * @example
   * ```ts
   * await client.disbandGroup(conversationId);
   * ```
   */
  async disbandGroup(conversationId: string): Promise<void> {
    await this.rest.request<null>('DELETE', this.conversationPath(conversationId));
  }

  /**
   * The change cursor: items of a conversation changed after `afterChange`, each once at its latest
   * value, ascending by `changeSeq` (default 50 per page). Catch up with it after missing frames.
   *
   * @example
   * ```ts
   * let cursor = known.changeSeq;
   * for (let page; (page = await client.changes(id, cursor)).items.length > 0; cursor = page.items.at(-1)!.changeSeq) apply(page.items);
   * ```
   */
  async changes(conversationId: string, afterChange: number, size?: number): Promise<{ items: ChangeItem[]; pagination: Pagination }> {
    const qs = `?afterChange=${afterChange}${size !== undefined ? `&size=${size}` : ''}`;
    const result = await this.rest.request<ChangeItem[]>('GET', this.conversationPath(conversationId, `/changes${qs}`));
    return { items: result.data, pagination: result.pagination ?? { page: 1, size: size ?? LIMITS.pageSizeDefault, total: result.data.length, hasMore: false } };
  }

  // ---- message actions: each answers the message after it, with your myReactions; every member's
  // devices hear of it as 'message-changed' ----

  private messagePath(messageId: string, rest = ''): string {
    return `/api/messages/${encodeURIComponent(messageId)}${rest}`;
  }

  /**
   * Recalls a message: yours (within the server's recall window), or anyone's in a group you own or
   * administer. It keeps its seqId; its content, extra, reply snapshot and reactions are gone for
   * everyone. Recalling it again changes nothing.
   *
   * @example
   * ```ts
   * const { recalledAt } = await client.recall(message.messageId);
   * ```
   */
  async recall(messageId: string): Promise<Message> {
    return (await this.rest.request<Message>('DELETE', this.messagePath(messageId))).data;
  }

  /**
   * Replaces the text of your own text message; it then carries `editedAt`. MESSAGE_RECALLED,
   * MESSAGE_NOT_EDITABLE (not text), EDIT_WINDOW_EXPIRED, FORBIDDEN (not yours).
   *
   * @example
   * ```ts
   * await client.editMessage(message.messageId, 'the typo, fixed');
   * ```
   */
  async editMessage(messageId: string, content: string): Promise<Message> {
    return (await this.rest.request<Message>('PUT', this.messagePath(messageId), { content })).data;
  }

  /**
   * Reacts with one emoji (again with the same one: no change). TOO_MANY_REACTIONS when the message
   * already carries the most different emoji allowed and this is a new one.
   *
   * @example
   * ```ts
   * const { reactions, myReactions } = await client.react(message.messageId, '👍');
   * ```
   */
  async react(messageId: string, emoji: string): Promise<Message> {
    return (await this.rest.request<Message>('PUT', this.messagePath(messageId, `/reactions/${encodeURIComponent(emoji)}`))).data;
  }

  /**
   * Takes back your reaction with this emoji (none: no change).
   *
   * @example
   * ```ts
   * await client.unreact(message.messageId, '👍');
   * ```
   */
  async unreact(messageId: string, emoji: string): Promise<Message> {
    return (await this.rest.request<Message>('DELETE', this.messagePath(messageId, `/reactions/${encodeURIComponent(emoji)}`))).data;
  }

  /**
   * Who reacted to a message, oldest first (default: page 1 of 50); `emoji` keeps one emoji.
   *
   * @example
   * ```ts
   * const { reactors, pagination } = await client.reactions(message.messageId, { emoji: '👍' });
   * ```
   */
  async reactions(messageId: string, query: ReactionsQuery = {}): Promise<{ reactors: Reactor[]; pagination: Pagination }> {
    const params = new URLSearchParams();
    for (const key of ['emoji', 'page', 'size'] as const) {
      const value = query[key];
      if (value !== undefined) params.set(key, String(value));
    }
    const qs = params.toString();
    const result = await this.rest.request<Reactor[]>('GET', this.messagePath(messageId, `/reactions${qs ? `?${qs}` : ''}`));
    const size = query.size ?? LIMITS.pageSizeDefault;
    return { reactors: result.data, pagination: result.pagination ?? { page: query.page ?? 1, size, total: result.data.length, hasMore: false } };
  }

  // ---- WebSocket ----

  /**
   * Opens the WebSocket and keeps it open (reconnecting with backoff) until {@link disconnect} or
   * {@link logout}. Resolves once connected and caught up; rejects only when the token is refused.
   *
   * @example
   * ```ts
   * client.on('state', (s) => console.log('connection', s));
   * await client.connect();
   * ```
   */
  connect(): Promise<void> {
    if (this.connection.wanted && this.syncedSocket !== null && this.syncedSocket === this.connection.socket) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (!this.connection.wanted) {
      // Own messages are rebuilt from acks, which needs the sender's name.
      if (!this.userValue && this.tokenValue) this.me().catch(() => undefined);
      this.connection.start();
    }
    return done;
  }

  /**
   * Closes the WebSocket and stops reconnecting. Unacked sends stay queued for the next `connect()`.
   *
   * @example
   * ```ts
   * client.disconnect();
   * ```
   */
  disconnect(): void {
    this.connection.stop();
    this.outbox.pause();
  }

  /**
   * Drops the current connection (or backoff wait) and connects again at once — e.g. when the
   * browser says it is back online.
   *
   * @example
   * ```ts
   * window.addEventListener('online', () => client.reconnectNow());
   * ```
   */
  reconnectNow(): void {
    this.connection.reconnectNow();
  }

  /**
   * Sends a message; resolves with the ack once it is durably stored. While disconnected it waits in
   * the outbox and is resent with the same tempMessageId after reconnecting, so it is stored once.
   * Rejects with the server's error (e.g. NOT_CONVERSATION_MEMBER, VALIDATION_ERROR), TIMEOUT
   * (`sendTimeoutMs`), OUTBOX_FULL or CLOSED.
   *
   * @example
   * ```ts
   * const tempMessageId = createTempId();
   * showPending(tempMessageId);
   * client.send(conversationId, 'hello', { tempMessageId })
   *   .then((ack) => showSent(tempMessageId, ack.seqId))
   *   .catch(() => showFailed(tempMessageId)); // retry: send again with the same tempMessageId
   * await client.send(conversationId, 'agreed', { replyTo: question.messageId });
   * ```
   */
  send(conversationId: string, content: string, options: SendOptions = {}): Promise<MessageAck> {
    const tempMessageId = options.tempMessageId ?? createTempId();
    // The outbox resends this payload as it is: a resend carries the same replyTo and extra.
    return this.outbox.add({ conversationId, content, ...sendFields(options), tempMessageId });
  }

  // ---- wiring of the parts ----

  private adopt(result: AuthResult): AuthResult {
    this.tokenValue = result.token;
    this.userValue = result.user;
    return result;
  }

  private onOpen(socket: FrameSocket): void {
    this.outbox.flush();
    this.readMarks.flush();
    if (!this.catchUp) {
      const done = () => {
        // Logged out, or another connection overtook this one, while the list was read.
        if (this.connection.socket !== socket || this.tokenValue === null) return;
        this.syncedSocket = socket;
        this.connection.ready(socket);
        this.settleConnect(null);
      };
      if (!this.conversationSync) return done();
      void this.conversationSync.refresh().then(done, (err: unknown) => {
        this.emit('error', err instanceof GoChatError ? err : new GoChatError('NETWORK_ERROR', 'Conversation sync failed', { cause: err }));
        this.connection.drop(socket, LOCAL_CLOSE_CODES.CATCH_UP_FAILED, 'catch-up failed');
      });
      return;
    }
    void this.catchUp.sync(() => this.connection.socket === socket).then(async (outcome) => {
      if (outcome.kind === 'stale') return;
      if (outcome.kind === 'failed') {
        this.emit('error', outcome.error);
        // Try again with a fresh connection rather than run with unknown positions.
        return this.connection.drop(socket, LOCAL_CLOSE_CODES.CATCH_UP_FAILED, 'catch-up failed');
      }
      if (this.conversationSync) {
        try {
          // The list the catch-up just read, after the socket opened: frames since then are applied live.
          await this.conversationSync.refresh(this.lastList ?? undefined);
        } catch (err) {
          this.emit('error', err instanceof GoChatError ? err : new GoChatError('NETWORK_ERROR', 'Conversation sync failed', { cause: err }));
          return this.connection.drop(socket, LOCAL_CLOSE_CODES.CATCH_UP_FAILED, 'catch-up failed');
        }
        if (this.connection.socket !== socket) return;
      }
      this.syncedSocket = socket;
      this.connection.ready(socket);
      this.emit('synced', { conversations: outcome.conversations });
      this.settleConnect(null);
    });
  }

  /** Stops for good (the token is refused): nothing will get better by retrying. */
  private onFail(err: GoChatError): void {
    this.settleConnect(err);
    this.emit('error', err);
  }

  private settleConnect(err: GoChatError | null): void {
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const waiter of waiters) {
      if (err) waiter.reject(err);
      else waiter.resolve();
    }
  }

  /** Logout: forget the session and everything tied to it. */
  private reset(reason: GoChatError): void {
    this.connection.stop();
    this.connection.forget();
    this.outbox.close(reason);
    this.readMarks.clear();
    this.typingState.clear();
    this.settleConnect(reason);
    this.catchUp?.reset();
    this.conversationSync?.clear();
    this.messageChanges.clear();
    this.lastList = null;
    this.tokenValue = null;
    this.userValue = null;
  }

  private onFrame(frame: IncomingFrame): void {
    this.emit('frame', frame);
    switch (frame.type) {
      case 'new-message':
        return this.onLive(frame.data as Message);
      case 'message-ack':
        return this.onAck(frame.data as MessageAck);
      case 'error':
        return this.onErrorFrame(frame.data as { message: string; code: string; tempMessageId?: string });
      case 'conversation-added': {
        const conversation = frame.data as Conversation;
        this.conversationSync?.added(conversation);
        // Added to a group: what came before is history (the one unread is the "added you" line).
        this.catchUp?.follow(conversation.conversationId, conversation.lastReadSeq);
        return this.emit('conversation-added', conversation);
      }
      case 'conversation-update': {
        const update = frame.data as ConversationUpdate;
        this.conversationSync?.update(update);
        this.emit('conversation-changed', update);
        // Whatever the kept list made of the frame (applied, older, after a gap): a message change
        // is told, once per state of the message, and after the message.
        for (const item of update.items) if (item.kind === 'message') this.messageChanges.item(update.conversationId, item, 'live');
        return;
      }
      case 'conversation-settings':
        this.conversationSync?.settings(frame.data as ConversationSettingsChanged);
        return this.emit('conversation-settings', frame.data as ConversationSettingsChanged);
      case 'conversation-removed': {
        const removed = frame.data as ConversationRemoved;
        this.dropConversation(removed.conversationId);
        return this.emit('conversation-removed', removed);
      }
      case 'conversation-read': {
        const read = frame.data as ReadResult;
        this.conversationSync?.read(read);
        return this.emit('conversation-read', read);
      }
      case 'read-receipt': {
        const receipt = frame.data as ReadReceipt;
        this.conversationSync?.receipt(receipt);
        return this.emit('read-receipt', receipt);
      }
      case 'typing-indicator': {
        const indicator = frame.data as TypingIndicator;
        this.typingState.indicator(indicator);
        return this.emit('typing', indicator);
      }
      default:
        return; // pong and types this version does not know
    }
  }

  /** Nothing of a conversation gone for us is followed, held or sent any more. */
  private dropConversation(conversationId: string): void {
    this.catchUp?.unfollow(conversationId);
    this.conversationSync?.removed(conversationId);
    this.messageChanges.forget(conversationId);
    this.readMarks.forget(conversationId);
    this.typingState.forget(conversationId);
  }

  /** A reconnect's list no longer has a conversation we had: its `conversation-removed` was missed. */
  private lostWhileAway(conversationId: string): void {
    this.dropConversation(conversationId);
    this.emit('conversation-removed', { conversationId, reason: 'gone' });
  }

  private onAck(ack: MessageAck): void {
    const payload = this.outbox.acked(ack);
    this.emit('ack', ack);
    const user = this.userValue;
    if (!payload || !user) {
      // A send that timed out here but was stored after all (the app may still show it as failed),
      // or one whose sender name is not known yet: fetch the message rather than rebuild it.
      this.catchUp?.storedAt(ack.conversationId, ack.seqId);
      return;
    }
    // A reply's snapshot of the message it answers is made by the server: read the stored message.
    if (payload.replyTo !== undefined) return this.fetchStored(ack.conversationId, ack.seqId);
    // The server sends no new-message to the sending connection: the ack stands in for it.
    this.onLive({
      messageId: ack.messageId,
      conversationId: ack.conversationId,
      senderId: user.userId,
      senderName: user.username,
      content: payload.content,
      messageType: payload.messageType ?? 'text',
      seqId: ack.seqId,
      sendTime: ack.sendTime,
      ...(payload.extra !== undefined ? { extra: payload.extra } : {}),
    });
  }

  /** A message of ours that the ack cannot rebuild: read it, then treat it as a live one. */
  private fetchStored(conversationId: string, seqId: number): void {
    this.messages(conversationId, { afterSeq: seqId - 1, size: 1 }).then(
      ({ messages }) => {
        const message = messages[0];
        if (message?.seqId === seqId && this.tokenValue !== null) this.onLive(message);
      },
      // The catch-up's gap filling gets it instead (or the next reconnect's sync).
      () => this.catchUp?.storedAt(conversationId, seqId),
    );
  }

  private onErrorFrame(data: { message: string; code: string; tempMessageId?: string }): void {
    const error = GoChatError.fromFrame({ message: String(data?.message ?? ''), code: knownCode(data?.code), ...(data?.tempMessageId !== undefined ? { tempMessageId: data.tempMessageId } : {}) });
    if (!this.outbox.refused(error)) this.emit('error', error);
  }

  private onLive(message: Message): void {
    if (this.catchUp) this.catchUp.live(message);
    else this.emitMessage(message);
  }

  /** Every 'message' event goes out here; the changes held for that message follow it. */
  private emitMessage(sent: Message): void {
    // A change of it already told (it overtook the message on another path): the event carries that
    // newer state, so an app that stores what `message` says never goes back to the sent text.
    const message = this.messageChanges.current(sent);
    this.conversationSync?.message(message);
    // Its sender has stopped typing there (before the event, so listeners see the list without it).
    this.typingState.messageFrom(message.conversationId, message.senderId);
    this.emit('message', message);
    this.messageChanges.messageEmitted(message);
  }
}
