/**
 * The WebSocket edge (seed §7): authenticates at the upgrade, validates frames, calls
 * LogicApi, and hands bus deliveries to the local connections of their recipients.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { BroadcastDelivery, Bus, BusEvent, MessageDelivery } from '../../bus/index.js';
import type { LogicApi, Session } from '../../logic/api.js';
import { AppError, CLOSE_CODES, ERROR_CODES, toAppError } from '../../protocol/index.js';
import { ClientFrame } from '../schemas.js';
import { describeErrors, parseJson, strictAjv } from '../validation.js';
import { ClientConnection } from './connection.js';

export interface WsConfig {
  maxFrameBytes: number;
  idleTimeoutMs: number;
  maxBufferedBytes: number;
  maxSocketsPerUser: number;
  frameRate: { limit: number; windowMs: number };
  maxInFlightSends: number;
  instanceId: string;
}

/** Frames past the contract's 64 KiB get an error; frames past this are dropped with the connection. */
const HARD_FRAME_LIMIT = 1024 * 1024;

const validateFrame = strictAjv.compile<ClientFrame>(ClientFrame);

export class WsGateway {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: HARD_FRAME_LIMIT,
    perMessageDeflate: false,
    // ws would close the socket (1007) on invalid UTF-8; the contract answers a bad frame with an error frame instead.
    skipUTF8Validation: true,
  });
  private readonly byUser = new Map<string, Set<ClientConnection>>();
  private readonly sweeper: NodeJS.Timeout;
  private nextId = 0;
  private draining = false;

  constructor(
    private readonly config: WsConfig,
    private readonly logic: LogicApi,
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(5_000, Math.max(250, config.idleTimeoutMs / 4)));
    this.sweeper.unref();
  }

  async attach(server: Server): Promise<void> {
    await this.bus.subscribe((event) => this.onBusEvent(event));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      void this.upgrade(req, socket, head);
    });
  }

  get connectionCount(): number {
    let count = 0;
    for (const set of this.byUser.values()) count += set.size;
    return count;
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/ws') return refuse(socket, new AppError('ROUTE_NOT_FOUND'));
    if (this.draining) return refuse(socket, new AppError('SERVICE_UNAVAILABLE', 'Server is shutting down'));
    let session: Session;
    try {
      session = await this.logic.authenticate(url.searchParams.get('token') ?? bearer(req.headers.authorization));
    } catch (err) {
      return refuse(socket, toAppError(err));
    }
    const open = this.byUser.get(session.userId)?.size ?? 0;
    if (open >= this.config.maxSocketsPerUser) {
      return refuse(socket, new AppError('RATE_LIMITED', 'Too many open sockets for this user', undefined, { retryAfter: 5 }));
    }
    if (socket.destroyed) return;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, session, socket));
  }

  private accept(ws: WebSocket, session: Session, transport: Duplex): void {
    const conn = new ClientConnection(`${this.config.instanceId}:${++this.nextId}`, session, ws, this.config.maxBufferedBytes, transport);
    let set = this.byUser.get(session.userId);
    if (!set) {
      set = new Set();
      this.byUser.set(session.userId, set);
      this.bus.userOnline(session.userId);
    }
    set.add(conn);

    ws.on('message', (data, isBinary) => this.onFrame(conn, data, isBinary));
    ws.on('ping', () => (conn.lastSeen = Date.now()));
    ws.on('error', (err) => this.log.debug({ err, connId: conn.id }, 'socket error'));
    ws.on('close', () => {
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
    if (limit <= 0) return true;
    if (now - conn.frameWindowStart >= windowMs) {
      conn.frameWindowStart = now;
      conn.framesInWindow = 0;
    }
    if (++conn.framesInWindow <= limit) return true;
    conn.sendError('RATE_LIMITED', 'Too many frames; slow down and reconnect');
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
    try {
      frame = parseJson(Array.isArray(data) ? Buffer.concat(data) : (data as Buffer));
    } catch (err) {
      const error = toAppError(err);
      return conn.sendError(error.code, error.code === 'INVALID_JSON' ? 'Frame is not valid JSON' : error.message);
    }
    if (!validateFrame(frame)) {
      return conn.sendError('VALIDATION_ERROR', describeErrors(validateFrame.errors, 'frame'), tempIdOf(frame));
    }
    if (frame.type === 'ping') return conn.send({ type: 'pong' });
    if (this.draining) return conn.sendError('SERVICE_UNAVAILABLE', 'Server is shutting down', frame.data.tempMessageId);
    const { data: payload } = frame;
    // Bounded work per connection: past the cap, stop reading until answers catch up.
    if (++conn.inFlight >= this.config.maxInFlightSends) conn.pauseReading();
    const settled = () => {
      if (--conn.inFlight <= this.config.maxInFlightSends / 2) conn.resumeReading();
    };
    this.logic.sendMessage(conn.session, payload, conn.id).then(
      (ack) => {
        settled();
        conn.send({ type: 'message-ack', data: ack });
      },
      (err: unknown) => {
        settled();
        const error = toAppError(err);
        if (error.code === 'INTERNAL_ERROR') this.log.error({ err: error.cause ?? err, connId: conn.id }, 'send-message failed');
        conn.sendError(error.code, error.message, payload.tempMessageId);
      },
    );
  }

  private onBusEvent(event: BusEvent): void {
    if (event.kind === 'message') return this.deliver(event);
    if (event.kind === 'broadcast') return this.deliverToAll(event);
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
    for (const set of this.byUser.values()) for (const conn of set) conn.close(CLOSE_CODES.GOING_AWAY, 'server shutting down');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

function bearer(header: string | undefined): string {
  return header?.match(/^Bearer\s+(\S+)/i)?.[1] ?? '';
}

function tempIdOf(frame: unknown): string | undefined {
  const data = (frame as { data?: { tempMessageId?: unknown } } | null)?.data;
  return typeof data?.tempMessageId === 'string' ? data.tempMessageId : undefined;
}

/** Refuses an upgrade with a plain HTTP answer carrying the contract's error envelope. */
function refuse(socket: Duplex, error: AppError): void {
  if (socket.destroyed) return;
  const status = ERROR_CODES[error.code].http;
  const body = JSON.stringify({ success: false, message: error.message, code: error.code });
  const headers = [
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 404 ? 'Not Found' : status === 429 ? 'Too Many Requests' : 'Error'}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  if (error.retryAfter !== undefined) headers.push(`Retry-After: ${error.retryAfter}`);
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
}
