/**
 * The WebSocket edge (seed §7): authenticates at the upgrade, validates frames, calls
 * LogicApi, and hands bus deliveries to the local connections of their recipients.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { BroadcastDelivery, Bus, BusEvent, FramesDelivery, MessageDelivery } from '../../bus/index.js';
import type { LogicApi, Session } from '../../logic/api.js';
import { unobserved, type OperationObserver } from '../../ports/observer.js';
import { AppError, CLOSE_CODES, toAppError, type ClientFrame, type MessageAck } from '../../protocol/index.js';
import { ClientFrameSchema } from '../../protocol/schemas.js';
import { assertWellFormed, decodeJson, describeErrors, isWellFormed, mayHoldLoneSurrogate, strictAjv } from '../validation.js';
import { ClientConnection } from './connection.js';
import { writeErrorAnswer } from '../raw-answer.js';
import { RateLimiter, type RateRule } from '../../limits/rate-limiter.js';

export interface WsConfig {
  maxFrameBytes: number;
  idleTimeoutMs: number;
  /** A connection quiet this long gets a protocol ping (0: never); its pong counts as a sign of life. */
  pingIntervalMs: number;
  maxBufferedBytes: number;
  maxSocketsPerUser: number;
  frameRate: { limit: number; windowMs: number };
  /** Budgets that outlive a connection: one user's and one address's frames together. */
  framesPerUser: RateRule;
  framesPerIp: RateRule;
  maxSocketsPerIp: number;
  trustProxy: boolean;
  /** A refused upgrade (429) is answered after this, so a reconnect loop waits. */
  refusalDelayMs: number;
  maxInFlightSends: number;
  instanceId: string;
  /** Reports each send handed to logic once answered: "sendMessage", seconds, "ok" or the error code. */
  observe?: OperationObserver;
}

/** Frames past the contract's 64 KiB get an error; frames past this are dropped with the connection. */
const HARD_FRAME_LIMIT = 1024 * 1024;

const validateFrame = strictAjv.compile<ClientFrame>(ClientFrameSchema);

export class WsGateway {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: HARD_FRAME_LIMIT,
    perMessageDeflate: false,
    // ws would close the socket (1007) on invalid UTF-8; the contract answers a bad frame with an error frame instead.
    skipUTF8Validation: true,
  });
  private readonly byUser = new Map<string, Set<ClientConnection>>();
  private readonly socketsByIp = new Map<string, number>();
  private readonly framesByUser: RateLimiter;
  private readonly framesByIp: RateLimiter;
  private readonly sweeper: NodeJS.Timeout;
  private readonly pinger: NodeJS.Timeout | null;
  /** How long a connection stays quiet before it is pinged. */
  private readonly pingEveryMs: number;
  private nextId = 0;
  private draining = false;
  private readonly observe: OperationObserver;

  constructor(
    private readonly config: WsConfig,
    private readonly logic: LogicApi,
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {
    this.framesByUser = new RateLimiter(config.framesPerUser);
    this.framesByIp = new RateLimiter(config.framesPerIp);
    this.observe = config.observe ?? unobserved;
    this.sweeper = setInterval(() => this.sweep(), Math.min(5_000, Math.max(250, config.idleTimeoutMs / 4)));
    this.sweeper.unref();
    // The server's heartbeat: a client that never sends a frame stays connected as long as it
    // answers protocol pings (browsers do by themselves), and one that stops answering is closed
    // by the sweep at the idle timeout, as before.
    // At least three pings per idle timeout, so a shortened timeout cannot outrun them.
    this.pingEveryMs = Math.max(50, Math.min(config.pingIntervalMs, Math.floor(config.idleTimeoutMs / 3)));
    this.pinger = config.pingIntervalMs > 0 ? setInterval(() => this.pingQuiet(), Math.max(25, this.pingEveryMs / 2)) : null;
    this.pinger?.unref();
  }

  async attach(server: Server): Promise<void> {
    await this.bus.subscribe((event) => this.onBusEvent(event));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      // A request that asks to switch to anything but WebSocket (h2c from curl --http2, a probe)
      // is an ordinary HTTP request and gets the ordinary answer; WebSocket is spoken at /ws only.
      if (req.headers.upgrade?.toLowerCase() !== 'websocket') return answerAsHttp(server, req, socket, head);
      if (requestPath(req.url) !== WS_PATH) return writeErrorAnswer(socket, new AppError('ROUTE_NOT_FOUND', 'WebSocket is served at /ws'));
      // Nothing a client sends may reject unhandled: the process would exit.
      this.upgrade(req, socket, head).catch((err: unknown) => {
        this.log.error({ err }, 'websocket upgrade failed');
        writeErrorAnswer(socket, toAppError(err));
      });
    });
  }

  get connectionCount(): number {
    let count = 0;
    for (const set of this.byUser.values()) count += set.size;
    return count;
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (this.draining) return this.refuse(socket, new AppError('SERVICE_UNAVAILABLE', 'Server is shutting down'));
    const ip = clientIp(req, this.config.trustProxy);
    // Refused before the token is even checked: a flooder that reconnects costs next to nothing.
    const ipWait = this.framesByIp.exhaustedFor(ip);
    if (ipWait > 0) return this.refuse(socket, tooManyFrames(ipWait));
    if (this.config.maxSocketsPerIp > 0 && (this.socketsByIp.get(ip) ?? 0) >= this.config.maxSocketsPerIp) {
      return this.refuse(socket, new AppError('RATE_LIMITED', 'Too many open sockets from this address', undefined, { retryAfter: 5 }));
    }
    let session: Session;
    try {
      session = await this.logic.authenticate(upgradeToken(req));
    } catch (err) {
      return this.refuse(socket, toAppError(err));
    }
    const userWait = this.framesByUser.exhaustedFor(session.userId);
    if (userWait > 0) return this.refuse(socket, tooManyFrames(userWait));
    const open = this.byUser.get(session.userId)?.size ?? 0;
    if (open >= this.config.maxSocketsPerUser) {
      return this.refuse(socket, new AppError('RATE_LIMITED', 'Too many open sockets for this user', undefined, { retryAfter: 5 }));
    }
    if (socket.destroyed) return;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, session, socket, ip));
  }

  /** Refuses an upgrade with the envelope; held for `refusalDelayMs` when it says RATE_LIMITED. */
  private refuse(socket: Duplex, error: AppError): void {
    if (error.code !== 'RATE_LIMITED' || this.config.refusalDelayMs <= 0) return writeErrorAnswer(socket, error);
    setTimeout(() => writeErrorAnswer(socket, error), this.config.refusalDelayMs).unref();
  }

  private accept(ws: WebSocket, session: Session, transport: Duplex, ip: string): void {
    const conn = new ClientConnection(`${this.config.instanceId}:${++this.nextId}`, session, ws, this.config.maxBufferedBytes, transport, ip);
    this.socketsByIp.set(ip, (this.socketsByIp.get(ip) ?? 0) + 1);
    let set = this.byUser.get(session.userId);
    if (!set) {
      set = new Set();
      this.byUser.set(session.userId, set);
      this.bus.userOnline(session.userId);
    }
    set.add(conn);

    ws.on('message', (data, isBinary) => {
      // A listener that throws would escape into the socket's stream and take the process down.
      try {
        this.onFrame(conn, data, isBinary);
      } catch (err) {
        this.log.error({ err, connId: conn.id }, 'frame handling failed');
        conn.sendError('INTERNAL_ERROR', 'Internal server error');
      }
    });
    ws.on('ping', () => (conn.lastSeen = Date.now()));
    ws.on('pong', () => (conn.lastSeen = Date.now()));
    ws.on('error', (err) => this.log.debug({ err, connId: conn.id }, 'socket error'));
    ws.on('close', () => {
      const left = (this.socketsByIp.get(ip) ?? 1) - 1;
      if (left <= 0) this.socketsByIp.delete(ip);
      else this.socketsByIp.set(ip, left);
      const users = this.byUser.get(session.userId);
      users?.delete(conn);
      if (users && users.size === 0) {
        this.byUser.delete(session.userId);
        this.bus.userOffline(session.userId);
      }
    });
  }

  /**
   * A connection past its frame budget is closed (4002): answering a flood of pings or bad
   * frames would take the event loop from everyone else. Sends have their own per-user limit.
   */
  private withinFrameRate(conn: ClientConnection, now: number): boolean {
    const { limit, windowMs } = this.config.frameRate;
    if (now - conn.frameWindowStart >= windowMs) {
      conn.frameWindowStart = now;
      conn.framesInWindow = 0;
    }
    const withinConnection = limit <= 0 || ++conn.framesInWindow <= limit;
    if (withinConnection && this.framesByUser.take(conn.userId, now) === 0 && this.framesByIp.take(conn.ip, now) === 0) return true;
    conn.sendError('RATE_LIMITED', 'Too many frames; slow down and reconnect later');
    conn.close(CLOSE_CODES.RATE_LIMITED, 'too many frames');
    return false;
  }

  private onFrame(conn: ClientConnection, data: RawData, isBinary: boolean): void {
    if (!conn.isOpen) return;
    conn.lastSeen = Date.now();
    if (!this.withinFrameRate(conn, conn.lastSeen)) return;
    if (isBinary) return conn.sendError('INVALID_JSON', 'Binary frames are not supported; send JSON text');
    const bytes = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer).byteLength;
    if (bytes > this.config.maxFrameBytes) return conn.sendError('PAYLOAD_TOO_LARGE', 'Frame is larger than 64 KiB');
    let frame: unknown;
    const bytesOfFrame = Array.isArray(data) ? Buffer.concat(data) : (data as Buffer);
    try {
      frame = decodeJson(bytesOfFrame);
    } catch (err) {
      const error = toAppError(err);
      return conn.sendError(error.code, error.code === 'INVALID_JSON' ? 'Frame is not valid JSON' : error.message);
    }
    try {
      if (mayHoldLoneSurrogate(bytesOfFrame)) assertWellFormed(frame);
    } catch (err) {
      // The client still learns which send failed, when its tempMessageId is itself well-formed.
      const error = toAppError(err);
      return conn.sendError(error.code, error.message, tempIdOf(frame));
    }
    if (!validateFrame(frame)) {
      return conn.sendError('VALIDATION_ERROR', describeErrors(validateFrame.errors, 'frame'), tempIdOf(frame));
    }
    if (frame.type === 'ping') return conn.send({ type: 'pong' });
    if (frame.type === 'mark-read') return this.markRead(conn, frame.data);
    if (frame.type === 'typing' || frame.type === 'stop-typing') return this.typing(conn, frame.data.conversationId, frame.type === 'typing');
    if (this.draining) return conn.sendError('SERVICE_UNAVAILABLE', 'Server is shutting down', frame.data.tempMessageId);
    const { data: payload } = frame;
    // Bounded work per connection: past the cap, stop reading until answers catch up.
    if (++conn.inFlight >= this.config.maxInFlightSends) conn.pauseReading();
    const settled = () => {
      if (--conn.inFlight <= this.config.maxInFlightSends / 2) conn.resumeReading();
    };
    const started = performance.now();
    // A LogicApi that throws instead of rejecting must still settle this send (and its count).
    let sending: Promise<MessageAck>;
    try {
      sending = this.logic.sendMessage(conn.session, payload, conn.id);
    } catch (err) {
      sending = Promise.reject(err);
    }
    sending.then(
      (ack) => {
        settled();
        // Counted before the ack is written, so a client that saw its ack sees it counted.
        this.observe('sendMessage', (performance.now() - started) / 1000, 'ok');
        conn.send({ type: 'message-ack', data: ack });
      },
      (err: unknown) => {
        settled();
        const error = toAppError(err);
        this.observe('sendMessage', (performance.now() - started) / 1000, error.code);
        if (error.code === 'INTERNAL_ERROR') this.log.error({ err: error.cause ?? err, connId: conn.id }, 'send-message failed');
        conn.sendError(error.code, error.message, payload.tempMessageId);
      },
    );
  }

  /**
   * `mark-read`: no answer of its own; when the pointer moved, every device of the user (this one
   * included) gets `conversation-read`. A refusal is an `error` frame.
   */
  private markRead(conn: ClientConnection, data: { conversationId: string; seqId?: number }): void {
    this.unanswered(conn, 'mark-read', () => this.logic.markRead(conn.session, data.conversationId, data.seqId));
  }

  /**
   * `typing` / `stop-typing`: at most one `typing` per connection and conversation every
   * TYPING_THROTTLE_MS reaches logic (a keystroke each is the normal client); `stop-typing` always
   * does. No answer; a refusal is an `error` frame.
   */
  private typing(conn: ClientConnection, conversationId: string, typing: boolean): void {
    if (typing && !conn.typingAllowed(conversationId, Date.now(), TYPING_THROTTLE_MS)) return;
    this.unanswered(conn, 'typing', () => this.logic.typing(conn.session, conversationId, typing));
  }

  /** Runs a frame's logic call that has no answer of its own: only a failure is told, as an `error` frame. */
  private unanswered(conn: ClientConnection, frameType: string, call: () => Promise<unknown>): void {
    let running: Promise<unknown>;
    try {
      running = call();
    } catch (err) {
      // A LogicApi that throws instead of rejecting is answered the same way.
      running = Promise.reject(err);
    }
    running.catch((err: unknown) => {
      const error = toAppError(err);
      if (error.code === 'INTERNAL_ERROR') this.log.error({ err: error.cause ?? err, connId: conn.id }, `${frameType} failed`);
      conn.sendError(error.code, error.message);
    });
  }

  private onBusEvent(event: BusEvent): void {
    if (event.kind === 'message') return event.attached ? this.deliverWithFrames(event) : this.deliver(event);
    if (event.kind === 'broadcast') return this.deliverToAll(event);
    if (event.kind === 'frames') return this.deliverFrames(event);
    if (event.kind === 'revoke-users') return this.closeUsers(event.userIds);
    for (const conn of this.byUser.get(event.userId) ?? []) {
      if (conn.session.jti === event.jti) conn.close(CLOSE_CODES.TOKEN_REVOKED, 'token revoked');
    }
  }

  /** Every token of these users stopped working (an expired guest): close all their sockets. */
  private closeUsers(userIds: readonly string[]): void {
    for (const userId of userIds) {
      for (const conn of this.byUser.get(userId) ?? []) conn.close(CLOSE_CODES.TOKEN_REVOKED, 'account expired');
    }
  }

  /** A world message: every local connection, one walk over what is connected here, no recipient list. */
  private deliverToAll(delivery: BroadcastDelivery): void {
    const frame = Buffer.from(delivery.frame);
    for (const set of this.byUser.values()) {
      for (const conn of set) if (conn.id !== delivery.excludeConnId) conn.sendRaw(frame);
    }
  }

  /** Walks whichever is smaller: the recipients, or the users connected here. */
  private deliver(delivery: MessageDelivery): void {
    const { recipients, excludeConnId } = delivery;
    // UTF-8 encoded once here; handed a string, each socket would encode its own copy.
    const frame = Buffer.from(delivery.frame);
    const sendTo = (set: Set<ClientConnection>) => {
      for (const conn of set) if (conn.id !== excludeConnId) conn.sendRaw(frame);
    };
    if (recipients.length <= this.byUser.size) {
      for (const userId of recipients) {
        const set = this.byUser.get(userId);
        if (set) sendTo(set);
      }
    } else {
      const wanted = new Set(recipients);
      for (const [userId, set] of this.byUser) if (wanted.has(userId)) sendTo(set);
    }
  }

  /**
   * A message with frames riding on it (a group change): per local connection of a recipient, the
   * `before` frames meant for it, the message, then the others, all in this turn's corked write.
   * Rare (an administrator's action), so clarity over the fast path's tricks.
   */
  private deliverWithFrames(delivery: MessageDelivery): void {
    const message = Buffer.from(delivery.frame);
    const attached = (delivery.attached ?? []).map((a) => ({ frame: Buffer.from(a.frame), to: a.to ? new Set(a.to) : null, before: a.before === true }));
    for (const userId of new Set(delivery.recipients)) {
      const set = this.byUser.get(userId);
      if (!set) continue;
      const mine = attached.filter((a) => a.to === null || a.to.has(userId));
      for (const conn of set) {
        for (const a of mine) if (a.before) conn.sendRaw(a.frame);
        if (conn.id !== delivery.excludeConnId) conn.sendRaw(message);
        for (const a of mine) if (!a.before) conn.sendRaw(a.frame);
      }
    }
  }

  /** Frames of no message (a conversation created elsewhere) for the recipients' local connections. */
  private deliverFrames(delivery: FramesDelivery): void {
    const frame = Buffer.from(delivery.frame);
    // A droppable frame (typing) is dropped first under load: a connection with output queued skips it.
    const limit = delivery.droppable ? Math.floor(this.config.maxBufferedBytes / 8) : Infinity;
    const send = (conn: ClientConnection) => {
      if (conn.bufferedBytes <= limit) conn.sendRaw(frame);
    };
    if (delivery.recipients === 'everyone') {
      for (const set of this.byUser.values()) for (const conn of set) send(conn);
      return;
    }
    for (const userId of new Set(delivery.recipients)) for (const conn of this.byUser.get(userId) ?? []) send(conn);
  }

  /** A protocol ping to each connection quiet for the ping interval (at most one per interval each). */
  private pingQuiet(): void {
    const now = Date.now();
    for (const set of this.byUser.values()) for (const conn of set) conn.pingIfQuiet(now, this.pingEveryMs);
  }

  /** Closes sockets that went silent past the idle timeout or whose token expired. */
  private sweep(): void {
    const now = Date.now();
    for (const set of this.byUser.values()) {
      for (const conn of set) {
        if (now - conn.lastSeen > this.config.idleTimeoutMs) conn.close(CLOSE_CODES.IDLE_TIMEOUT, 'idle timeout');
        else if (now >= conn.session.expiresAt) conn.close(CLOSE_CODES.TOKEN_EXPIRED, 'token expired');
      }
    }
  }

  /** Graceful shutdown, step 1: refuse new sockets and new sends. */
  stopAccepting(): void {
    this.draining = true;
  }

  /** Graceful shutdown, step 2 (after pending sends are committed and acked): close with 1001. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    if (this.pinger) clearInterval(this.pinger);
    for (const set of this.byUser.values()) for (const conn of set) conn.close(CLOSE_CODES.GOING_AWAY, 'server shutting down');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

const WS_PATH = '/ws';
/** Typing frames per connection and conversation that reach logic: one per this long. */
const TYPING_THROTTLE_MS = 2_000;

const tooManyFrames = (retryAfter: number) =>
  new AppError('RATE_LIMITED', 'Too many frames from this user or address; try again later', undefined, { retryAfter });

/** The client's address: the first X-Forwarded-For hop behind a trusted proxy, else the peer. */
function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = req.headers['x-forwarded-for'];
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
    if (first) return first;
  }
  return req.socket.remoteAddress ?? '';
}

/** The path of a request target, or '' when the target is not a path (`//[`, `*`, an absolute URL). */
function requestPath(target: string | undefined): string {
  if (!target?.startsWith('/') || target.startsWith('//')) return '';
  const end = target.search(/[?#]/);
  return end === -1 ? target : target.slice(0, end);
}

/**
 * The token of an upgrade: `?token=` when it holds one, else `Authorization: Bearer`. An empty
 * `?token=` counts as absent, so it cannot blank out a valid header (docs/protocol.md).
 */
function upgradeToken(req: IncomingMessage): string {
  const target = req.url ?? '';
  const query = target.indexOf('?');
  const fromQuery = query === -1 ? '' : (new URLSearchParams(target.slice(query + 1)).get('token') ?? '');
  return fromQuery || bearer(req.headers.authorization);
}

function bearer(header: string | undefined): string {
  return header?.match(/^Bearer\s+(\S+)/i)?.[1] ?? '';
}

/** Headers that ask for the protocol switch: dropped when the request is answered as plain HTTP. */
const SWITCH_HEADERS = new Set(['upgrade', 'connection', 'http2-settings']);

/**
 * Hands an upgrade request that is not a WebSocket handshake back to the HTTP server as an
 * ordinary request. Node stops parsing at an upgrade, so the request head is written again without
 * its switch headers (values came through Node's parser: no CR or LF in them) in front of whatever
 * followed it, and the socket starts over as a new connection; it closes after the answer.
 */
function answerAsHttp(server: Server, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}`];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (!SWITCH_HEADERS.has(req.rawHeaders[i]!.toLowerCase())) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  }
  lines.push('Connection: close');
  socket.unshift(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), head]));
  server.emit('connection', socket);
}

function tempIdOf(frame: unknown): string | undefined {
  const data = (frame as { data?: { tempMessageId?: unknown } } | null)?.data;
  const id = data?.tempMessageId;
  return typeof id === 'string' && id.length <= 128 && isWellFormed(id) ? id : undefined;
}

