/** One WebSocket connection: JSON frames in and out, a ping every interval, and a liveness check. */
import { encodeClientFrame, type ClientFrame } from '../../src/protocol/index.js';
import { LOCAL_CLOSE_CODES } from './disconnect.js';

/** Handler slot whose parameter is checked bivariantly, so both the DOM and `ws` sockets fit. */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** What the SDK needs of a WebSocket: the browser's `WebSocket` and the `ws` package's both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
}

/**
 * A WebSocket constructor: `globalThis.WebSocket` in browsers, `WebSocket` from the `ws` package in Node.
 *
 * @example
 * ```ts
 * import WebSocket from 'ws';
 * const client = new GoChatClient({ baseUrl: 'http://127.0.0.1:8080', WebSocket });
 * ```
 */
export type WebSocketFactory = new (url: string) => WebSocketLike;

/** A frame from the server; types this SDK does not know are passed through, never rejected. */
export interface IncomingFrame {
  type: string;
  data?: unknown;
}

export interface FrameSocketHandlers {
  onOpen(): void;
  onFrame(frame: IncomingFrame): void;
  /** Called exactly once; `opened` tells whether the connection was ever established. */
  onClose(code: number, reason: string, opened: boolean): void;
}

export interface FrameSocketOptions {
  pingIntervalMs: number;
  /** With no frame at all for this long after a ping, the connection is considered dead. */
  pongTimeoutMs: number;
}

const OPEN = 1;
/** The close code the SDK sends when it closes a socket itself; its own reason is reported locally. */
const NORMAL_CLOSURE = 1000;

/**
 * Owns one WebSocket. It reports its end exactly once, even when the network dies without a
 * close frame (the ping goes unanswered) or the client abandons it.
 *
 * @example
 * ```ts
 * const socket = new FrameSocket(new WebSocket(url), { onOpen, onFrame, onClose }, { pingIntervalMs: 30_000, pongTimeoutMs: 10_000 });
 * socket.send({ type: 'ping' });
 * ```
 */
export class FrameSocket {
  private opened = false;
  private ended = false;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private deadTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly ws: WebSocketLike,
    private readonly handlers: FrameSocketHandlers,
    private readonly options: FrameSocketOptions,
  ) {
    ws.onopen = () => {
      if (this.ended) return;
      this.opened = true;
      this.pingTimer = setInterval(() => this.ping(), options.pingIntervalMs);
      handlers.onOpen();
    };
    ws.onmessage = (event) => this.onMessage(event.data);
    ws.onclose = (event) => this.end(event.code, event.reason);
    // An error is always followed by a close; nothing to do here but keep it from being unhandled.
    ws.onerror = () => undefined;
  }

  get isOpen(): boolean {
    return this.opened && !this.ended && this.ws.readyState === OPEN;
  }

  /** Sends a frame; false when the socket is not open (the caller keeps it for later). */
  send(frame: ClientFrame): boolean {
    if (!this.isOpen) return false;
    try {
      this.ws.send(encodeClientFrame(frame));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Closes the socket and reports the end now, with `code` (one of {@link LOCAL_CLOSE_CODES}), without
   * waiting for the close handshake: a dead network would never finish it.
   */
  abandon(code: number, reason: string): void {
    if (this.ended) return;
    try {
      this.ws.close(NORMAL_CLOSURE, reason);
    } catch {
      // already closing
    }
    this.end(code, reason);
  }

  private onMessage(data: unknown): void {
    if (this.ended) return;
    // Any frame proves the connection alive, not only a pong.
    this.clearDeadTimer();
    let frame: unknown;
    try {
      frame = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      return;
    }
    if (frame && typeof frame === 'object' && typeof (frame as IncomingFrame).type === 'string') {
      this.handlers.onFrame(frame as IncomingFrame);
    }
  }

  private ping(): void {
    // A deadline already running is kept: it started at an earlier ping nothing has answered yet.
    if (!this.send({ type: 'ping' }) || this.deadTimer) return;
    this.deadTimer = setTimeout(() => {
      this.deadTimer = null;
      this.abandon(LOCAL_CLOSE_CODES.NO_PONG, 'no answer to ping');
    }, this.options.pongTimeoutMs);
  }

  private clearDeadTimer(): void {
    if (this.deadTimer) clearTimeout(this.deadTimer);
    this.deadTimer = null;
  }

  private end(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.clearDeadTimer();
    this.ws.onopen = this.ws.onmessage = this.ws.onclose = null;
    this.handlers.onClose(code, reason, this.opened);
  }
}
