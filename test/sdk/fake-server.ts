/**
 * An in-process, scripted stand-in for the GoChat server, for unit tests of the SDK's parts: a real
 * `ws` WebSocketServer and a real HTTP server on port 0, with just the routes the SDK's connection
 * and catch-up use. Tests decide what it answers (acks, errors, silence, refused upgrades, closes)
 * and read what the client did (frames, upgrades, requests).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import type { ClientFrame, Conversation, Message, MessageAck, SendMessagePayload, User } from '../../src/protocol/index.js';
import { GoChatClient, type ConnectionState, type GoChatClientOptions, type GoChatEvents } from '../../sdk/index.js';
import type { FetchLike } from '../../sdk/lib/rest.js';

export const FAKE_USER: User = { userId: '1', username: 'alice', avatar: '', isGuest: false, createdAt: new Date(0).toISOString() };
export const FAKE_TOKEN = 'token-alice';

/** What the server does with a `send-message`: store it and ack, answer an error frame, or say nothing. */
export type SendAnswer = 'ack' | 'ignore' | { code: string; message?: string };

/** One client socket as the server sees it. */
export class FakeConnection {
  readonly frames: ClientFrame[] = [];
  private waiters: Array<(frame: ClientFrame) => void> = [];
  readonly closed: Promise<void>;

  constructor(readonly socket: WebSocket) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** Resolves with the next frame received after the ones already seen. */
  nextFrame(): Promise<ClientFrame> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves once `count` frames of `type` have arrived (counting those already here). */
  async framesOf(type: ClientFrame['type'], count: number): Promise<ClientFrame[]> {
    for (;;) {
      const matching = this.frames.filter((f) => f.type === type);
      if (matching.length >= count) return matching;
      await this.nextFrame();
    }
  }

  send(frame: { type: string; data?: unknown }): void {
    this.socket.send(JSON.stringify(frame));
  }

  close(code: number, reason = ''): void {
    this.socket.close(code, reason);
  }

  received(frame: ClientFrame): void {
    this.frames.push(frame);
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter(frame);
  }
}

export class FakeServer implements AsyncDisposable {
  /** Every upgrade that reached the server, accepted or refused. */
  upgrades = 0;
  /** Upgrades are answered with this HTTP status instead of being accepted (e.g. 401). */
  refuseUpgradesWith: number | null = null;
  /** Whether `GET /api/users/info` still accepts the token. */
  tokenValid = true;
  answerPings = true;
  onSend: (payload: SendMessagePayload, connection: FakeConnection) => SendAnswer = () => 'ack';
  /** `GET /api/conversations` answers 503 while true. */
  listFails = false;
  readonly connections: FakeConnection[] = [];
  /** Path and query of every HTTP request, in order. */
  readonly requests: string[] = [];
  /** The stored messages per conversation, seqId 1, 2, 3… */
  readonly history = new Map<string, Message[]>();
  private readonly stored = new Map<string, MessageAck>();
  private connectionWaiters: Array<(connection: FakeConnection) => void> = [];

  private constructor(
    private readonly http: http.Server,
    private readonly wss: WebSocketServer,
    readonly baseUrl: string,
  ) {}

  static async start(): Promise<FakeServer> {
    const httpServer = http.createServer();
    const wss = new WebSocketServer({ noServer: true });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    const { port } = httpServer.address() as AddressInfo;
    const server = new FakeServer(httpServer, wss, `http://127.0.0.1:${port}`);
    httpServer.on('request', (req, res) => server.answer(req, res));
    httpServer.on('upgrade', (req, socket, head) => server.upgrade(req, socket, head));
    return server;
  }

  /** Resolves with the next connection accepted after the ones already here. */
  nextConnection(): Promise<FakeConnection> {
    return new Promise((resolve) => this.connectionWaiters.push(resolve));
  }

  /** Stores a message from someone else, as if sent while the client was away (no live frame). */
  addMessage(conversationId: string, content: string): Message {
    const list = this.history.get(conversationId) ?? [];
    const message: Message = {
      messageId: `${conversationId}-${list.length + 1}`,
      conversationId,
      senderId: '2',
      senderName: 'bob',
      content,
      messageType: 'text',
      seqId: list.length + 1,
      sendTime: new Date(0).toISOString(),
    };
    list.push(message);
    this.history.set(conversationId, list);
    return message;
  }

  /** Stores a message from someone else and pushes it live to every open connection. */
  deliver(conversationId: string, content: string): Message {
    const message = this.addMessage(conversationId, content);
    for (const connection of this.connections) {
      if (connection.socket.readyState === WebSocket.OPEN) connection.send({ type: 'new-message', data: message });
    }
    return message;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private upgrade(req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer): void {
    this.upgrades++;
    const token = new URL(req.url ?? '/', this.baseUrl).searchParams.get('token');
    const status = this.refuseUpgradesWith ?? (token === FAKE_TOKEN && this.tokenValid ? null : 401);
    if (status !== null) {
      socket.end(`HTTP/1.1 ${status} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new FakeConnection(ws);
      this.connections.push(connection);
      ws.on('message', (data) => this.onFrame(connection, JSON.parse(String(data)) as ClientFrame));
      const waiters = this.connectionWaiters;
      this.connectionWaiters = [];
      for (const waiter of waiters) waiter(connection);
    });
  }

  private onFrame(connection: FakeConnection, frame: ClientFrame): void {
    if (frame.type === 'ping' && this.answerPings) connection.send({ type: 'pong' });
    if (frame.type === 'send-message') {
      const answer = this.onSend(frame.data, connection);
      if (answer === 'ack') connection.send({ type: 'message-ack', data: this.store(frame.data) });
      else if (answer !== 'ignore') {
        connection.send({ type: 'error', data: { code: answer.code, message: answer.message ?? answer.code, tempMessageId: frame.data.tempMessageId } });
      }
    }
    connection.received(frame);
  }

  /** Stores a send once per tempMessageId, as the real server's idempotency does. */
  private store(payload: SendMessagePayload): MessageAck {
    const known = this.stored.get(payload.tempMessageId);
    if (known) return known;
    const list = this.history.get(payload.conversationId) ?? [];
    const message: Message = {
      messageId: `${payload.conversationId}-${list.length + 1}`,
      conversationId: payload.conversationId,
      senderId: FAKE_USER.userId,
      senderName: FAKE_USER.username,
      content: payload.content,
      messageType: payload.messageType ?? 'text',
      seqId: list.length + 1,
      sendTime: new Date(0).toISOString(),
    };
    list.push(message);
    this.history.set(payload.conversationId, list);
    const ack: MessageAck = {
      tempMessageId: payload.tempMessageId,
      messageId: message.messageId,
      conversationId: message.conversationId,
      seqId: message.seqId,
      sendTime: message.sendTime,
    };
    this.stored.set(payload.tempMessageId, ack);
    return ack;
  }

  /**
   * The REST routes as a `fetch` for the client, answered in-process: Node's own fetch keeps timers
   * of its own, which mocked timers would freeze.
   */
  readonly fetch: FetchLike = async (input, init) => {
    const { status, body } = this.route(init.method, input, init.headers.authorization);
    const text = JSON.stringify(body);
    return { status, headers: { get: () => null }, text: async () => text };
  };

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    const { status, body } = this.route(req.method ?? 'GET', req.url ?? '/', req.headers.authorization);
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private route(method: string, path: string, authorization: string | undefined): { status: number; body: unknown } {
    const url = new URL(path, this.baseUrl);
    this.requests.push(url.pathname + url.search);
    const reply = (status: number, body: unknown) => ({ status, body });
    if (authorization !== `Bearer ${FAKE_TOKEN}` || !this.tokenValid) {
      return reply(401, { success: false, code: 'TOKEN_REVOKED', message: 'Token revoked' });
    }
    if (url.pathname === '/api/users/info') return reply(200, { success: true, data: FAKE_USER });
    if (url.pathname === '/api/auth/logout' && method === 'POST') return reply(200, { success: true, data: null });
    if (url.pathname === '/api/conversations') {
      if (this.listFails) return reply(503, { success: false, code: 'SERVICE_UNAVAILABLE', message: 'Unavailable' });
      const data = [...this.history].map(([conversationId, list]): Conversation => ({
        conversationId,
        type: 'single',
        name: 'bob',
        avatar: '',
        memberCount: 2,
        changeSeq: 0,
        settings: { muted: false, pinned: false, hidden: false },
        lastMessage: list.at(-1) ?? null,
        unreadCount: 0,
        lastReadSeq: 0,
        updatedAt: new Date(0).toISOString(),
      }));
      return reply(200, { success: true, data });
    }
    const match = /^\/api\/conversations\/([^/]+)\/messages$/.exec(url.pathname);
    if (match) {
      const list = this.history.get(decodeURIComponent(match[1]!)) ?? [];
      const after = Number(url.searchParams.get('afterSeq') ?? 0);
      const size = Number(url.searchParams.get('size') ?? 50);
      const rest = list.filter((m) => m.seqId > after);
      const data = rest.slice(0, size);
      return reply(200, { success: true, data, pagination: { page: 1, size, total: list.length, hasMore: rest.length > size } });
    }
    return reply(404, { success: false, code: 'CONVERSATION_NOT_FOUND', message: 'Not found' });
  }
}

/** A client of the fake server, and what it did, seen from the client's side at the moment it happens. */
/**
 * Disconnects `client` when the scope ends: `using _ = disconnectedAtEnd(client)` after the
 * server's `await using`, so the client goes first, while the server is up and the clock still
 * mocked. (A `t.after` hook runs after both: ws then waited out its real 30 s close timer.)
 */
export function disconnectedAtEnd(client: GoChatClient): Disposable {
  return { [Symbol.dispose]: () => client.disconnect() };
}

export interface FakeClient {
  client: GoChatClient;
  /** The URL of every WebSocket the client created, in order. */
  attempts: string[];
  /** Every frame the client wrote, parsed, in order. */
  written: ClientFrame[];
  /**
   * Resolves once the client has drawn `count` backoff delays in all; each draw is made as a
   * reconnect or resend timer is set, so by then that timer is running.
   */
  delaysDrawn(count: number): Promise<void>;
}

/** Backoff delays with `random: () => 0` are half the cap: 50, 100, 200, 400, 500… ms for these options. */
export const FAKE_RECONNECT = { minDelayMs: 100, maxDelayMs: 1_000 };

/**
 * A GoChatClient for `server`, logged in with its token. Its backoff draws no jitter, so delays are
 * exact; every WebSocket it opens is recorded, and so is every frame it writes.
 */
export function fakeClient(server: FakeServer, options: GoChatClientOptions = {}): FakeClient {
  const attempts: string[] = [];
  const written: ClientFrame[] = [];
  let draws = 0;
  let drawWaiters: Array<{ count: number; resolve(): void }> = [];
  class RecordingWebSocket extends WebSocket {
    constructor(url: string) {
      super(url);
      attempts.push(url);
    }

    override send(data: string): void {
      written.push(JSON.parse(data) as ClientFrame);
      super.send(data);
    }
  }
  const random = () => {
    draws++;
    // Resolved after the caller has set its timer: promise callbacks run once this code returns.
    drawWaiters = drawWaiters.filter((waiter) => (draws >= waiter.count ? (waiter.resolve(), false) : true));
    return 0;
  };
  const delaysDrawn = (count: number) =>
    draws >= count ? Promise.resolve() : new Promise<void>((resolve) => drawWaiters.push({ count, resolve }));
  const client = new GoChatClient({
    baseUrl: server.baseUrl,
    fetch: server.fetch,
    token: FAKE_TOKEN,
    WebSocket: RecordingWebSocket,
    reconnect: { ...FAKE_RECONNECT, random },
    ...options,
  });
  return { client, attempts, written, delaysDrawn };
}

/** Resolves once the client is in `state` (at once if it already is). */
export function stateReached(client: GoChatClient, state: ConnectionState): Promise<void> {
  if (client.state === state) return Promise.resolve();
  return new Promise((resolve) => {
    const off = client.on('state', (now) => {
      if (now !== state) return;
      off();
      resolve();
    });
  });
}

/** Resolves with the next `event` of the client. */
export function nextEvent<K extends keyof GoChatEvents>(client: GoChatClient, event: K): Promise<GoChatEvents[K]> {
  return new Promise((resolve) => client.once(event, resolve));
}
