/**
 * GoChatClient: the REST API and the WebSocket in one object, reliable by itself — reconnects
 * with backoff, resends unacked messages with their tempMessageId, catches up what it missed,
 * and emits every message once, in seqId order.
 */
import {
  CLOSE_CODES,
  LIMITS,
  type AuthResult,
  type Conversation,
  type ConversationPagination,
  type Group,
  type GroupMember,
  type Message,
  type MessageAck,
  type ClientMessageType,
  type Pagination,
  type ReadResult,
  type SendMessagePayload,
  type User,
} from '../../src/protocol/index.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { GoChatError, knownCode } from './errors.js';
import { RestClient, type FetchLike } from './rest.js';
import { Sequencer } from './sequencer.js';
import { FrameSocket, LOCAL_CLOSE, type IncomingFrame, type WebSocketFactory } from './socket.js';

/** `idle`: not connected and not trying; `connecting`: first attempt; `connected`; `reconnecting`: lost, retrying with backoff. */
export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting';

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
}

export interface SendOptions {
  messageType?: ClientMessageType;
  /** Your id for this send; reuse it to retry the same message without duplicating it. Default: a random id. */
  tempMessageId?: string;
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

interface OutboxEntry {
  payload: SendMessagePayload;
  resolve(ack: MessageAck): void;
  reject(err: GoChatError): void;
  timer: ReturnType<typeof setTimeout> | null;
  /** The socket it was last written to; resent when that one is gone. */
  sentOn: FrameSocket | null;
  retries: number;
}

const MAX_SEND_RETRIES = 5;
const MAX_HELD_LIVE = 10_000;

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
 */
export class GoChatClient extends Emitter<GoChatEvents> {
  private readonly rest: RestClient;
  private readonly options: GoChatClientOptions;
  private readonly backoff: Backoff;
  private readonly sequencer: Sequencer;
  private readonly outbox = new Map<string, OutboxEntry>();
  private tokenValue: string | null;
  private userValue: User | null = null;
  private stateValue: ConnectionState = 'idle';
  private socket: FrameSocket | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private wantConnected = false;
  private everConnected = false;
  /** Set once the first sync has taken the conversations' positions; later, an unknown conversation is new. */
  private baselineTaken = false;
  private syncGeneration = 0;
  /** The current connection has finished its catch-up. */
  private caughtUp = false;
  /** Live messages held while a sync is taking positions, so none is emitted against a stale one. */
  private heldLive: Message[] | null = null;
  private readonly filling = new Map<string, { again: boolean; done: Promise<void> }>();
  private connectWaiters: Array<{ resolve(): void; reject(err: GoChatError): void }> = [];

  constructor(options: GoChatClientOptions = {}) {
    super();
    this.options = options;
    this.tokenValue = options.token ?? null;
    this.rest = new RestClient({
      baseUrl: (options.baseUrl ?? defaultBaseUrl()).replace(/\/+$/, ''),
      timeoutMs: options.requestTimeoutMs ?? 15_000,
      token: () => this.tokenValue,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.backoff = new Backoff(options.reconnect);
    this.sequencer = new Sequencer({
      emit: (message) => this.emit('message', message),
      fill: (conversationId) => void this.fill(conversationId),
      maxAhead: MAX_HELD_LIVE,
    });
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
    return this.stateValue;
  }

  /** Unacked sends, in the order they were made. */
  get pendingSends(): SendMessagePayload[] {
    return [...this.outbox.values()].map((entry) => entry.payload);
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
    // The server closes our socket as it revokes the token: that is expected here, not an error to report.
    this.wantConnected = false;
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
  async conversations(): Promise<Conversation[]> {
    return (await this.rest.request<Conversation[]>('GET', '/api/conversations')).data;
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
   * Marks everything in a conversation read, up to its newest message.
   *
   * @example
   * ```ts
   * const { unreadCount } = await client.markRead(id); // 0
   * ```
   */
  async markRead(conversationId: string): Promise<ReadResult> {
    return (await this.rest.request<ReadResult>('PUT', `/api/conversations/${encodeURIComponent(conversationId)}/read`)).data;
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
    if (this.wantConnected && this.caughtUp) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (!this.wantConnected) {
      this.wantConnected = true;
      // Own messages are rebuilt from acks, which needs the sender's name.
      if (!this.userValue && this.tokenValue) this.me().catch(() => undefined);
      this.open();
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
    this.wantConnected = false;
    this.caughtUp = false;
    this.clearReconnectTimer();
    this.socket?.abandon();
    this.socket = null;
    this.setState('idle');
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
    if (!this.wantConnected) return;
    this.clearReconnectTimer();
    const socket = this.socket;
    this.socket = null;
    this.caughtUp = false;
    socket?.abandon();
    this.backoff.reset();
    if (!this.socket && !this.reconnectTimer) this.open();
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
   * ```
   */
  send(conversationId: string, content: string, options: SendOptions = {}): Promise<MessageAck> {
    const tempMessageId = options.tempMessageId ?? createTempId();
    const existing = this.outbox.get(tempMessageId);
    if (existing) {
      return new Promise((resolve, reject) => {
        const { resolve: first, reject: firstReject } = existing;
        existing.resolve = (ack) => (first(ack), resolve(ack));
        existing.reject = (err) => (firstReject(err), reject(err));
      });
    }
    if (this.outbox.size >= (this.options.maxOutbox ?? 1000)) {
      return Promise.reject(new GoChatError('OUTBOX_FULL', 'Too many messages wait for an ack', { tempMessageId }));
    }
    const payload: SendMessagePayload = { conversationId, content, messageType: options.messageType ?? 'text', tempMessageId };
    return new Promise<MessageAck>((resolve, reject) => {
      const entry: OutboxEntry = { payload, resolve, reject, timer: null, sentOn: null, retries: 0 };
      const timeout = this.options.sendTimeoutMs ?? 0;
      if (timeout > 0) {
        entry.timer = setTimeout(() => {
          if (this.outbox.get(tempMessageId) !== entry) return;
          this.outbox.delete(tempMessageId);
          reject(new GoChatError('TIMEOUT', `No ack within ${timeout} ms`, { tempMessageId }));
        }, timeout);
      }
      this.outbox.set(tempMessageId, entry);
      this.transmit(entry);
    });
  }

  // ---- connection lifecycle ----

  private adopt(result: AuthResult): AuthResult {
    this.tokenValue = result.token;
    this.userValue = result.user;
    return result;
  }

  private setState(state: ConnectionState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.emit('state', state);
  }

  private clearReconnectTimer(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  private open(): void {
    this.reconnectTimer = null;
    if (!this.wantConnected || this.socket) return;
    if (!this.tokenValue) return this.fail(new GoChatError('UNAUTHORIZED', 'Log in before connecting'));
    const WebSocketImpl = this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketFactory }).WebSocket;
    if (!WebSocketImpl) return this.fail(new GoChatError('NETWORK_ERROR', 'No WebSocket implementation: pass options.WebSocket'));
    this.setState(this.everConnected ? 'reconnecting' : 'connecting');
    let url: string;
    try {
      url = `${this.options.wsUrl ?? toWsUrl(this.options.baseUrl ?? '')}?token=${encodeURIComponent(this.tokenValue)}`;
    } catch (err) {
      return this.fail(err as GoChatError);
    }
    const socket: FrameSocket = new FrameSocket(
      new WebSocketImpl(url),
      {
        onOpen: () => this.onOpen(socket),
        onFrame: (frame) => this.onFrame(frame),
        onClose: (code, reason, opened) => this.onClose(socket, code, reason, opened),
      },
      { pingIntervalMs: this.options.pingIntervalMs ?? LIMITS.clientPingIntervalMs, pongTimeoutMs: this.options.pongTimeoutMs ?? 10_000 },
    );
    this.socket = socket;
  }

  private onOpen(socket: FrameSocket): void {
    if (this.socket !== socket) return;
    this.everConnected = true;
    this.caughtUp = false;
    this.backoff.reset();
    this.setState('connected');
    for (const entry of this.outbox.values()) this.transmit(entry);
    void this.sync(socket);
  }

  private onClose(socket: FrameSocket, code: number, reason: string, opened: boolean): void {
    // A socket we replaced or dropped on purpose: whoever did that decides what comes next.
    if (this.socket !== socket) return;
    this.socket = null;
    this.caughtUp = false;
    if (!this.wantConnected) return;
    if (code >= 4500 && code < 5000 && code !== LOCAL_CLOSE.DEAD && code !== LOCAL_CLOSE.CLIENT) {
      const cause = code === CLOSE_CODES.TOKEN_REVOKED ? 'TOKEN_REVOKED' : code === CLOSE_CODES.TOKEN_EXPIRED ? 'TOKEN_EXPIRED' : 'FORBIDDEN';
      return this.fail(new GoChatError(cause, reason || `Connection closed for good (${code})`));
    }
    this.setState('reconnecting');
    if (opened) return this.scheduleReconnect();
    // A refused upgrade looks like any network failure to a browser; ask over HTTP whether the token is still good.
    this.me().then(
      () => this.scheduleReconnect(),
      (err: unknown) => {
        if (err instanceof GoChatError && err.isAuthError) this.fail(err);
        else this.scheduleReconnect();
      },
    );
  }

  private scheduleReconnect(): void {
    if (!this.wantConnected || this.socket || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => this.open(), this.backoff.next());
  }

  /** Stops for good (the token is refused): nothing will get better by retrying. */
  private fail(err: GoChatError): void {
    this.wantConnected = false;
    this.clearReconnectTimer();
    this.setState('idle');
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const waiter of waiters) waiter.reject(err);
    this.emit('error', err);
  }

  /** Logout: forget the session and everything tied to it. */
  private reset(reason: GoChatError): void {
    this.disconnect();
    for (const entry of this.outbox.values()) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.reject(reason);
    }
    this.outbox.clear();
    for (const waiter of this.connectWaiters) waiter.reject(reason);
    this.connectWaiters = [];
    this.sequencer.clear();
    this.baselineTaken = false;
    this.everConnected = false;
    this.heldLive = null;
    this.syncGeneration++;
    this.tokenValue = null;
    this.userValue = null;
  }

  // ---- frames ----

  private transmit(entry: OutboxEntry): void {
    const socket = this.socket;
    if (!socket || entry.sentOn === socket) return;
    if (socket.send({ type: 'send-message', data: entry.payload })) entry.sentOn = socket;
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
      default:
        return; // pong and types this version does not know
    }
  }

  private onAck(ack: MessageAck): void {
    const entry = this.outbox.get(ack.tempMessageId);
    if (!entry) {
      // A send that timed out here but was stored after all: the app may still show it as failed.
      this.emit('ack', ack);
      const last = this.sequencer.lastSeq(ack.conversationId);
      if (last !== undefined && ack.seqId > last) void this.fill(ack.conversationId);
      return;
    }
    this.outbox.delete(ack.tempMessageId);
    if (entry.timer) clearTimeout(entry.timer);
    entry.resolve(ack);
    this.emit('ack', ack);
    const user = this.userValue;
    if (!user) {
      if (this.sequencer.isTracked(ack.conversationId)) void this.fill(ack.conversationId);
      return;
    }
    // The server sends no new-message to the sending connection: the ack stands in for it.
    this.onLive({
      messageId: ack.messageId,
      conversationId: ack.conversationId,
      senderId: user.userId,
      senderName: user.username,
      content: entry.payload.content,
      messageType: entry.payload.messageType ?? 'text',
      seqId: ack.seqId,
      sendTime: ack.sendTime,
    });
  }

  private onErrorFrame(data: { message: string; code: string; tempMessageId?: string }): void {
    const error = GoChatError.fromFrame({ message: String(data?.message ?? ''), code: knownCode(data?.code), ...(data?.tempMessageId !== undefined ? { tempMessageId: data.tempMessageId } : {}) });
    const entry = data?.tempMessageId !== undefined ? this.outbox.get(data.tempMessageId) : undefined;
    if (!entry) return this.emit('error', error);
    if (error.retryable && entry.retries < MAX_SEND_RETRIES) {
      // Overload or shutdown: try again later, on this socket or the next one.
      entry.retries++;
      entry.sentOn = null;
      const delay = error.retryAfter !== undefined ? error.retryAfter * 1000 : 250 * 2 ** entry.retries;
      setTimeout(() => {
        if (this.outbox.get(entry.payload.tempMessageId) === entry) this.transmit(entry);
      }, delay);
      return;
    }
    this.outbox.delete(entry.payload.tempMessageId);
    if (entry.timer) clearTimeout(entry.timer);
    entry.reject(error);
  }

  /** A message from the socket (or an ack): ordered, de-duplicated, gaps filled. */
  private onLive(message: Message): void {
    if (this.options.catchUp === false) return this.emit('message', message);
    if (this.heldLive) {
      if (this.heldLive.length < MAX_HELD_LIVE) this.heldLive.push(message);
      return;
    }
    // Before the first sync an unknown conversation starts at this message; after it, an unknown one is new: all of it is missed.
    if (!this.sequencer.isTracked(message.conversationId)) {
      this.sequencer.track(message.conversationId, this.baselineTaken ? 0 : message.seqId - 1);
    }
    this.sequencer.push(message);
  }

  // ---- catch-up ----

  /**
   * After each open: take every conversation's position from the list, then fetch what was missed
   * with afterSeq. The first sync only records positions (history is the app's to page through).
   */
  private async sync(socket: FrameSocket): Promise<void> {
    if (this.options.catchUp === false) return this.resolveConnect();
    const generation = ++this.syncGeneration;
    this.heldLive ??= [];
    let list: Conversation[];
    try {
      list = await this.conversations();
    } catch (err) {
      if (generation !== this.syncGeneration) return;
      this.releaseHeld();
      this.emit('error', err instanceof GoChatError ? err : new GoChatError('NETWORK_ERROR', 'Catch-up failed', { cause: err }));
      // Try again with a fresh connection rather than run with unknown positions.
      if (this.socket === socket) this.reconnectLater(socket);
      return;
    }
    if (generation !== this.syncGeneration) return;
    const fills: Array<Promise<void>> = [];
    for (const conversation of list) {
      const newest = conversation.lastMessage?.seqId ?? 0;
      const id = conversation.conversationId;
      if (!this.sequencer.isTracked(id)) this.sequencer.track(id, this.baselineTaken ? 0 : newest);
      if (newest > (this.sequencer.lastSeq(id) ?? newest)) fills.push(this.fill(id));
    }
    this.baselineTaken = true;
    this.releaseHeld();
    await Promise.all(fills);
    if (generation !== this.syncGeneration || this.socket !== socket) return;
    this.caughtUp = true;
    this.emit('synced', { conversations: list.length });
    this.resolveConnect();
  }

  private reconnectLater(socket: FrameSocket): void {
    this.socket = null;
    this.caughtUp = false;
    socket.abandon();
    this.setState('reconnecting');
    this.scheduleReconnect();
  }

  private releaseHeld(): void {
    const held = this.heldLive ?? [];
    this.heldLive = null;
    for (const message of held) this.onLive(message);
  }

  private resolveConnect(): void {
    if (this.options.catchUp === false) this.caughtUp = true;
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  /** Fetches a conversation's messages after its position, page by page, into the sequencer. One at a time per conversation. */
  private fill(conversationId: string): Promise<void> {
    const running = this.filling.get(conversationId);
    if (running) {
      running.again = true;
      return running.done;
    }
    const state = { again: true, done: Promise.resolve() };
    this.filling.set(conversationId, state);
    state.done = (async () => {
      await Promise.resolve();
      try {
        while (state.again) {
          state.again = false;
          await this.fetchAfter(conversationId);
        }
      } catch (err) {
        if (err instanceof GoChatError && (err.code === 'NOT_CONVERSATION_MEMBER' || err.code === 'CONVERSATION_NOT_FOUND')) {
          this.sequencer.untrack(conversationId);
        } else if (this.tokenValue) {
          // The next reconnect's sync picks the gap up again.
          this.emit('error', err instanceof GoChatError ? err : new GoChatError('NETWORK_ERROR', 'Catch-up failed', { cause: err }));
        }
      } finally {
        this.filling.delete(conversationId);
      }
    })();
    return state.done;
  }

  private async fetchAfter(conversationId: string): Promise<void> {
    for (;;) {
      const after = this.sequencer.lastSeq(conversationId);
      if (after === undefined) return;
      const page = await this.messages(conversationId, { afterSeq: after, size: LIMITS.pageSizeMax });
      for (const message of page.messages) this.sequencer.push(message);
      const progressed = (this.sequencer.lastSeq(conversationId) ?? after) > after;
      if (!page.pagination.hasMore || !progressed) return;
    }
  }
}
