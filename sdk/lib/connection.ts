/**
 * The WebSocket side of the client as one state machine: open, stay open (ping), and after every
 * end take exactly one next step — stop, fail, reconnect now, reconnect after the backoff delay,
 * or first ask whether the token is still good.
 */
import { LIMITS } from '../../src/protocol/index.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { LOCAL_CLOSE_CODES, nextStep } from './disconnect.js';
import { GoChatError } from './errors.js';
import { FrameSocket, type IncomingFrame, type WebSocketFactory, type WebSocketLike } from './socket.js';

/** `idle`: not connected and not trying; `connecting`: first attempt; `connected`; `reconnecting`: lost, retrying with backoff. */
export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting';

/**
 * Where a {@link Connection} is. Each phase owns at most one resource, so nothing can be left
 * behind when it changes: `stopped` nothing; `opening` and `open` a socket; `waiting` the reconnect
 * timer; `checking` a token check over HTTP.
 */
export type ConnectionPhase = 'stopped' | 'opening' | 'open' | 'waiting' | 'checking';

export interface ConnectionOptions {
  /** The URL to open, token included; throws a GoChatError when there is none (no token, no baseUrl). */
  url(): string;
  /** Default: `globalThis.WebSocket`. */
  WebSocket?: WebSocketFactory;
  reconnect?: BackoffOptions;
  /** Default 30 s. */
  pingIntervalMs?: number;
  /** Default 10 s. */
  pongTimeoutMs?: number;
  /** After an upgrade that failed before opening: resolves if the token is still good, rejects with its error if not. */
  checkToken(): Promise<void>;
}

export interface ConnectionHandlers {
  /** A socket opened; it stays {@link Connection.socket} until `onDown`. */
  onOpen(socket: FrameSocket): void;
  onFrame(frame: IncomingFrame): void;
  /** The current socket is gone, for whatever reason; called before the next step is taken. */
  onDown(socket: FrameSocket): void;
  onState(state: ConnectionState): void;
  /** Stopped for good: retrying cannot help (the token is refused, there is no WebSocket). */
  onFail(error: GoChatError): void;
}

const DEFAULT_PONG_TIMEOUT_MS = 10_000;

/**
 * One wanted connection, kept open until {@link stop}. Every end of a socket — the server's close,
 * a dead network, the SDK's own closes (`LOCAL_CLOSE_CODES`) — goes through one path that asks
 * {@link nextStep} what to do; every timer it starts belongs to the phase that started it.
 *
 * @example
 * ```ts
 * const connection = new Connection({ url: () => `${wsUrl}?token=${token}`, checkToken, reconnect: { minDelayMs: 500 } }, {
 *   onOpen: (socket) => socket.send({ type: 'ping' }),
 *   onFrame: (frame) => console.log(frame.type),
 *   onDown: () => undefined,
 *   onState: (state) => console.log(state),
 *   onFail: (err) => console.error(err.code),
 * });
 * connection.start();
 * ```
 */
export class Connection {
  private phaseValue: ConnectionPhase = 'stopped';
  private stateValue: ConnectionState = 'idle';
  private current: FrameSocket | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** The token check in flight; a check whose phase has passed finds another object here and does nothing. */
  private check: object | null = null;
  /** Some socket has opened since the last `forget()`: later attempts are reconnects. */
  private hasOpened = false;
  private readonly backoff: Backoff;

  constructor(
    private readonly options: ConnectionOptions,
    private readonly handlers: ConnectionHandlers,
  ) {
    this.backoff = new Backoff(options.reconnect);
  }

  get phase(): ConnectionPhase {
    return this.phaseValue;
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** Whether a connection is wanted: from `start()` until `stop()` or a failure. */
  get wanted(): boolean {
    return this.phaseValue !== 'stopped';
  }

  /** The socket being opened or open, if any. */
  get socket(): FrameSocket | null {
    return this.current;
  }

  start(): void {
    if (this.phaseValue === 'stopped') this.open();
  }

  /** Closes the socket and stops reconnecting. */
  stop(): void {
    this.end(LOCAL_CLOSE_CODES.DISCONNECT_CALLED, 'disconnect called');
  }

  /** Drops the socket (or the backoff wait) and connects again at once. No-op when stopped. */
  reconnectNow(): void {
    if (this.wanted) this.end(LOCAL_CLOSE_CODES.RECONNECT_CALLED, 'reconnect called');
  }

  /** Ends `socket` if it is still the current one, with a local code; the next step follows from the code. */
  drop(socket: FrameSocket, code: number, reason: string): void {
    if (socket === this.current) this.end(code, reason);
  }

  /** Logout: the next connection is a first one again, and starts from the shortest delay. */
  forget(): void {
    this.hasOpened = false;
    this.backoff.reset();
  }

  private end(code: number, reason: string): void {
    // The socket reports its end through `closed`, like any other end.
    if (this.current) this.current.abandon(code, reason);
    else this.closed(null, code, reason, false);
  }

  /** The one disconnect path: every end of a socket, and every stop or reconnect without one, comes here. */
  private closed(socket: FrameSocket | null, code: number, reason: string, opened: boolean): void {
    if (socket !== this.current) return; // a socket already replaced: whoever replaced it went on
    if (socket) {
      this.current = null;
      this.handlers.onDown(socket);
    }
    this.clearTimer();
    this.check = null;
    if (this.phaseValue === 'stopped') return;
    const step = nextStep(code, reason, opened);
    switch (step.kind) {
      case 'stop':
        this.enter('stopped');
        return;
      case 'fail':
        return this.fail(step.error);
      case 'reconnect-now':
        this.backoff.reset();
        return this.open();
      case 'reconnect-later':
        return this.waitToReconnect();
      case 'check-token':
        return this.checkToken();
    }
  }

  private open(): void {
    let url: string;
    try {
      url = this.options.url();
    } catch (err) {
      return this.fail(err instanceof GoChatError ? err : new GoChatError('NETWORK_ERROR', 'No WebSocket URL', { cause: err }));
    }
    const WebSocketImpl = this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketFactory }).WebSocket;
    if (!WebSocketImpl) return this.fail(new GoChatError('NETWORK_ERROR', 'No WebSocket implementation: pass options.WebSocket'));
    let ws: WebSocketLike;
    try {
      ws = new WebSocketImpl(url);
    } catch (err) {
      return this.fail(new GoChatError('NETWORK_ERROR', 'The WebSocket URL was refused', { cause: err }));
    }
    const socket: FrameSocket = new FrameSocket(
      ws,
      {
        onOpen: () => this.opened(socket),
        onFrame: (frame) => this.handlers.onFrame(frame),
        onClose: (code, reason, wasOpen) => this.closed(socket, code, reason, wasOpen),
      },
      {
        pingIntervalMs: this.options.pingIntervalMs ?? LIMITS.clientPingIntervalMs,
        pongTimeoutMs: this.options.pongTimeoutMs ?? DEFAULT_PONG_TIMEOUT_MS,
      },
    );
    this.current = socket;
    this.enter('opening');
  }

  private opened(socket: FrameSocket): void {
    if (socket !== this.current) return;
    this.hasOpened = true;
    // The delay is not reset here: a server that accepts sockets and then fails them (catch-up
    // refused, dropped at once) would be retried at the shortest delay forever. See `ready`.
    if (this.enter('open')) this.handlers.onOpen(socket);
  }

  /**
   * The client found `socket` fit for use (caught up): the next loss starts again from the
   * shortest delay.
   */
  ready(socket: FrameSocket): void {
    if (socket === this.current) this.backoff.reset();
  }

  private waitToReconnect(): void {
    if (!this.enter('waiting')) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.open();
    }, this.backoff.next());
  }

  private checkToken(): void {
    if (!this.enter('checking')) return;
    const check = {};
    this.check = check;
    this.options.checkToken().then(
      () => {
        if (this.check !== check) return;
        this.check = null;
        this.waitToReconnect();
      },
      (err: unknown) => {
        if (this.check !== check) return;
        this.check = null;
        if (err instanceof GoChatError && err.isAuthError) this.fail(err);
        else this.waitToReconnect();
      },
    );
  }

  private fail(error: GoChatError): void {
    this.clearTimer();
    this.check = null;
    this.enter('stopped');
    this.handlers.onFail(error);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * Moves to `phase` and reports the public state if it changed. Returns whether the phase still
   * holds afterwards: a state listener may have called stop() or reconnectNow() meanwhile.
   */
  private enter(phase: ConnectionPhase): boolean {
    this.phaseValue = phase;
    const state = publicState(phase, this.hasOpened);
    if (state !== this.stateValue) {
      this.stateValue = state;
      this.handlers.onState(state);
    }
    return this.phaseValue === phase;
  }
}

function publicState(phase: ConnectionPhase, hasOpened: boolean): ConnectionState {
  switch (phase) {
    case 'stopped':
      return 'idle';
    case 'opening':
      return hasOpened ? 'reconnecting' : 'connecting';
    case 'open':
      return 'connected';
    case 'waiting':
    case 'checking':
      return 'reconnecting';
  }
}
